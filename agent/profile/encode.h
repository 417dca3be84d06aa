// Encodes an in-memory Profile as profile.proto bytes, the way Go's
// runtime/pprof does (pprof-spec.md §2.2): strings interned into one
// deduplicated table whose entry 0 is "", zero-valued scalars omitted,
// repeated scalars packed beyond two values, the string table last.
//
// The encoder writes what it is given: it does not renumber ids or check
// references. Run CheckValid (check_valid.h) on profiles built from
// untrusted parts.
//
// Example:
//
//   std::string body = SerializeProfile(profile);  // HTTP response body
//
// Thread safety: thread-safe (no shared state). Not async-signal-safe.
#ifndef INPROF_AGENT_PROFILE_ENCODE_H_
#define INPROF_AGENT_PROFILE_ENCODE_H_

#include <string>

#include "agent/profile/profile.h"

namespace inprof::internal {

// Returns `profile` as raw (uncompressed) profile.proto bytes. Output is
// deterministic: the same profile always encodes to the same bytes.
std::string EncodeProfile(const Profile& profile);

// Returns gzip(EncodeProfile(profile)) at Go's level (BestSpeed): what
// /debug/pprof/* serves and `go tool pprof` reads.
std::string SerializeProfile(const Profile& profile);

}  // namespace inprof::internal

#endif  // INPROF_AGENT_PROFILE_ENCODE_H_
