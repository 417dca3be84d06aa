// Query-parameter parsing for the /debug/pprof routes. Deliberately stricter
// than Go's net/http/pprof, which silently turns a bad CPU `seconds` into 30
// (pprof-spec.md §1.4): a typo should be an error the user sees, not a
// 30-second wait for the wrong profile.
#ifndef INPROF_AGENT_HTTP_PARAMS_H_
#define INPROF_AGENT_HTTP_PARAMS_H_

#include <httplib.h>

#include <cstdint>
#include <optional>
#include <string_view>

#include "inprof/status.h"

namespace inprof::internal {

// Returns the `seconds` query parameter of `req` (its first value, as Go's
// FormValue does), or `default_seconds` when the parameter is absent.
// Accepted: base-10 digits with an optional leading '-', value in
// [1, max_seconds]. Fails with kInvalidArgument and a one-line message naming
// the value: "seconds=abc: not an integer", "seconds=: not an integer",
// "seconds=0: must be between 1 and 300".
[[nodiscard]] StatusOr<int> ParseProfileSeconds(const httplib::Request& req,
                                                int default_seconds,
                                                int max_seconds);

// Same rules applied to a raw value (already URL-decoded). Exposed for tests.
[[nodiscard]] StatusOr<int> ParseSecondsValue(std::string_view value,
                                              int max_seconds);

// The `debug` query parameter as Go reads it: an integer, anything
// unparsable (or absent) is 0.
int ParseDebugValue(const httplib::Request& req);

// A count for rate settings (`name`=`value`): base-10 digits, 0..2^62.
// Fails with kInvalidArgument naming both ("bytes=abc: not a count (want
// digits)").
[[nodiscard]] StatusOr<int64_t> ParseCountParam(std::string_view name,
                                                std::string_view value);

// Parses one /debug/pprof/symbol token like Go's strconv.ParseUint(s, 0, 64):
// "0x"/"0X" hex, a leading "0" octal, else decimal; the whole token must be
// consumed and fit in 64 bits. Returns nullopt for anything else (Go then
// uses 0, which is skipped).
std::optional<uint64_t> ParseSymbolAddress(std::string_view token);

// Returns the raw (not URL-decoded) query string of `req`: the part of the
// request target after the first '?', or "" if there is none. cpp-httplib
// 0.11.4 keeps the undecoded request-target in Request::target.
std::string_view RawQuery(const httplib::Request& req);

}  // namespace inprof::internal

#endif  // INPROF_AGENT_HTTP_PARAMS_H_
