// Flame graph data straight from profile bytes: what the agent's
// /debug/pprof/ui serves to its page. Decodes (gzipped or raw
// profile.proto), checks, selects the sample type, and for a diff compares
// the two profiles as `inprof-view diff` does (CompareStacks).
//
// Thread safety: thread-safe (no shared state).
#ifndef INPROF_REPORT_FLAME_JSON_H_
#define INPROF_REPORT_FLAME_JSON_H_

#include <optional>
#include <string>
#include <string_view>

#include "inprof/status.h"

namespace inprof::report {

struct FlameJsonRequest {
  std::string_view profile;              // the (new) profile's bytes
  std::optional<std::string_view> base;  // a base to diff against
  std::string sample_index;              // "" = the default type
  std::string title;
  std::string subtitle;  // "" = the totals (FlameSubtitle)
};

// Returns the JSON object the flame graph page reads (FlameTreeJson), with
// the profile's sample types and the selected one. Fails with
// kInvalidArgument naming the problem: undecodable bytes, an unknown sample
// type, profiles that cannot be compared.
[[nodiscard]] StatusOr<std::string> FlameJsonFromBytes(
    const FlameJsonRequest& request);

}  // namespace inprof::report

#endif  // INPROF_REPORT_FLAME_JSON_H_
