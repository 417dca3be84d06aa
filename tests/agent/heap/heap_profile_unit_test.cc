#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cctype>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <utility>
#include <vector>

#include "agent/heap/heap_profile.h"
#include "agent/labels/label_registry.h"
#include "agent/profile/check_valid.h"
#include "agent/profile/encode.h"
#include "agent/symbolize/symbolizer.h"

namespace inprof::internal {
namespace {

using ::testing::HasSubstr;
using ::testing::StartsWith;

// Big enough that a return address 2 bytes in lies inside it.
__attribute__((noinline)) int UserFunction(int n) {
  int x = 0;
  for (int i = 0; i < n; ++i) x += i * i;
  return x;
}

uint64_t Inside(const void* function) {
  return reinterpret_cast<uint64_t>(function) + 2;  // a return address in it
}

HeapRecord Record(std::vector<uint64_t> pcs, uint64_t size, int64_t allocs,
                  int64_t frees, double weight) {
  HeapRecord r;
  r.pcs = std::move(pcs);
  r.size = size;
  r.allocs_raw = allocs;
  r.frees_raw = frees;
  r.alloc_bytes_raw = allocs * static_cast<int64_t>(size);
  r.free_bytes_raw = frees * static_cast<int64_t>(size);
  r.alloc_weight = static_cast<int64_t>(allocs * weight * kWeightOne);
  r.free_weight = static_cast<int64_t>(frees * weight * kWeightOne);
  r.alloc_bytes_weight = r.alloc_weight * static_cast<int64_t>(size);
  r.free_bytes_weight = r.free_weight * static_cast<int64_t>(size);
  return r;
}

std::string LeafName(const Profile& p, const Sample& s) {
  const Location& location = p.locations.at(s.location_ids.front() - 1);
  return p.functions.at(location.lines.back().function_id - 1).name;
}

TEST(HeapProfileUnitTest, GoSampleTypesValuesAndLabels) {
  HeapSnapshot snapshot;
  snapshot.rate = 524288;
  snapshot.unix_nanos = 1700000000000000000;
  snapshot.records = {Record({Inside(reinterpret_cast<void*>(&UserFunction))},
                             1000, 10, 4, 524.8)};
  Symbolizer symbolizer;
  Profile p =
      BuildHeapProfile(snapshot, HeapProfileKind::kHeap, 0, {"c"}, &symbolizer);
  ASSERT_EQ(p.samples.size(), 1u);
  EXPECT_EQ(p.samples[0].values,
            (std::vector<int64_t>{5248, 5248000, 3148, 3148812}));
  ASSERT_EQ(p.samples[0].labels.size(), 1u);
  EXPECT_EQ(p.samples[0].labels[0].key, "bytes");
  EXPECT_EQ(p.samples[0].labels[0].num, 1000);
  EXPECT_EQ(p.period, 524288);
  EXPECT_EQ(p.default_sample_type, "");
  EXPECT_EQ(p.time_nanos, 1700000000000000000);
  Status valid = ValidateEncoded(SerializeProfile(p));
  EXPECT_TRUE(valid.ok()) << valid.ToString();
  Profile allocs =
      BuildHeapProfile(snapshot, HeapProfileKind::kAllocs, 0, {}, &symbolizer);
  EXPECT_EQ(allocs.default_sample_type, "alloc_space");
}

TEST(HeapProfileUnitTest, AllocatorFramesArePrunedFromTheLeafEnd) {
  HeapSnapshot snapshot;
  snapshot.rate = 1;
  snapshot.records = {
      Record({Inside(reinterpret_cast<void*>(&malloc)),
              Inside(reinterpret_cast<void*>(&UserFunction))},
             64, 1, 0, 1),
      // A stack of nothing but allocator frames keeps its last one.
      Record({Inside(reinterpret_cast<void*>(&malloc))}, 32, 1, 0, 1)};
  Symbolizer symbolizer;
  Profile p =
      BuildHeapProfile(snapshot, HeapProfileKind::kHeap, 0, {}, &symbolizer);
  ASSERT_EQ(p.samples.size(), 2u);
  std::vector<std::string> leaves = {LeafName(p, p.samples[0]),
                                     LeafName(p, p.samples[1])};
  EXPECT_THAT(leaves, ::testing::UnorderedElementsAre(
                          "inprof::internal::(anonymous namespace)::"
                          "UserFunction",
                          HasSubstr("malloc")));
}

TEST(HeapProfileUnitTest, DeltaSubtractsEverythingAndDropsUnchanged) {
  const uint64_t a = Inside(reinterpret_cast<void*>(&UserFunction));
  HeapSnapshot earlier, later;
  earlier.records = {Record({a}, 8, 10, 2, 1), Record({a, a}, 8, 5, 0, 1)};
  later.records = {Record({a}, 8, 15, 9, 1), Record({a, a}, 8, 5, 0, 1),
                   Record({a}, 16, 1, 0, 1)};
  later.rate = 7;
  HeapSnapshot delta = SubtractHeapSnapshots(later, earlier);
  ASSERT_EQ(delta.records.size(), 2u);
  EXPECT_EQ(delta.rate, 7);
  const HeapRecord& changed = delta.records[0];
  EXPECT_EQ(changed.size, 8u);
  EXPECT_EQ(changed.alloc_weight, 5 * static_cast<int64_t>(kWeightOne));
  // In-use went down: negative, as Go's delta profiles.
  EXPECT_EQ(changed.alloc_weight - changed.free_weight,
            -2 * static_cast<int64_t>(kWeightOne));
  EXPECT_EQ(delta.records[1].size, 16u);
}

TEST(HeapProfileUnitTest, LegacyTextCarriesRawCountsAndTheRateQuirk) {
  HeapSnapshot snapshot;
  snapshot.rate = 524288;
  snapshot.records = {Record({Inside(reinterpret_cast<void*>(&UserFunction))},
                             100, 3, 1, 5243)};
  Symbolizer symbolizer;
  std::string text = HeapProfileText(snapshot, &symbolizer);
  EXPECT_THAT(text, StartsWith("heap profile: 2: 200 [3: 300] @ heap/1048576\n"
                               "2: 200 [3: 300] @ 0x"));
  EXPECT_THAT(text, HasSubstr("UserFunction"));
}

// Go's writeHeapInternal sorts debug=1 records by in-use bytes, largest
// first; the snapshot is sorted by stack, which would bury the big ones.
TEST(HeapProfileUnitTest, LegacyTextListsRecordsByInUseBytesDescending) {
  HeapSnapshot snapshot;
  snapshot.rate = 524288;
  const uint64_t pc = Inside(reinterpret_cast<void*>(&UserFunction));
  // In-use bytes, in snapshot (stack, size) order: 100, 0, 7000, 640, 7000.
  snapshot.records = {Record({pc}, 100, 2, 1, 1), Record({pc}, 200, 3, 3, 1),
                      Record({pc}, 1000, 9, 2, 1),
                      Record({pc + 1}, 64, 10, 0, 1),
                      Record({pc + 1}, 3500, 2, 0, 1)};
  Symbolizer symbolizer;
  const std::string text = HeapProfileText(snapshot, &symbolizer);
  std::vector<std::pair<long long, long long>> listed;  // (in-use, allocs)
  size_t at = text.find('\n') + 1;                      // past the header
  for (; at < text.size(); at = text.find('\n', at) + 1) {
    long long objects = 0, bytes = 0, allocs = 0, alloc_bytes = 0;
    if (std::isdigit(static_cast<unsigned char>(text[at])) &&
        std::sscanf(text.c_str() + at, "%lld: %lld [%lld: %lld] @", &objects,
                    &bytes, &allocs, &alloc_bytes) == 4) {
      listed.emplace_back(bytes, allocs);
    }
    if (text.find('\n', at) == std::string::npos) break;
  }
  // Equal in-use bytes keep the snapshot's order.
  EXPECT_EQ(listed, (std::vector<std::pair<long long, long long>>{
                        {7000, 9}, {7000, 2}, {640, 10}, {100, 2}, {0, 3}}));
}

TEST(HeapProfileUnitTest, OverflowBucketIsAnHonestFrame) {
  HeapSnapshot snapshot;
  snapshot.rate = 4096;
  snapshot.records = {Record({}, 0, 7, 0, 1)};
  snapshot.records[0].alloc_bytes_weight = 700 * kWeightOne;
  Symbolizer symbolizer;
  Profile p =
      BuildHeapProfile(snapshot, HeapProfileKind::kHeap, 0, {}, &symbolizer);
  ASSERT_EQ(p.samples.size(), 1u);
  EXPECT_EQ(LeafName(p, p.samples[0]), kHeapOverflowFrame);
  EXPECT_EQ(p.samples[0].values[1], 700);
  EXPECT_TRUE(p.samples[0].labels.empty());
}

// Heap records of the same stack and size but different label sets are
// separate samples, each with its string labels before Go's `bytes` label,
// and the legacy text shows Go's labels line; an unlabelled record keeps
// `bytes` alone.
TEST(HeapProfileUnitTest, LabelSetsSplitSamplesAndShowInBothForms) {
  const uint64_t users = LabelRegistry::Global().Derive(
      0, "GET /users", std::span<const inprof::Label>());
  HeapSnapshot snapshot;
  snapshot.rate = 4096;
  const uint64_t pc = Inside(reinterpret_cast<void*>(&UserFunction));
  snapshot.records = {Record({pc}, 64, 2, 0, 1), Record({pc}, 64, 3, 0, 1)};
  snapshot.records[1].label_set = users;
  Symbolizer symbolizer;
  Profile p =
      BuildHeapProfile(snapshot, HeapProfileKind::kHeap, 0, {}, &symbolizer);
  ASSERT_EQ(p.samples.size(), 2u);
  ASSERT_EQ(p.samples[0].labels.size(), 1u);
  EXPECT_EQ(p.samples[0].labels[0].key, "bytes");
  ASSERT_EQ(p.samples[1].labels.size(), 2u);
  EXPECT_EQ(p.samples[1].labels[0].key, "endpoint");
  EXPECT_EQ(p.samples[1].labels[0].str, "GET /users");
  EXPECT_EQ(p.samples[1].labels[1].key, "bytes");
  EXPECT_EQ(p.samples[1].labels[1].num, 64);

  const std::string text = HeapProfileText(snapshot, &symbolizer);
  EXPECT_THAT(text, HasSubstr("3: 192 [3: 192] @ 0x"));
  EXPECT_THAT(text,
              HasSubstr("\n# labels: {\"endpoint\":\"GET /users\"}\n#\t0x"));
  EXPECT_EQ(text.find("# labels:"), text.rfind("# labels:"));  // one record
}

}  // namespace
}  // namespace inprof::internal
