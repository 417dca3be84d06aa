// Loading a profile from wherever the user names it: a file or an http://
// URL; gzipped or raw profile.proto (this agent's, Go runtime/pprof's),
// gperftools' legacy binary CPU profile or text heap profile. Every failure
// is one line that says what is wrong with the input; nothing crashes, hangs
// or allocates without bound on hostile input (the decoder is fuzzed).
//
// Example:
//
//   StatusOr<LoadedProfile> p = LoadProfile("cpu.pb.gz", {});
//   if (!p.ok()) { fprintf(stderr, "%s\n", p.status().message().c_str()); }
//
// Thread safety: thread-safe (no shared state).
#ifndef INPROF_VIEWER_SOURCE_H_
#define INPROF_VIEWER_SOURCE_H_

#include <string>
#include <string_view>

#include "agent/profile/profile.h"
#include "inprof/status.h"
#include "viewer/fetch.h"

namespace inprof::viewer {

struct LoadedProfile {
  internal::Profile profile;
  std::string format;  // "profile.proto", "gperftools CPU profile", ...
};

struct LoadOptions {
  FetchOptions fetch;     // for URLs
  bool symbolize = true;  // legacy profiles: name addresses from the binaries
};

// Reads and parses `source` (a path, or a URL when LooksLikeUrl and no such
// file exists). Fails with the reason, without the source's name (callers
// prefix it): kNotFound for a missing file, kUnavailable for an unreachable
// URL, kInvalidArgument for anything that is not a readable profile.
[[nodiscard]] StatusOr<LoadedProfile> LoadProfile(std::string_view source,
                                                  const LoadOptions& options);

// Parses profile bytes in any supported format, sniffed from the content,
// renumbers its ids to 1..N (RenumberIds: any unique nonzero ids are read,
// as go tool pprof reads them) and checks the result (internal::CheckValid,
// at least one sample type).
// Fails with kInvalidArgument naming the problem.
[[nodiscard]] StatusOr<LoadedProfile> ParseProfileBytes(
    std::string_view bytes, const LoadOptions& options);

}  // namespace inprof::viewer

#endif  // INPROF_VIEWER_SOURCE_H_
