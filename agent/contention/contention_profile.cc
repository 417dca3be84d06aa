#include "agent/contention/contention_profile.h"

#include <algorithm>
#include <span>
#include <tuple>

#include "agent/base/clock.h"
#include "agent/profile/snapshot_records.h"
#include "agent/symbolize/legacy_text.h"
#include "agent/symbolize/stack_samples.h"
#include "agent/symbolize/symbolizer.h"

namespace inprof::internal {
namespace {

struct RecordTraits {
  static auto Key(const ContentionRecord& r) {
    return std::tie(r.pcs, r.label_set);
  }
  static void Add(ContentionRecord& into, const ContentionRecord& from,
                  int64_t sign) {
    into.count += sign * from.count;
    into.delay_nanos += sign * from.delay_nanos;
  }
  static bool IsZero(const ContentionRecord& r) {
    return r.count == 0 && r.delay_nanos == 0;
  }
};

// Events from kCountOne units, to the nearest whole event.
int64_t Events(int64_t count) {
  const auto one = static_cast<int64_t>(kCountOne);
  return count >= 0 ? (count + one / 2) / one : -((-count + one / 2) / one);
}

}  // namespace

ContentionSnapshot TakeContentionSnapshot(const ContentionTable& table,
                                          ContentionKind kind) {
  ContentionSnapshot snapshot;
  snapshot.kind = kind;
  table.ForEach([&](const ContentionTable::View& view) {
    ContentionRecord r;
    r.pcs.assign(view.pcs.begin(), view.pcs.end());
    r.label_set = view.label_set;
    r.count = static_cast<int64_t>(view.count);
    r.delay_nanos = static_cast<int64_t>(view.delay_nanos);
    snapshot.records.push_back(std::move(r));
  });
  snapshot.unix_nanos = UnixNanos();
  SortAndMergeRecords<RecordTraits>(snapshot.records);
  return snapshot;
}

ContentionSnapshot SubtractContentionSnapshots(
    const ContentionSnapshot& later, const ContentionSnapshot& earlier) {
  ContentionSnapshot delta;
  delta.kind = later.kind;
  delta.unix_nanos = later.unix_nanos;
  delta.records = SubtractRecords<RecordTraits>(later.records, earlier.records);
  return delta;
}

Profile BuildContentionProfile(const ContentionSnapshot& snapshot,
                               int64_t duration_nanos,
                               const std::vector<std::string>& comments,
                               Symbolizer* symbolizer) {
  Profile profile;
  profile.sample_types = {{"contentions", "count"}, {"delay", "nanoseconds"}};
  profile.period_type = {"contentions", "count"};
  profile.period = 1;
  profile.time_nanos = snapshot.unix_nanos;
  profile.duration_nanos = duration_nanos;
  profile.comments = comments;

  StackSampleBuilder samples(symbolizer, &profile);
  for (const ContentionRecord& r : snapshot.records) {
    if (samples.cancelled()) break;  // the result is thrown away
    samples.Add(r.pcs, StackSampleBuilder::kAllReturnAddresses,
                kContentionOverflowFrame, {Events(r.count), r.delay_nanos},
                r.label_set);
  }
  samples.Finish();
  return profile;
}

std::string ContentionProfileText(const ContentionSnapshot& snapshot,
                                  Symbolizer* symbolizer) {
  const bool mutex = snapshot.kind == ContentionKind::kMutex;
  std::string out = mutex ? "--- mutex:\n" : "--- contention:\n";
  out += "cycles/second=1000000000\n";
  if (mutex) out += "sampling period=1\n";
  out +=
      "# inprof: cycles are nanoseconds; values are already scaled for "
      "sampling\n";
  std::vector<const ContentionRecord*> order;
  for (const ContentionRecord& r : snapshot.records) order.push_back(&r);
  std::stable_sort(order.begin(), order.end(),
                   [](const ContentionRecord* a, const ContentionRecord* b) {
                     return a->delay_nanos > b->delay_nanos;
                   });
  for (const ContentionRecord* r : order) {
    if (symbolizer->cancelled()) break;  // the result is thrown away
    out +=
        std::to_string(r->delay_nanos) + ' ' + std::to_string(Events(r->count));
    AppendLegacyStack(out, r->pcs, kContentionOverflowFrame, r->label_set,
                      symbolizer);
    out += '\n';
  }
  return out;
}

}  // namespace inprof::internal
