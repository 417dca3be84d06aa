// Helpers for the cumulative profiles' snapshots (heap, contention): records
// keyed by a stack (and more), merged when keys repeat, and differenced for
// `?seconds=N` deltas. A Traits type supplies the key and the arithmetic:
//
//   struct Traits {
//     static auto Key(const Record& r);          // comparable, e.g. std::tie
//     static void Add(Record& into, const Record& from, int64_t sign);
//     static bool IsZero(const Record& r);
//   };
#ifndef INPROF_AGENT_PROFILE_SNAPSHOT_RECORDS_H_
#define INPROF_AGENT_PROFILE_SNAPSHOT_RECORDS_H_

#include <algorithm>
#include <cstdint>
#include <utility>
#include <vector>

namespace inprof::internal {

// Sorts by key and merges records with equal keys (the lock-free tables may
// hold one key twice when two threads inserted it at once).
template <typename Traits, typename Record>
void SortAndMergeRecords(std::vector<Record>& records) {
  std::sort(records.begin(), records.end(),
            [](const Record& a, const Record& b) {
              return Traits::Key(a) < Traits::Key(b);
            });
  std::vector<Record> merged;
  merged.reserve(records.size());
  for (Record& r : records) {
    if (!merged.empty() && Traits::Key(merged.back()) == Traits::Key(r)) {
      Traits::Add(merged.back(), r, 1);
    } else {
      merged.push_back(std::move(r));
    }
  }
  records = std::move(merged);
}

// later - earlier, record by record; records equal in both are dropped.
template <typename Traits, typename Record>
std::vector<Record> SubtractRecords(const std::vector<Record>& later,
                                    const std::vector<Record>& earlier) {
  std::vector<Record> delta = later;
  for (const Record& r : earlier) {
    Record negative = r;
    Traits::Add(negative, r, -2);  // r - 2r = -r, key kept
    delta.push_back(std::move(negative));
  }
  SortAndMergeRecords<Traits>(delta);
  std::erase_if(delta, [](const Record& r) { return Traits::IsZero(r); });
  return delta;
}

}  // namespace inprof::internal

#endif  // INPROF_AGENT_PROFILE_SNAPSHOT_RECORDS_H_
