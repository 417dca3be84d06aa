// A deterministic, line-oriented text dump of every field of a Profile, for
// test diffs, golden files and debugging. Two profiles are equal exactly
// when their dumps are equal. Strings are printed C-escaped in quotes.
//
// Example output (abridged):
//
//   sample_type: "samples" "count"
//   sample: locations=[1 2] values=[10] labels={"route":"/a"}
//   location 1: mapping=1 address=0x401000 lines=[1:12:0]
//
// Thread safety: thread-safe (no shared state). Not async-signal-safe.
#ifndef INPROF_AGENT_PROFILE_DEBUG_STRING_H_
#define INPROF_AGENT_PROFILE_DEBUG_STRING_H_

#include <string>

#include "agent/profile/profile.h"

namespace inprof::internal {

// Returns the dump of `profile`, one element per line, in array order.
std::string ProfileDebugString(const Profile& profile);

}  // namespace inprof::internal

#endif  // INPROF_AGENT_PROFILE_DEBUG_STRING_H_
