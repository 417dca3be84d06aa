// Validity checks for profiles: what every consumer of our output requires
// (pprof-spec.md §2.3), so that tests can prove an emitted profile is
// accepted by google/pprof, Parca and Pyroscope alike.
//
// Example (what every test runs on the agent's output):
//
//   EXPECT_TRUE(ValidateEncoded(body).ok());
//
// Thread safety: thread-safe (no shared state). Not async-signal-safe.
#ifndef INPROF_AGENT_PROFILE_CHECK_VALID_H_
#define INPROF_AGENT_PROFILE_CHECK_VALID_H_

#include <string_view>

#include "agent/profile/profile.h"
#include "inprof/status.h"

namespace inprof::internal {

// Checks, in this order, and returns kInvalidArgument naming the first
// violation with the offending index or id:
//   - there is a sample_type if there are samples (google/pprof);
//   - no sample_type's type contains '-' (Pyroscope);
//   - mapping, location and function ids are exactly 1..N in array order
//     (Parca; implies google/pprof's nonzero and unique);
//   - every location's nonzero mapping_id names a mapping (google/pprof);
//   - every line's function_id is nonzero and names a function (pprof);
//   - every sample has one value per sample_type (all consumers);
//   - every sample location id is nonzero and names a location (Parca);
//   - every label key is non-empty (Parca).
[[nodiscard]] Status CheckValid(const Profile& profile);

// Checks that `bytes` is what the agent must serve: gzip-compressed (raw
// protobuf is an error here), decodable, with string_table[0] == "" and
// every string valid UTF-8, time_nanos set, and CheckValid passing. Returns
// kInvalidArgument naming the first problem.
[[nodiscard]] Status ValidateEncoded(std::string_view bytes);

}  // namespace inprof::internal

#endif  // INPROF_AGENT_PROFILE_CHECK_VALID_H_
