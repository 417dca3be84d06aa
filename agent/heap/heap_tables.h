// HeapTables holds what the heap sampler knows: distinct stacks, buckets
// keyed by (stack, allocation size, label set) with their sampled allocation
// and free counts, and the set of sampled blocks still live (address ->
// bucket), so that a free of a sampled block is charged back to its bucket.
//
// Everything lives in memory mapped once with mmap and never grows or moves:
// the allocation hooks that write here must not call malloc (they run inside
// it), must not lock (a signal handler on the same thread may allocate), and
// must never meet freed memory. The tables are insert-only (buckets, stacks)
// or use tombstones (live blocks); when one is full, new samples go to an
// overflow bucket that the profile shows as such, never silently dropped.
// Entries are stored densely (in insertion order, or a pool with a free list
// for live blocks) behind small hashed indexes of 4-byte slots, so that the
// resident part is what is in use, not the mapped capacity: a table hashing
// whole entries touches a page per entry and ends up resident in full.
//
// Ownership: process-lifetime singleton (Get()); never unmapped.
// Thread safety: the hook side (FindOrAddBucket, RecordAlloc, AddLive,
// MaybeLive, RecordFree) is lock-free and async-signal-safe; ForEachBucket
// may run concurrently with it; Reset() only while no hook is installed.
#ifndef INPROF_AGENT_HEAP_HEAP_TABLES_H_
#define INPROF_AGENT_HEAP_HEAP_TABLES_H_

// SIGNAL CONTEXT. The hook-side methods run inside malloc and free; see
// agent/unwind/unwind.h for the rules.

#include <algorithm>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <span>

namespace inprof::internal {

// Frames kept per heap sample (Go keeps 32; deep C++ stacks want more).
inline constexpr int kHeapMaxDepth = 64;

// Sample weights (1 / probability of sampling) are summed in fixed point.
inline constexpr uint64_t kWeightOne = 16;

// The first test every free makes: one bit per hashed 64-byte granule, set
// while a live sampled block starts in a granule of that slot. Static (no
// pointer to follow) and 8 KiB (it stays in the L1 cache), so a free
// anywhere else costs one load; HeapTables keeps it with AddLive, FreeIfLive
// and Reset. All zero while no sampler has sampled.
//
// Why granules, not pages: a free lands on a marked slot when its block
// starts near a live sampled one. With 4 KiB pages that was every block on
// the same page, a hundred small ones, and the looked-up frees cost 0.3 % of
// the CPU on the mixed benchmark (BENCHMARKS.md, "Heap sampling against a
// build without inprof"); a granule holds two block starts at most on glibc
// (32-byte minimum chunks), eight on tcmalloc's smallest class. A heap
// larger than the map's span (4 MiB) folds onto it either way: then a free
// is looked up with the chance (live sampled blocks) / 65,536.
inline constexpr uint32_t kSampledGranuleShift = 6;
inline constexpr uint32_t kSampledGranuleSlots = 1u << 16;
extern std::atomic<uint64_t> g_sampled_granules[kSampledGranuleSlots / 64];

// The granule number's low bits: a heap is contiguous, so nearby blocks
// take different slots, and no multiply is on the free path. A 4 KiB
// page's 64 granules share one word of the map, so frees stay as local in
// the map as they are in the heap.
inline uint32_t SampledGranuleSlot(const void* ptr) noexcept {
  return static_cast<uint32_t>(reinterpret_cast<uint64_t>(ptr) >>
                               kSampledGranuleShift) &
         (kSampledGranuleSlots - 1);
}

// False means `ptr` is certainly not a live sampled block.
inline bool InSampledGranule(const void* ptr) noexcept {
  const uint32_t slot = SampledGranuleSlot(ptr);
  return (g_sampled_granules[slot / 64].load(std::memory_order_relaxed) >>
          (slot % 64)) &
         1;
}

struct HeapBucketCounts {
  uint64_t allocs = 0;              // sampled allocations, raw
  uint64_t frees = 0;               // sampled allocations freed since, raw
  uint64_t alloc_weight = 0;        // unbiased allocations x kWeightOne
  uint64_t free_weight = 0;         // unbiased frees x kWeightOne
  uint64_t alloc_bytes_weight = 0;  // unbiased bytes x kWeightOne
  uint64_t free_bytes_weight = 0;
  uint64_t alloc_bytes_raw = 0;  // sampled bytes, raw
  uint64_t free_bytes_raw = 0;
};

class HeapTables {
 public:
  static constexpr uint32_t kStackCapacity = 1u << 15;
  static constexpr uint32_t kBucketCapacity = 1u << 16;
  static constexpr uint32_t kLiveCapacity = 1u << 17;
  static constexpr uint64_t kArenaWords = 1u << 19;  // 4 MiB of pcs
  // The bucket that collects samples once a table is full.
  static constexpr uint32_t kOverflowBucket = 0;

