// Decodes profile.proto bytes (gzip-compressed or raw, sniffed by the gzip
// magic 1f 8b) into an in-memory Profile, as google/pprof's profile.Parse
// does: packed and unpacked repeated scalars are both accepted, unknown
// fields are skipped, string indexes are resolved. Every read is
// bounds-checked: garbage input gives a one-line kInvalidArgument error
// ("truncated varint at offset 17", "Function.name: string index 7 out of
// range (table has 5) at offset 40", "concatenated profiles detected ..."),
// never a crash. Offsets count bytes in the decompressed protobuf.
//
// Decoding does not check references between messages; CheckValid
// (check_valid.h) does.
//
// Thread safety: thread-safe (no shared state). Not async-signal-safe.
#ifndef INPROF_AGENT_PROFILE_DECODE_H_
#define INPROF_AGENT_PROFILE_DECODE_H_

#include <string>
#include <string_view>
#include <vector>

#include "agent/profile/profile.h"
#include "inprof/status.h"

namespace inprof::internal {

// A decoded profile with the string table exactly as it was on the wire,
// for checks on the encoding itself (ValidateEncoded).
struct DecodedProfile {
  Profile profile;
  std::vector<std::string> string_table;
};

// Returns the profile encoded in `data`, or kInvalidArgument naming the
// first problem (with its byte offset where there is one).
[[nodiscard]] StatusOr<Profile> DecodeProfile(std::string_view data);

// As DecodeProfile, and also returns the raw string table.
[[nodiscard]] StatusOr<DecodedProfile> DecodeProfileWithStringTable(
    std::string_view data);

}  // namespace inprof::internal

#endif  // INPROF_AGENT_PROFILE_DECODE_H_
