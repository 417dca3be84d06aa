// Contention profile building from synthetic snapshots: Go's sample types,
// counts from fixed point, deltas, the overflow frame, the legacy text.

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "agent/contention/contention_profile.h"
#include "agent/labels/label_registry.h"
#include "agent/symbolize/symbolizer.h"

namespace inprof::internal {
namespace {

using ::testing::HasSubstr;
using ::testing::StartsWith;

__attribute__((noinline)) uint64_t SomePc() {
  return reinterpret_cast<uint64_t>(__builtin_return_address(0));
}

ContentionSnapshot Snapshot(ContentionKind kind) {
  ContentionSnapshot snapshot;
  snapshot.kind = kind;
  snapshot.unix_nanos = 1'700'000'000'000'000'000;
  ContentionRecord a;
  a.pcs = {SomePc()};
  a.count = 3 * kCountOne + kCountOne / 2;  // 3.5 events → 4
  a.delay_nanos = 5000;
  ContentionRecord overflow;  // no pcs: the overflow entry
  overflow.count = kCountOne;
  overflow.delay_nanos = 7000;
  snapshot.records = {overflow, a};
  return snapshot;
}

TEST(ContentionProfileUnitTest, GoSampleTypesAndRoundedCounts) {
  Symbolizer symbolizer;
  Profile p = BuildContentionProfile(Snapshot(ContentionKind::kMutex), 0, {"c"},
                                     &symbolizer);
  ASSERT_EQ(p.sample_types.size(), 2u);
  EXPECT_EQ(p.sample_types[0].type, "contentions");
  EXPECT_EQ(p.sample_types[1].unit, "nanoseconds");
  EXPECT_EQ(p.period_type.type, "contentions");
  EXPECT_EQ(p.period, 1);
  EXPECT_EQ(p.duration_nanos, 0);
  ASSERT_EQ(p.samples.size(), 2u);
  EXPECT_EQ(p.samples[0].values, (std::vector<int64_t>{1, 7000}));
  EXPECT_EQ(p.samples[1].values, (std::vector<int64_t>{4, 5000}));
  const Location& overflow = p.locations.at(p.samples[0].location_ids[0] - 1);
  EXPECT_EQ(p.functions.at(overflow.lines.at(0).function_id - 1).name,
            kContentionOverflowFrame);
}

TEST(ContentionProfileUnitTest, DeltaSubtractsAndDropsUnchanged) {
  ContentionSnapshot earlier = Snapshot(ContentionKind::kBlock);
  ContentionSnapshot later = earlier;
  later.records[1].delay_nanos += 1000;
  later.records[1].count += kCountOne;
  ContentionSnapshot delta = SubtractContentionSnapshots(later, earlier);
  ASSERT_EQ(delta.records.size(), 1u);
  EXPECT_EQ(delta.records[0].delay_nanos, 1000);
  EXPECT_EQ(delta.records[0].count, static_cast<int64_t>(kCountOne));
}

TEST(ContentionProfileUnitTest, LegacyTextAsGoWritesIt) {
  Symbolizer symbolizer;
  std::string block =
      ContentionProfileText(Snapshot(ContentionKind::kBlock), &symbolizer);
  EXPECT_THAT(block, StartsWith("--- contention:\ncycles/second=1000000000\n"));
  EXPECT_THAT(block, Not(HasSubstr("sampling period")));
  // Largest delay first; "<delay> <count> @ pcs".
  EXPECT_THAT(block, HasSubstr("\n7000 1 @\n#\t0x0\t" +
                               std::string(kContentionOverflowFrame) +
                               "\n\n5000 4 @ 0x"));
  EXPECT_THAT(block, HasSubstr("Snapshot"));  // where SomePc returns
  std::string mutex =
      ContentionProfileText(Snapshot(ContentionKind::kMutex), &symbolizer);
  EXPECT_THAT(mutex, StartsWith("--- mutex:\ncycles/second=1000000000\n"
                                "sampling period=1\n"));
}

TEST(ContentionProfileUnitTest, LabelledRecordsCarryTheirLabels) {
  const inprof::Label tenant[] = {{"tenant", "acme"}};
  const uint64_t orders =
      LabelRegistry::Global().Derive(0, "POST /orders", tenant);
  ContentionSnapshot snapshot = Snapshot(ContentionKind::kBlock);
  snapshot.records[1].label_set = orders;
  Symbolizer symbolizer;
  Profile p = BuildContentionProfile(snapshot, 0, {}, &symbolizer);
  ASSERT_EQ(p.samples.size(), 2u);
  EXPECT_TRUE(p.samples[0].labels.empty());  // unlabelled: as before
  ASSERT_EQ(p.samples[1].labels.size(), 2u);
  EXPECT_EQ(p.samples[1].labels[0].key, "endpoint");
  EXPECT_EQ(p.samples[1].labels[0].str, "POST /orders");
  EXPECT_EQ(p.samples[1].labels[1].key, "tenant");
  EXPECT_EQ(p.samples[1].labels[1].str, "acme");
  const std::string text = ContentionProfileText(snapshot, &symbolizer);
  EXPECT_THAT(text, HasSubstr("\n5000 4 @ 0x"));
  EXPECT_THAT(text, HasSubstr("\n# labels: {\"endpoint\":\"POST /orders\", "
                              "\"tenant\":\"acme\"}\n#\t0x"));
}

}  // namespace
}  // namespace inprof::internal