  // The process's tables, mapped on first use; nullptr if mmap failed.
  // Not async-signal-safe the first time.
  static HeapTables* Get();

  // The bucket for (stack, size, label set), created if new. Returns
  // kOverflowBucket when the stack or bucket table is full.
  uint32_t FindOrAddBucket(const uint64_t* pcs, int depth, uint64_t size,
                           uint64_t label_set) noexcept;
  void RecordAlloc(uint32_t bucket, uint32_t weight, uint64_t size) noexcept;
  // Remembers a sampled live block. False when the live table is full (the
  // caller then charges the free at once rather than leak it forever).
  bool AddLive(const void* ptr, uint32_t bucket, uint32_t weight,
               uint64_t size) noexcept;
  void RecordFree(uint32_t bucket, uint32_t weight, uint64_t size) noexcept;

  // A cheap filter: false means `ptr` is certainly not a sampled block.
  bool MaybeLive(const void* ptr) const noexcept {
    return filter_[FilterIndex(ptr)].load(std::memory_order_relaxed) != 0;
  }
  // Charges the free of `ptr` to its bucket if it is a sampled live block.
  void FreeIfLive(const void* ptr) noexcept;

  struct BucketView {
    std::span<const uint64_t> pcs;  // empty for the overflow bucket
    uint64_t size = 0;
    uint64_t label_set = 0;
    HeapBucketCounts counts;
  };
  // Calls f(const BucketView&) for every bucket with samples. Not
  // async-signal-safe; concurrent hooks may add buckets meanwhile.
  template <typename F>
  void ForEachBucket(F&& f) const;

  // Forgets everything. Only while no hook is installed or running.
  void Reset();

  // Makes the hashed indexes (1.2 MiB) resident now, for a sampler about to
  // sample: probed in random order, each of their pages would otherwise
  // fault twice inside a hook, the second time with a TLB-flush interrupt
  // to every CPU (0.1 % of the CPU over the mixed benchmark's first
  // seconds). A process that samples for long touches them all anyway. Not
  // async-signal-safe.
  void PopulateIndexes();

  // Leaves the granule slot of `ptr` as a free that stopped halfway through
  // clearing its bit would (in a forked child, that free's thread does not
  // exist). For tests of MarkGranule's bounded wait.
  void StallGranuleClearForTest(const void* ptr) noexcept;

  uint64_t live_blocks() const noexcept {
    return live_count_.load(std::memory_order_relaxed);
  }
  uint64_t overflowed() const noexcept {
    return overflowed_.load(std::memory_order_relaxed);
  }

 private:
  static constexpr uint32_t kFilterCells = 1u << 16;
  static constexpr int kMaxProbe = 64;

  struct Stack {  // published by its index slot, complete when found
    uint32_t depth;
    uint64_t hash;
    uint64_t offset;  // into arena_
  };
  struct Bucket {
    std::atomic<uint32_t> state;
    uint32_t stack;  // index into stacks_
    uint64_t size;
    uint64_t label_set;
    uint64_t hash;
    std::atomic<uint64_t> allocs;
    std::atomic<uint64_t> frees;
    std::atomic<uint64_t> alloc_weight;
    std::atomic<uint64_t> free_weight;
  };
  // A sampled live block, in a pool of entries handed out densely and
  // recycled through a lock-free free list (next_free: the next free
  // entry's id + 1), found through live_index_.
  struct Live {
    std::atomic<uint64_t> address;
    std::atomic<uint32_t> bucket;
    std::atomic<uint32_t> weight;
    std::atomic<uint64_t> size;
    std::atomic<uint32_t> next_free;
  };
  // Live blocks at once, at most: the index is kept half empty.
  static constexpr uint32_t kLivePoolCapacity = kLiveCapacity / 2;

