// The /debug/pprof/* routes, compatible with Go's net/http/pprof
// (pprof-spec.md §1): the index, CPU `profile`, `cmdline`, `symbol`, plus a
// 404 for `trace` and unknown names. Handlers only parse, call the
// PprofBackend and write the answer.
//
// Example:
//
//   PprofBackend backend;
//   backend.cpu_profile = ...;
//   InstallPprofHandlers(server, std::move(backend), PprofOptions{});
//
#ifndef INPROF_AGENT_HTTP_PPROF_HANDLERS_H_
#define INPROF_AGENT_HTTP_PPROF_HANDLERS_H_

#include <httplib.h>

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>

#include "agent/capture/capture_store.h"
#include "agent/http/pprof_backend.h"
#include "agent/http/request_stats.h"
#include "inprof/status.h"

namespace inprof::internal {

struct PprofOptions {
  // `seconds` for /debug/pprof/profile when the parameter is absent (Go: 30).
  int default_profile_seconds = 30;
  // Largest accepted `seconds`; larger values get a 400. This bound plays the
  // role of Go's "seconds >= WriteTimeout → 400" rule: our server's socket
  // timeouts apply per read/write call, not to the whole response, so they
  // never cut a long profile (agent/http/server.h).
  int max_profile_seconds = 300;
  // CPU profile requests served at once; one more gets a 503. Keeps HTTP
  // worker threads free for other endpoints (the pool has
  // HttpServerOptions::threads workers); must be below that.
  int max_concurrent_profiles = 4;
  // Returns true once the server is stopping, so that long requests end
  // early and Stop() does not wait for them. May be empty.
  std::function<bool()> stopping;
  // Counts every request served, by route and status; may be null. Must
  // outlive the server.
  RequestStats* request_stats = nullptr;
  // Where the UI page's Capture button keeps profiles: the agent's store,
  // which later capture sources (slow requests) share. Required; must
  // outlive the server.
  CaptureStore* captures = nullptr;
};

// Installs the routes on `server`, which must not be listening yet, plus an
// exception handler (anything thrown by a handler or backend → 500 with one
// line) and an error handler (any empty-bodied error, e.g. httplib's own 404
// for other paths, gets the same one-line text/plain shape).
void InstallPprofHandlers(httplib::Server& server, PprofBackend backend,
                          PprofOptions options);

// Returns argv as Go's /debug/pprof/cmdline serves it: the arguments from
// /proc/self/cmdline joined by NUL, without a trailing NUL. Fails with
// kInternal naming the errno if the file cannot be read.
[[nodiscard]] StatusOr<std::string> ReadSelfCmdline();

// Returns the /debug/pprof/symbol answer for `input` (the raw query or the
// POST body): "num_symbols: 1\n", then "0x<hex> <name>\n" for each '+'-
// separated token that parses (ParseSymbolAddress) to a nonzero address with
// a known name. Unparsable tokens and unknown addresses produce no line.
std::string AnswerSymbolRequest(
    std::string_view input,
    const std::function<std::string(uint64_t)>& symbol_name);

}  // namespace inprof::internal

#endif  // INPROF_AGENT_HTTP_PPROF_HANDLERS_H_
