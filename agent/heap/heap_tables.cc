#include "agent/heap/heap_tables.h"

// SIGNAL CONTEXT. Everything but Get(), Reset() and the readers runs inside
// malloc and free hooks: no allocation, no locks, no stdio. See
// agent/unwind/unwind.h for the rules. One bounded wait: a sample that marks
// a granule while another thread's free clears that granule's bit waits for
// the few atomic operations that free has left (MarkGranule; never on its
// own thread), at most 64 spins and 32 yields of the CPU, and then does
// the clearer's remaining work itself.

#include <sched.h>

#include <cstring>
#include <new>

#include "agent/base/mapped_array.h"

namespace inprof::internal {
namespace {

// Entry states of the insert-only tables.
constexpr uint32_t kReady = 2;

// Values of a slot of a dense table's index (FindOrAddDense): an entry's id
// + 1 once it is filled.
constexpr uint32_t kSlotEmpty = 0;
constexpr uint32_t kSlotFilling = UINT32_MAX;
constexpr int kMaxDenseProbe = 64;

// The id of the entry that `matches(id)` accepts among those whose hash is
// `hash`, else of a new one `fill(id)` writes (false: it could not, e.g.
// the pcs arena is full), or -1 when the index or the entries are full.
// Entries are stored densely, ids handed out in insertion order by `used`,
// and found through a hashed index of 4-byte slots: only the pages of
// entries in use and of the small index are ever resident (a hashed table
// of whole entries touches a page per entry, and ends up resident in full).
// Lock-free; an entry being added is skipped by others, never waited for:
// at worst a key gets two entries, which readers merge.
template <typename Matches, typename Fill>
int64_t FindOrAddDense(std::atomic<uint32_t>* index, uint32_t slots,
                       std::atomic<uint32_t>& used, uint32_t capacity,
                       uint64_t hash, Matches matches, Fill fill) noexcept {
  for (int probe = 0; probe < kMaxDenseProbe; ++probe) {
    std::atomic<uint32_t>& slot = index[(hash + probe) & (slots - 1)];
    uint32_t value = slot.load(std::memory_order_acquire);
    if (value == kSlotFilling) continue;
    if (value != kSlotEmpty) {
      if (matches(value - 1)) return value - 1;
      continue;
    }
    // Full: no id is taken, so `used` never runs past capacity by more
    // than the threads racing here.
    if (used.load(std::memory_order_relaxed) >= capacity) return -1;
    if (!slot.compare_exchange_strong(value, kSlotFilling,
                                      std::memory_order_acquire)) {
      continue;
    }
    const uint32_t id = used.fetch_add(1, std::memory_order_relaxed);
    if (id >= capacity || !fill(id)) {
      slot.store(kSlotEmpty, std::memory_order_release);
      return -1;
    }
    slot.store(id + 1, std::memory_order_release);
    return id;
  }
  return -1;
}

// Live-index slots that hold no entry; others hold an entry's id +
// kLiveSlotIds.
constexpr uint32_t kLiveSlotEmpty = 0;
constexpr uint32_t kLiveSlotTombstone = 1;
constexpr uint32_t kLiveSlotClaimed = 2;  // being filled by an inserter
constexpr uint32_t kLiveSlotIds = 3;

uint64_t HashStack(const uint64_t* pcs, int depth) noexcept {
  uint64_t h = 0xcbf29ce484222325u;
  for (int i = 0; i < depth; ++i) {
    h ^= pcs[i];
    h *= 0x100000001b3u;
    h ^= h >> 29;
  }
  return h;
}

uint64_t HashBucket(uint32_t stack, uint64_t size,
                    uint64_t label_set) noexcept {
  uint64_t h = (uint64_t{stack} << 40) ^ size ^ (label_set << 20);
  h *= 0x9E3779B97F4A7C15u;
  return h ^ (h >> 31);
}

// Never below zero: with the malloc shim, a free may still be inside these
// tables while Reset() clears them for a new sampler.
template <typename T>
void DecrementIfPositive(std::atomic<T>& counter) noexcept {
  T value = counter.load(std::memory_order_relaxed);
  while (value > 0 && !counter.compare_exchange_weak(
                          value, value - 1, std::memory_order_relaxed)) {
  }
}

}  // namespace

std::atomic<uint64_t> g_sampled_granules[kSampledGranuleSlots / 64] = {};

// NOT SIGNAL CONTEXT BEGIN: construction and reset, outside any hook
HeapTables* HeapTables::Get() {
  static HeapTables* tables = []() -> HeapTables* {
    auto* t = new (std::nothrow) HeapTables();
    if (t == nullptr) return nullptr;
    t->stacks_ = MapArray<Stack>(kStackCapacity);
    t->stack_index_ = MapArray<std::atomic<uint32_t>>(kStackCapacity);
    t->buckets_ = MapArray<Bucket>(kBucketCapacity);
    t->bucket_index_ = MapArray<std::atomic<uint32_t>>(kBucketCapacity);
    t->live_ = MapArray<Live>(kLivePoolCapacity);
    t->live_index_ = MapArray<std::atomic<uint32_t>>(kLiveCapacity);
    t->filter_ = MapArray<std::atomic<uint8_t>>(kFilterCells);
    t->granule_counts_ = MapArray<std::atomic<uint32_t>>(kSampledGranuleSlots);
    t->arena_ = MapArray<uint64_t>(kArenaWords);
    if (t->stacks_ == nullptr || t->stack_index_ == nullptr ||
        t->buckets_ == nullptr || t->bucket_index_ == nullptr ||
        t->live_ == nullptr || t->live_index_ == nullptr ||
        t->filter_ == nullptr || t->granule_counts_ == nullptr ||
        t->arena_ == nullptr) {
      return nullptr;  // leaks what was mapped: this process is out of memory
    }
    return t;
  }();
  return tables;
}

void HeapTables::Reset() {
  ZeroArray(stacks_, kStackCapacity);
  ZeroArray(stack_index_, kStackCapacity);
  stacks_used_.store(0);
  ZeroArray(buckets_, kBucketCapacity);
  ZeroArray(bucket_index_, kBucketCapacity);
  buckets_used_.store(kOverflowBucket + 1);
  ZeroArray(live_, kLivePoolCapacity);
  ZeroArray(live_index_, kLiveCapacity);
  live_used_.store(0);
  live_free_.store(0);
  ZeroArray(filter_, kFilterCells);
  ZeroArray(granule_counts_, kSampledGranuleSlots);
  for (std::atomic<uint64_t>& word : g_sampled_granules) word.store(0);
  ZeroArray(arena_, kArenaWords);
  arena_used_.store(0);
  live_count_.store(0);
  overflowed_.store(0);
  live_max_probe_.store(0);
  overflow_alloc_bytes_weight_.store(0);
  overflow_free_bytes_weight_.store(0);
  overflow_alloc_bytes_raw_.store(0);
  overflow_free_bytes_raw_.store(0);
}

void HeapTables::PopulateIndexes() {
  PopulateArray(stack_index_, kStackCapacity);
  PopulateArray(bucket_index_, kBucketCapacity);
  PopulateArray(live_index_, kLiveCapacity);
  PopulateArray(filter_, kFilterCells);
  PopulateArray(granule_counts_, kSampledGranuleSlots);
}

HeapBucketCounts HeapTables::Counts(const Bucket& bucket) const noexcept {
  HeapBucketCounts c;
  c.allocs = bucket.allocs.load(std::memory_order_relaxed);
  c.frees = bucket.frees.load(std::memory_order_relaxed);
  c.alloc_weight = bucket.alloc_weight.load(std::memory_order_relaxed);
  c.free_weight = bucket.free_weight.load(std::memory_order_relaxed);
  if (&bucket == &buckets_[kOverflowBucket]) {
    c.alloc_bytes_weight =
        overflow_alloc_bytes_weight_.load(std::memory_order_relaxed);
    c.free_bytes_weight =
        overflow_free_bytes_weight_.load(std::memory_order_relaxed);
    c.alloc_bytes_raw =
        overflow_alloc_bytes_raw_.load(std::memory_order_relaxed);
    c.free_bytes_raw = overflow_free_bytes_raw_.load(std::memory_order_relaxed);
  } else {
    c.alloc_bytes_weight = c.alloc_weight * bucket.size;
    c.free_bytes_weight = c.free_weight * bucket.size;
    c.alloc_bytes_raw = c.allocs * bucket.size;
    c.free_bytes_raw = c.frees * bucket.size;
  }
  // A free may be counted a moment before a reader sees its allocation.
  if (c.frees > c.allocs) c.frees = c.allocs;
  if (c.free_weight > c.alloc_weight) c.free_weight = c.alloc_weight;
  if (c.free_bytes_weight > c.alloc_bytes_weight) {
    c.free_bytes_weight = c.alloc_bytes_weight;
  }
  if (c.free_bytes_raw > c.alloc_bytes_raw)
    c.free_bytes_raw = c.alloc_bytes_raw;
  return c;
}
// NOT SIGNAL CONTEXT END

int64_t HeapTables::FindOrAddStack(const uint64_t* pcs, int depth) noexcept {
  const uint64_t hash = HashStack(pcs, depth);
  auto matches = [&](uint32_t id) {
    const Stack& entry = stacks_[id];
    return entry.hash == hash && entry.depth == static_cast<uint32_t>(depth) &&
           std::memcmp(arena_ + entry.offset, pcs, sizeof(*pcs) * depth) == 0;
  };
  auto fill = [&](uint32_t id) {
    const uint64_t offset =
        arena_used_.fetch_add(depth, std::memory_order_relaxed);
    if (offset + depth > kArenaWords) return false;
    std::memcpy(arena_ + offset, pcs, sizeof(*pcs) * depth);
    Stack& entry = stacks_[id];
    entry.hash = hash;
    entry.depth = static_cast<uint32_t>(depth);
    entry.offset = offset;
    return true;
  };
  return FindOrAddDense(stack_index_, kStackCapacity, stacks_used_,
                        kStackCapacity, hash, matches, fill);
}

uint32_t HeapTables::FindOrAddBucket(const uint64_t* pcs, int depth,
                                     uint64_t size,
                                     uint64_t label_set) noexcept {
  const int64_t stack = FindOrAddStack(pcs, depth);
  if (stack < 0) return kOverflowBucket;
  const uint64_t hash =
      HashBucket(static_cast<uint32_t>(stack), size, label_set);
  auto matches = [&](uint32_t id) {
    const Bucket& entry = buckets_[id];
    return entry.hash == hash && entry.stack == stack && entry.size == size &&
           entry.label_set == label_set;
  };
  auto fill = [&](uint32_t id) {
    Bucket& entry = buckets_[id];
    entry.stack = static_cast<uint32_t>(stack);
    entry.size = size;
    entry.label_set = label_set;
    entry.hash = hash;
    entry.state.store(kReady, std::memory_order_release);
    return true;
  };
  const int64_t bucket =
      FindOrAddDense(bucket_index_, kBucketCapacity, buckets_used_,
                     kBucketCapacity, hash, matches, fill);
  return bucket < 0 ? kOverflowBucket : static_cast<uint32_t>(bucket);
}

namespace {

// One side (allocations or frees) of a bucket's books.
struct Ledger {
  std::atomic<uint64_t>& count;
  std::atomic<uint64_t>& weight;
  std::atomic<uint64_t>& overflow_bytes_weight;
  std::atomic<uint64_t>& overflow_bytes_raw;
};

void Charge(const Ledger& ledger, bool overflow, uint32_t weight,
            uint64_t size) noexcept {
  ledger.count.fetch_add(1, std::memory_order_relaxed);
  ledger.weight.fetch_add(weight, std::memory_order_relaxed);
  if (!overflow) return;  // a bucket's bytes are its count times its size
  ledger.overflow_bytes_weight.fetch_add(uint64_t{weight} * size,
                                         std::memory_order_relaxed);
  ledger.overflow_bytes_raw.fetch_add(size, std::memory_order_relaxed);
}

}  // namespace

void HeapTables::RecordAlloc(uint32_t bucket, uint32_t weight,
                             uint64_t size) noexcept {
  Bucket& entry = buckets_[bucket];
  const bool overflow = bucket == kOverflowBucket;
  if (overflow) overflowed_.fetch_add(1, std::memory_order_relaxed);
  Charge({entry.allocs, entry.alloc_weight, overflow_alloc_bytes_weight_,
          overflow_alloc_bytes_raw_},
         overflow, weight, size);
}

void HeapTables::RecordFree(uint32_t bucket, uint32_t weight,
                            uint64_t size) noexcept {
  Bucket& entry = buckets_[bucket];
  Charge({entry.frees, entry.free_weight, overflow_free_bytes_weight_,
          overflow_free_bytes_raw_},
         bucket == kOverflowBucket, weight, size);
}

// The granule map's protocol. The count goes up before the bit is set; the
// bit is cleared only by the free that took the count to zero, under a flag
// in the count. A block marked while the flag is up is not handed to the
// program until the clearer has seen it and set the bit again: no free of
// a live sampled block ever finds its bit clear (re-checking the count
// after clearing, without the flag, left a window of a few instructions in
// which such a free skipped the lookup: HeapTablesTest,
// ARecordedBlockIsNeverHiddenByAConcurrentFree).
namespace {

// A slot's count while the free that took it to zero clears the slot's
// bit: markers meanwhile wait for the bit to be set again (below).
constexpr uint32_t kGranuleClearing = 1u << 31;
// How long a marker waits for a clearer: spins, then yields of the CPU,
// then it finishes the clearer's work itself (MarkGranule).
constexpr int kGranuleSpins = 64;
constexpr int kGranuleYields = 32;

// Set on a thread while it clears a granule bit: a sample taken on the same
// thread meanwhile (a signal handler that allocates) must not wait for it.
__attribute__((
    tls_model("initial-exec"))) thread_local bool t_clearing_granule = false;

}  // namespace

void HeapTables::MarkGranule(const void* ptr) noexcept {
  const uint32_t slot = SampledGranuleSlot(ptr);
  std::atomic<uint32_t>& count = granule_counts_[slot];
  const uint64_t bit = uint64_t{1} << (slot % 64);
  const uint32_t before = count.fetch_add(1);
  g_sampled_granules[slot / 64].fetch_or(bit);
  if ((before & kGranuleClearing) == 0 || t_clearing_granule) return;
  // A free is clearing this slot's bit, perhaps after the fetch_or above.
  // It sets the bit again, having seen this count, before it drops the
  // flag: until then the block must not reach the program, whose free of
  // it would skip the lookup and leave it live for ever. The clearer runs
  // a few atomic operations and no call: this waits only if it was
  // preempted there.
  for (int spin = 0; count.load(std::memory_order_acquire) & kGranuleClearing;
       ++spin) {
    if (spin < kGranuleSpins) continue;
    if (spin < kGranuleSpins + kGranuleYields) {
      sched_yield();
      continue;
    }
    // The clearer is gone (a child forked while it cleared) or stalled for
    // long: set the bit and drop its flag here. A clearer still alive finds
    // the count changed and sets the bit again itself, a few instructions
    // after its own clear: in between, and only after such a stall, a free
    // of this block could miss it, as any free could before the flag.
    g_sampled_granules[slot / 64].fetch_or(bit);
    count.fetch_and(~kGranuleClearing);
    return;
  }
}

void HeapTables::StallGranuleClearForTest(const void* ptr) noexcept {
  granule_counts_[SampledGranuleSlot(ptr)].fetch_or(kGranuleClearing);
}

void HeapTables::UnmarkGranule(const void* ptr) noexcept {
  const uint32_t slot = SampledGranuleSlot(ptr);
  std::atomic<uint32_t>& count = granule_counts_[slot];
  uint32_t seen = count.load();
  uint32_t next;
  do {
    if ((seen & ~kGranuleClearing) == 0) return;  // Reset() ran meanwhile
    // The last live block of the slot: hold the flag while clearing.
    next = seen == 1 ? kGranuleClearing : seen - 1;
  } while (!count.compare_exchange_weak(seen, next));
  if (next != kGranuleClearing) return;
  t_clearing_granule = true;
  const uint64_t bit = uint64_t{1} << (slot % 64);
  g_sampled_granules[slot / 64].fetch_and(~bit);
  uint32_t alone = kGranuleClearing;
  if (!count.compare_exchange_strong(alone, 0)) {
    // Blocks were marked meanwhile (their markers wait): set the bit again
    // before letting them go.
    g_sampled_granules[slot / 64].fetch_or(bit);
    count.fetch_and(~kGranuleClearing);
  }
  t_clearing_granule = false;
}

int64_t HeapTables::TakeLiveEntry() noexcept {
  uint64_t head = live_free_.load(std::memory_order_acquire);
  while ((head & 0xffffffffu) != 0) {
    const uint32_t id = static_cast<uint32_t>(head & 0xffffffffu) - 1;
    const uint32_t next = live_[id].next_free.load(std::memory_order_relaxed);
    const uint64_t popped = ((head >> 32) + 1) << 32 | next;
    if (live_free_.compare_exchange_weak(head, popped,
                                         std::memory_order_acquire)) {
      return id;
    }
  }
  // No entry given back: a fresh one, in order (only the pool's used part
  // is ever resident).
  if (live_used_.load(std::memory_order_relaxed) >= kLivePoolCapacity) {
    return -1;
  }
  const uint32_t id = live_used_.fetch_add(1, std::memory_order_relaxed);
  return id < kLivePoolCapacity ? id : -1;
}

void HeapTables::GiveBackLiveEntry(uint32_t id) noexcept {
  uint64_t head = live_free_.load(std::memory_order_relaxed);
  uint64_t pushed;
  do {
    live_[id].next_free.store(static_cast<uint32_t>(head & 0xffffffffu),
                              std::memory_order_relaxed);
    pushed = ((head >> 32) + 1) << 32 | (id + 1);
  } while (!live_free_.compare_exchange_weak(
      head, pushed, std::memory_order_release, std::memory_order_relaxed));
}

bool HeapTables::AddLive(const void* ptr, uint32_t bucket, uint32_t weight,
                         uint64_t size) noexcept {
  const uint64_t address = reinterpret_cast<uint64_t>(ptr);
  const uint64_t hash = LiveHash(address);
  // Keep the index at most half full so that probes stay short.
  if (live_count_.load(std::memory_order_relaxed) >= kLivePoolCapacity) {
    return false;
  }
  const int64_t id = TakeLiveEntry();
  if (id < 0) return false;
  Live& entry = live_[id];
  entry.address.store(address, std::memory_order_relaxed);
  entry.bucket.store(bucket, std::memory_order_relaxed);
  entry.weight.store(weight, std::memory_order_relaxed);
  entry.size.store(size, std::memory_order_relaxed);
  for (uint32_t probe = 0; probe < kMaxProbe; ++probe) {
    std::atomic<uint32_t>& slot =
        live_index_[(hash + probe) & (kLiveCapacity - 1)];
    uint32_t value = slot.load(std::memory_order_relaxed);
    if (value != kLiveSlotEmpty && value != kLiveSlotTombstone) continue;
    // Claim the slot, then publish the entry: a reader that finds the id
    // finds the entry complete, and no other inserter can write into a
    // slot it did not win.
    if (!slot.compare_exchange_strong(value, kLiveSlotClaimed,
                                      std::memory_order_acquire)) {
      continue;
    }
    slot.store(static_cast<uint32_t>(id) + kLiveSlotIds,
               std::memory_order_release);
    uint32_t longest = live_max_probe_.load(std::memory_order_relaxed);
    while (probe > longest && !live_max_probe_.compare_exchange_weak(
                                  longest, probe, std::memory_order_relaxed)) {
    }
    filter_[FilterIndex(ptr)].fetch_add(1, std::memory_order_relaxed);
    MarkGranule(ptr);
    live_count_.fetch_add(1, std::memory_order_relaxed);
    return true;
  }
  GiveBackLiveEntry(static_cast<uint32_t>(id));
  return false;
}

void HeapTables::FreeIfLive(const void* ptr) noexcept {
  const uint64_t address = reinterpret_cast<uint64_t>(ptr);
  const uint64_t hash = LiveHash(address);
  const uint32_t longest = live_max_probe_.load(std::memory_order_relaxed);
  for (uint32_t probe = 0; probe <= longest; ++probe) {
    std::atomic<uint32_t>& slot =
        live_index_[(hash + probe) & (kLiveCapacity - 1)];
    uint32_t value = slot.load(std::memory_order_acquire);
    if (value == kLiveSlotEmpty) return;
    if (value < kLiveSlotIds) continue;
    const uint32_t id = value - kLiveSlotIds;
    Live& entry = live_[id];
    // An entry freed and reused meanwhile holds another address: its slot
    // changed too, and the exchange below would fail anyway.
    if (entry.address.load(std::memory_order_relaxed) != address) continue;
    if (!slot.compare_exchange_strong(value, kLiveSlotTombstone,
                                      std::memory_order_acq_rel)) {
      return;  // another free of the same block won (a double free)
    }
    // The slot is ours: nobody else reaches the entry until it is given
    // back.
    const uint32_t bucket = entry.bucket.load(std::memory_order_relaxed);
    const uint32_t weight = entry.weight.load(std::memory_order_relaxed);
    const uint64_t size = entry.size.load(std::memory_order_relaxed);
    GiveBackLiveEntry(id);
    DecrementIfPositive(filter_[FilterIndex(ptr)]);
    UnmarkGranule(ptr);
    DecrementIfPositive(live_count_);
    RecordFree(bucket, weight, size);
    return;
  }
}

}  // namespace inprof::internal
