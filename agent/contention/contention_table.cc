#include "agent/contention/contention_table.h"

// SIGNAL CONTEXT. FindOrAdd runs inside lock slow paths; the mapping and
// Reset() are marked. See agent/unwind/unwind.h for the rules.

#include <cstring>
#include <new>

#include "agent/base/mapped_array.h"

namespace inprof::internal {
namespace {

uint64_t HashKey(const uint64_t* pcs, int depth, uint64_t label_set) noexcept {
  uint64_t h = 0xcbf29ce484222325u ^ label_set;
  for (int i = 0; i < depth; ++i) {
    h ^= pcs[i];
    h *= 0x100000001b3u;
    h ^= h >> 29;
  }
  return h;
}

bool Matches(const ContentionTable::Entry& entry, uint64_t hash,
             const uint64_t* pcs, int depth, uint64_t label_set) noexcept {
  return entry.hash == hash && entry.label_set == label_set &&
         entry.depth == static_cast<uint32_t>(depth) &&
         std::memcmp(entry.pcs, pcs, sizeof(uint64_t) * depth) == 0;
}

}  // namespace

// NOT SIGNAL CONTEXT BEGIN: construction and reset, while nothing records
ContentionTable* ContentionTable::Map() {
  auto* table = new (std::nothrow) ContentionTable();
  if (table == nullptr) return nullptr;
  table->entries_ = MapArray<Entry>(kCapacity);
  table->index_ = MapArray<std::atomic<uint32_t>>(kIndexSize);
  if (table->entries_ == nullptr || table->index_ == nullptr) return nullptr;
  return table;
}

ContentionTable* ContentionTable::Block() {
  static ContentionTable* const table = Map();
  return table;
}

ContentionTable* ContentionTable::Mutex() {
  static ContentionTable* const table = Map();
  return table;
}

void ContentionTable::Reset() {
  ZeroArray(entries_, kCapacity);
  ZeroArray(index_, kIndexSize);
  next_.store(1);
}
// NOT SIGNAL CONTEXT END

ContentionTable::Entry& ContentionTable::FindOrAdd(
    const uint64_t* pcs, int depth, uint64_t label_set) noexcept {
  if (depth > kContentionMaxDepth) depth = kContentionMaxDepth;
  const uint64_t hash = HashKey(pcs, depth, label_set);
  uint32_t mine = 0;  // an entry this thread filled, not yet published
  for (int probe = 0; probe < kMaxProbe; ++probe) {
    std::atomic<uint32_t>& slot =
        index_[(hash + static_cast<uint64_t>(probe)) & (kIndexSize - 1)];
    uint32_t number = slot.load(std::memory_order_acquire);
    if (number == 0) {
      if (mine == 0) {
        mine = next_.fetch_add(1, std::memory_order_relaxed);
        if (mine >= kCapacity) return entries_[kOverflowEntry];
        Entry& entry = entries_[mine];
        entry.depth = static_cast<uint32_t>(depth);
        entry.hash = hash;
        entry.label_set = label_set;
        std::memcpy(entry.pcs, pcs, sizeof(uint64_t) * depth);
        entry.ready.store(1, std::memory_order_release);
      }
      if (slot.compare_exchange_strong(number, mine, std::memory_order_acq_rel,
                                       std::memory_order_acquire)) {
        return entries_[mine];
      }
      // Another thread published here first; `number` is its entry. Ours
      // stays unpublished and unused (it never gets events).
    }
    if (Matches(entries_[number], hash, pcs, depth, label_set)) {
      return entries_[number];
    }
  }
  return entries_[kOverflowEntry];
}

}  // namespace inprof::internal