  HeapTables() = default;
  void MarkGranule(const void* ptr) noexcept;
  void UnmarkGranule(const void* ptr) noexcept;
  static size_t FilterIndex(const void* ptr) noexcept {
    uint64_t h = (reinterpret_cast<uint64_t>(ptr) >> 4) * 0x9E3779B97F4A7C15u;
    return static_cast<size_t>(h >> 48);
  }
  static uint64_t LiveHash(uint64_t address) noexcept {
    return (address >> 4) * 0xC2B2AE3D27D4EB4Fu;
  }
  int64_t FindOrAddStack(const uint64_t* pcs, int depth) noexcept;
  // A free entry of the live pool (its id), or -1 when it is exhausted.
  int64_t TakeLiveEntry() noexcept;
  void GiveBackLiveEntry(uint32_t id) noexcept;
  HeapBucketCounts Counts(const Bucket& bucket) const noexcept;

  // Stacks and buckets are stored densely, in insertion order, and found
  // through small hashed indexes (heap_tables.cc, FindOrAddDense): only
  // what is in use is resident.
  Stack* stacks_ = nullptr;
  std::atomic<uint32_t>* stack_index_ = nullptr;
  std::atomic<uint32_t> stacks_used_{0};
  Bucket* buckets_ = nullptr;
  std::atomic<uint32_t>* bucket_index_ = nullptr;
  std::atomic<uint32_t> buckets_used_{kOverflowBucket + 1};
  // Sampled live blocks: entries in live_ (a pool, dense), found by address
  // through live_index_ (open addressing; slots hold kLiveSlot* or an
  // entry's id + kLiveSlotIds).
  Live* live_ = nullptr;
  std::atomic<uint32_t>* live_index_ = nullptr;
  std::atomic<uint32_t> live_used_{0};
  // The free list's head: (a tag, bumped by every change, against ABA) << 32
  // | (first free entry's id + 1), 0 when empty.
  std::atomic<uint64_t> live_free_{0};
  std::atomic<uint8_t>* filter_ = nullptr;
  // Live sampled blocks per g_sampled_granules slot.
  std::atomic<uint32_t>* granule_counts_ = nullptr;
  uint64_t* arena_ = nullptr;
  std::atomic<uint64_t> arena_used_{0};
  std::atomic<uint64_t> live_count_{0};
  std::atomic<uint64_t> overflowed_{0};
  // The overflow bucket mixes sizes, so it sums bytes itself.
  std::atomic<uint64_t> overflow_alloc_bytes_weight_{0};
  std::atomic<uint64_t> overflow_free_bytes_weight_{0};
  std::atomic<uint64_t> overflow_alloc_bytes_raw_{0};
  std::atomic<uint64_t> overflow_free_bytes_raw_{0};
  // Longest probe an insertion needed: lookups stop there.
  std::atomic<uint32_t> live_max_probe_{0};
};

// NOT SIGNAL CONTEXT BEGIN: readers build profiles on HTTP threads
template <typename F>
void HeapTables::ForEachBucket(F&& f) const {
  const uint32_t used =
      std::min(buckets_used_.load(std::memory_order_acquire), kBucketCapacity);
  for (uint32_t i = 0; i < used; ++i) {
    const Bucket& bucket = buckets_[i];
    if (i != kOverflowBucket &&
        bucket.state.load(std::memory_order_acquire) != 2) {
      continue;
    }
    BucketView view;
    view.counts = Counts(bucket);
    if (view.counts.allocs == 0) continue;
    if (i != kOverflowBucket) {
      const Stack& stack = stacks_[bucket.stack];
      view.pcs = std::span<const uint64_t>(arena_ + stack.offset, stack.depth);
      view.size = bucket.size;
      view.label_set = bucket.label_set;
    }
    f(view);
  }
}
// NOT SIGNAL CONTEXT END

}  // namespace inprof::internal

#endif  // INPROF_AGENT_HEAP_HEAP_TABLES_H_
