// gperftools' legacy heap profile text (HEAPPROFILE dumps, "heap profile:
// ... @ heapprofile", and MallocExtension::GetHeapSample's "@ heap_v2/RATE"),
// read into a Profile as google/pprof reads it (profile/legacy_profile.go
// parseHeap): alloc_* and inuse_* sample types when the file has both, else
// objects/space; sampled files unbiased by 1/(1-exp(-size/rate)); every
// frame moved back one byte; the MAPPED_LIBRARIES section as mappings;
// allocator frames dropped (drop_frames). Addresses are named from the
// binaries on this machine when `symbolize` is set.
//
// Thread safety: thread-safe (no shared state).
#ifndef INPROF_VIEWER_LEGACY_HEAP_H_
#define INPROF_VIEWER_LEGACY_HEAP_H_

#include <string_view>

#include "agent/profile/profile.h"
#include "inprof/status.h"

namespace inprof::viewer {

// True if `bytes` starts with a heap profile header line.
bool IsLegacyHeapProfile(std::string_view bytes);

// Returns the profile, or kInvalidArgument naming the first bad line.
[[nodiscard]] StatusOr<internal::Profile> ParseLegacyHeapProfile(
    std::string_view bytes, bool symbolize);

}  // namespace inprof::viewer

#endif  // INPROF_VIEWER_LEGACY_HEAP_H_
