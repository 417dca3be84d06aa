// What the process's allocator says about its memory: tcmalloc's numeric
// properties and report (through MallocExtension, found at run time), or
// glibc's mallinfo2() and malloc_info() when the process runs on glibc
// malloc. Served at /debug/allocator and exported in /metrics.
//
// Thread safety: thread-safe (each call asks the allocator afresh).
#ifndef INPROF_AGENT_HEAP_ALLOCATOR_STATS_H_
#define INPROF_AGENT_HEAP_ALLOCATOR_STATS_H_

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "agent/heap/tcmalloc_api.h"
#include "inprof/status.h"

namespace inprof::internal {

struct AllocatorStats {
  std::string allocator;  // "tcmalloc" or "glibc"
  std::string version;    // "gperftools 2.10", "glibc 2.36"
  // (name, bytes) in a fixed order; names are JSON keys and metric labels:
  // bytes_in_use (held by the application) and heap_size for both, then
  // the allocator's own breakdown.
  std::vector<std::pair<std::string, uint64_t>> values;

  uint64_t Get(const std::string& name) const;
};

// `tcmalloc`: the process's tcmalloc, or nullptr for glibc malloc.
AllocatorStats ReadAllocatorStats(const TcmallocApi* tcmalloc);

// {"allocator": ..., "version": ..., "<name>": <bytes>, ...}
std::string AllocatorStatsJson(const AllocatorStats& stats);

// The allocator's own human-readable report: tcmalloc's MallocExtension
// stats, or glibc's malloc_info() XML.
std::string AllocatorReport(const TcmallocApi* tcmalloc);

// Returns free memory to the operating system (tcmalloc:
// ReleaseFreeMemory; glibc: malloc_trim) and reports what changed, as one
// line of JSON: {"released_bytes": N, "before": {...}, "after": {...}} with
// the page-heap/unmapped (or free/releasable) figures.
std::string ReleaseFreeMemory(const TcmallocApi* tcmalloc);

}  // namespace inprof::internal

#endif  // INPROF_AGENT_HEAP_ALLOCATOR_STATS_H_
