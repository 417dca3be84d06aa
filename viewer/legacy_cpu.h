// gperftools' legacy CPU profile (the binary file ProfilerStart and
// CPUPROFILE write: machine words of the writer's size and byte order, a
// header, sample records, an end marker, then the process's memory map), read
// into a Profile exactly as google/pprof reads it (profile/legacy_profile.go
// parseCPU): sample types samples/count and cpu/nanoseconds, every frame but
// the leaf moved back one byte onto its call instruction, pprof's removal of
// signal-handler frames most samples share, and a duplicated leaf dropped.
// Addresses are then named from the binaries on this machine when
// `symbolize` is set and the files are there.
//
// Thread safety: thread-safe (no shared state).
#ifndef INPROF_VIEWER_LEGACY_CPU_H_
#define INPROF_VIEWER_LEGACY_CPU_H_

#include <string_view>

#include "agent/profile/profile.h"
#include "inprof/status.h"

namespace inprof::viewer {

// True if `bytes` starts with a legacy CPU profile header in any word size
// and byte order.
bool IsLegacyCpuProfile(std::string_view bytes);

// Returns the profile, or kInvalidArgument naming the problem (a record
// running past the end of the file, ...).
[[nodiscard]] StatusOr<internal::Profile> ParseLegacyCpuProfile(
    std::string_view bytes, bool symbolize);

}  // namespace inprof::viewer

#endif  // INPROF_VIEWER_LEGACY_CPU_H_
