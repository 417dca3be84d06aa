// Flame graph data: what the agent's /debug/pprof/ui serves to its page.
// From profiles in memory (the agent's live profiles), or from bytes
// (gzipped or raw profile.proto: stored captures), which are decoded and
// checked first; selects the sample type, and for a diff compares the two
// profiles as `inprof-view diff` does (CompareStacks).
//
// Thread safety: thread-safe (no shared state).
#ifndef INPROF_REPORT_FLAME_JSON_H_
#define INPROF_REPORT_FLAME_JSON_H_

#include <optional>
#include <string>
#include <string_view>

#include "agent/profile/profile.h"
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

// The same from profiles in memory; `request.profile` and `request.base`
// are ignored. `base` may be null (no diff).
[[nodiscard]] StatusOr<std::string> FlameJsonFromProfiles(
    const internal::Profile& next, const internal::Profile* base,
    const FlameJsonRequest& request);

// `bytes` decoded (gzipped or raw profile.proto) and checked; errors are
// kInvalidArgument starting with `what`.
[[nodiscard]] StatusOr<internal::Profile> DecodeChecked(std::string_view bytes,
                                                        std::string_view what);

}  // namespace inprof::report

#endif  // INPROF_REPORT_FLAME_JSON_H_
