// Contention profiles as Go writes them (pprof-spec.md §2.9, §2.11): a
// snapshot of one ContentionTable turned into a profile.proto with the sample
// types contentions/count and delay/nanoseconds, cumulative since the
// profiler started; or the difference of two snapshots (`?seconds=N`); or
// Go's legacy text form (`?debug=1`).
//
// Thread safety: snapshots are values; the builders are thread-compatible
// (the caller serializes use of the Symbolizer).
#ifndef INPROF_AGENT_CONTENTION_CONTENTION_PROFILE_H_
#define INPROF_AGENT_CONTENTION_CONTENTION_PROFILE_H_

#include <cstdint>
#include <string>
#include <vector>

#include "agent/contention/contention_profiler.h"
#include "agent/contention/contention_table.h"
#include "agent/profile/profile.h"

namespace inprof::internal {

class Symbolizer;

// One (stack, label set), values unbiased; `count` in kCountOne units.
struct ContentionRecord {
  std::vector<uint64_t> pcs;  // return addresses; empty: the overflow entry
  uint64_t label_set = 0;
  int64_t count = 0;
  int64_t delay_nanos = 0;
};

struct ContentionSnapshot {
  ContentionKind kind = ContentionKind::kBlock;
  std::vector<ContentionRecord> records;  // sorted by (pcs, label_set)
  int64_t unix_nanos = 0;                 // when taken
};

ContentionSnapshot TakeContentionSnapshot(const ContentionTable& table,
                                          ContentionKind kind);

// later - earlier, record by record; records equal in both are dropped.
ContentionSnapshot SubtractContentionSnapshots(
    const ContentionSnapshot& later, const ContentionSnapshot& earlier);

// The frame under which events that found the table full are reported.
inline constexpr char kContentionOverflowFrame[] =
    "inprof.ContentionProfileTableFull";

// Builds the profile. duration_nanos: 0 for a cumulative profile, the gap
// between the snapshots for a delta.
Profile BuildContentionProfile(const ContentionSnapshot& snapshot,
                               int64_t duration_nanos,
                               const std::vector<std::string>& comments,
                               Symbolizer* symbolizer);

// Go's legacy text form (debug=1): "--- contention:" or "--- mutex:",
// cycles/second=1000000000 (so cycles are nanoseconds), then
// "<delay> <count> @ pcs" per record, largest delay first. The values are
// already unbiased, so the sampling period pprof multiplies by is 1.
std::string ContentionProfileText(const ContentionSnapshot& snapshot,
                                  Symbolizer* symbolizer);

}  // namespace inprof::internal

#endif  // INPROF_AGENT_CONTENTION_CONTENTION_PROFILE_H_
