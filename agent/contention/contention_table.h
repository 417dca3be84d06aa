// ContentionTable holds one contention profile's data (block or mutex): one
// entry per distinct (stack, thread label set), with the unbiased number of
// events and their delay, summed since the profiler started. Cumulative and
// never reset while it runs, as scrapers require (pprof-spec.md §4.2).
//
// Memory is mapped once and entries are handed out in order, so only the
// pages in use become resident. The recording side runs inside lock and
// unlock of arbitrary host code (allocators lock too) and must neither
// allocate nor lock. When the table is full, events go to an overflow entry
// that the profile shows as its own frame: never silently dropped.
//
// Ownership: two process-lifetime tables (Block(), Mutex()), never unmapped.
// Thread safety: Record() and FindOrAdd() are lock-free and may run on any
// number of threads; ForEach() may run concurrently with them; Reset() only
// while nothing records.
#ifndef INPROF_AGENT_CONTENTION_CONTENTION_TABLE_H_
#define INPROF_AGENT_CONTENTION_CONTENTION_TABLE_H_

// SIGNAL CONTEXT. FindOrAdd and Record run inside lock slow paths; see
// agent/unwind/unwind.h for the rules.

#include <atomic>
#include <cstdint>
#include <span>

namespace inprof::internal {

// Frames kept per contention sample.
inline constexpr int kContentionMaxDepth = 64;

// Event counts are summed in fixed point: a sampled short block event stands
// for rate/delay events, rarely a whole number.
inline constexpr uint64_t kCountOne = 1024;

class ContentionTable {
 public:
  static constexpr uint32_t kCapacity = 1u << 13;  // entries
  static constexpr uint32_t kIndexSize = 1u << 14;
  static constexpr uint32_t kOverflowEntry = 0;

  struct Entry {
    std::atomic<uint64_t> count;  // unbiased events x kCountOne
    std::atomic<uint64_t> delay_nanos;
    std::atomic<uint64_t> samples;  // events actually recorded
    std::atomic<uint32_t> ready;    // set once the key below is written
    uint32_t depth;
    uint64_t hash;
    uint64_t label_set;
    uint64_t pcs[kContentionMaxDepth];
  };

  // The process's tables, mapped on first use; nullptr if mmap failed. Not
  // async-signal-safe the first time.
  static ContentionTable* Block();
  static ContentionTable* Mutex();

  // The entry for (pcs, label_set), created if new; the overflow entry when
  // the table is full.
  Entry& FindOrAdd(const uint64_t* pcs, int depth, uint64_t label_set) noexcept;

  static void Record(Entry& entry, uint64_t count, uint64_t delay) noexcept {
    entry.count.fetch_add(count, std::memory_order_relaxed);
    entry.delay_nanos.fetch_add(delay, std::memory_order_relaxed);
    entry.samples.fetch_add(1, std::memory_order_relaxed);
  }

  bool IsOverflow(const Entry& entry) const noexcept {
    return &entry == &entries_[kOverflowEntry];
  }

  struct View {
    std::span<const uint64_t> pcs;  // empty for the overflow entry
    uint64_t label_set = 0;
    uint64_t count = 0;  // x kCountOne
    uint64_t delay_nanos = 0;
    uint64_t samples = 0;
  };
  // Calls f(const View&) for every entry with events. Not
  // async-signal-safe; entries may be added meanwhile.
  template <typename F>
  void ForEach(F&& f) const;

  // Forgets everything. Only while nothing records.
  void Reset();

  uint64_t overflowed() const noexcept {
    return entries_[kOverflowEntry].samples.load(std::memory_order_relaxed);
  }

 private:
  static constexpr int kMaxProbe = 32;
  ContentionTable() = default;
  static ContentionTable* Map();

  Entry* entries_ = nullptr;
  std::atomic<uint32_t>* index_ = nullptr;  // entry number; 0 = empty
  std::atomic<uint32_t> next_{1};
};

// NOT SIGNAL CONTEXT BEGIN: readers build profiles on HTTP threads
template <typename F>
void ContentionTable::ForEach(F&& f) const {
  uint32_t used = next_.load(std::memory_order_acquire);
  if (used > kCapacity) used = kCapacity;
  for (uint32_t i = 0; i < used; ++i) {
    const Entry& entry = entries_[i];
    if (i != kOverflowEntry &&
        entry.ready.load(std::memory_order_acquire) == 0) {
      continue;
    }
    View view;
    view.samples = entry.samples.load(std::memory_order_relaxed);
    if (view.samples == 0) continue;
    view.count = entry.count.load(std::memory_order_relaxed);
    view.delay_nanos = entry.delay_nanos.load(std::memory_order_relaxed);
    view.label_set = entry.label_set;
    if (i != kOverflowEntry) {
      view.pcs = std::span<const uint64_t>(entry.pcs, entry.depth);
    }
    f(view);
  }
}
// NOT SIGNAL CONTEXT END

}  // namespace inprof::internal

#endif  // INPROF_AGENT_CONTENTION_CONTENTION_TABLE_H_
