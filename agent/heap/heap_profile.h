// Heap profiles as Go writes them (pprof-spec.md §2.9, §2.10): a snapshot of
// the heap sampler's buckets, turned into a profile.proto with the four
// sample types alloc_objects/count, alloc_space/bytes, inuse_objects/count,
// inuse_space/bytes, one sample per (stack, allocation size, label set) with
// the numeric label `bytes` after the label set's string labels, cumulative
// since the sampler started; or the difference of two snapshots (`?seconds=N`);
// or Go's legacy text form (`?debug=1`).
//
// Thread safety: snapshots are values; the builders are thread-compatible
// (the caller serializes use of the Symbolizer).
#ifndef INPROF_AGENT_HEAP_HEAP_PROFILE_H_
#define INPROF_AGENT_HEAP_HEAP_PROFILE_H_

#include <cstdint>
#include <string>
#include <vector>

#include "agent/heap/heap_tables.h"
#include "agent/profile/profile.h"

namespace inprof::internal {

class Symbolizer;

// One bucket, values unbiased and in kWeightOne units except the raw ones.
// Differences (delta profiles) may make in-use values negative.
struct HeapRecord {
  std::vector<uint64_t> pcs;  // return addresses; empty: the overflow bucket
  uint64_t size = 0;
  uint64_t label_set = 0;  // the allocating thread's (thread_labels.h)
  int64_t alloc_weight = 0;
  int64_t free_weight = 0;
  int64_t alloc_bytes_weight = 0;
  int64_t free_bytes_weight = 0;
  int64_t allocs_raw = 0;
  int64_t frees_raw = 0;
  int64_t alloc_bytes_raw = 0;
  int64_t free_bytes_raw = 0;
};

struct HeapSnapshot {
  std::vector<HeapRecord> records;  // sorted by (pcs, size, label_set)
  int64_t rate = 0;                 // the sampling rate when taken
  int64_t unix_nanos = 0;           // when taken
};

HeapSnapshot TakeHeapSnapshot(const HeapTables& tables, int64_t rate);

// later - earlier, record by record; records equal in both are dropped.
HeapSnapshot SubtractHeapSnapshots(const HeapSnapshot& later,
                                   const HeapSnapshot& earlier);

enum class HeapProfileKind {
  kHeap,    // default sample type inuse_space (the last one)
  kAllocs,  // default sample type alloc_space
};

// The frame under which samples that found the tables full are reported.
inline constexpr char kHeapOverflowFrame[] = "inprof.HeapProfileTableFull";

// Builds the profile. duration_nanos: 0 for a cumulative profile, the gap
// between the snapshots for a delta. Leading allocator frames (malloc,
// operator new, tcmalloc) are pruned as Go prunes runtime.* frames.
Profile BuildHeapProfile(const HeapSnapshot& snapshot, HeapProfileKind kind,
                         int64_t duration_nanos,
                         const std::vector<std::string>& comments,
                         Symbolizer* symbolizer);

// Go's legacy text heap profile (debug=1), with raw sampled counts, records
// sorted by in-use bytes, largest first, as Go sorts them.
std::string HeapProfileText(const HeapSnapshot& snapshot,
                            Symbolizer* symbolizer);

}  // namespace inprof::internal

#endif  // INPROF_AGENT_HEAP_HEAP_PROFILE_H_
