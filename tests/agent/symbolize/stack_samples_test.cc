#include "agent/symbolize/stack_samples.h"

#include <cstdint>
#include <vector>

#include "agent/labels/label_registry.h"
#include "agent/profile/profile.h"
#include "agent/symbolize/symbolizer.h"
#include "gtest/gtest.h"
#include "tests/agent/symbolize/test_functions.h"

namespace inprof::internal {
namespace {

const Function& Leaf(const Profile& p, const Sample& s) {
  const Location& location = p.locations[s.location_ids.front() - 1];
  return p.functions[location.lines.front().function_id - 1];
}

uint64_t AddressOf(const Profile& p, uint64_t location_id) {
  return p.locations[location_id - 1].address;
}

// A signal's stack: the interrupted pc is symbolized as is, every caller at
// its return address − 1 (the call instruction, pprof-spec.md §2.5).
TEST(StackSampleBuilderTest, InterruptedPcIsExactAndCallersAreReturnMinusOne) {
  Symbolizer symbolizer;
  Profile profile;
  StackSampleBuilder samples(&symbolizer, &profile);
  const uint64_t leaf = app::Worker::Spin(1);
  const uint64_t caller = app::Worker::Spin(1.0);
  const std::vector<uint64_t> pcs = {leaf, caller + 1};
  samples.Add(pcs, StackSampleBuilder::kInterruptedPc, "unused", {3, 30}, 0);
  samples.Finish();
  ASSERT_EQ(profile.samples.size(), 1u);
  const Sample& s = profile.samples[0];
  ASSERT_EQ(s.location_ids.size(), 2u);
  EXPECT_EQ(AddressOf(profile, s.location_ids[0]), leaf);
  EXPECT_EQ(AddressOf(profile, s.location_ids[1]), caller);
  EXPECT_EQ(s.values, (std::vector<int64_t>{3, 30}));
  EXPECT_EQ(Leaf(profile, s).name, "app::Worker::Spin");
  EXPECT_TRUE(s.labels.empty());
}

// A call's stack (an allocation, a lock wait): every pc is a return address.
TEST(StackSampleBuilderTest, CallStacksAreAllReturnAddresses) {
  Symbolizer symbolizer;
  Profile profile;
  StackSampleBuilder samples(&symbolizer, &profile);
  const uint64_t leaf = app::Worker::Spin(1);
  const std::vector<uint64_t> pcs = {leaf + 1};
  samples.Add(pcs, StackSampleBuilder::kAllReturnAddresses, "unused", {1}, 0);
  samples.Finish();
  ASSERT_EQ(profile.samples.size(), 1u);
  EXPECT_EQ(AddressOf(profile, profile.samples[0].location_ids[0]), leaf);
}

// An empty stack (a full table kept no frames) and a pseudo-frame sample
// both show one named frame, the same location for the same name.
TEST(StackSampleBuilderTest, EmptyStacksAndPseudoFramesShowTheirName) {
  Symbolizer symbolizer;
  Profile profile;
  StackSampleBuilder samples(&symbolizer, &profile);
  samples.Add({}, StackSampleBuilder::kAllReturnAddresses, "inprof.TableFull",
              {5}, 0);
  samples.AddPseudoFrame("inprof.TableFull", {6});
  samples.AddPseudoFrame("inprof.LostSamples", {7});
  samples.Finish();
  ASSERT_EQ(profile.samples.size(), 3u);
  EXPECT_EQ(profile.samples[0].location_ids, profile.samples[1].location_ids);
  EXPECT_EQ(Leaf(profile, profile.samples[0]).name, "inprof.TableFull");
  EXPECT_EQ(Leaf(profile, profile.samples[2]).name, "inprof.LostSamples");
  EXPECT_EQ(profile.samples[2].values, (std::vector<int64_t>{7}));
}

// Add returns the sample, for the caller's labels.
TEST(StackSampleBuilderTest, TheReturnedSampleTakesLabels) {
  Symbolizer symbolizer;
  Profile profile;
  StackSampleBuilder samples(&symbolizer, &profile);
  const std::vector<uint64_t> pcs = {app::Worker::Spin(1) + 1};
  Sample& sample =
      samples.Add(pcs, StackSampleBuilder::kAllReturnAddresses, "x", {1}, 0);
  Label bytes;
  bytes.key = "bytes";
  bytes.num = 64;
  sample.labels.push_back(bytes);
  samples.Finish();
  ASSERT_EQ(profile.samples[0].labels.size(), 1u);
  EXPECT_EQ(profile.samples[0].labels[0].num, 64);
}

// Once the symbolizer is cancelled, builders see it and stop.
TEST(StackSampleBuilderTest, CancelledFollowsTheSymbolizer) {
  Symbolizer symbolizer;
  Profile profile;
  StackSampleBuilder samples(&symbolizer, &profile);
  EXPECT_FALSE(samples.cancelled());
  symbolizer.set_cancel([] { return true; });
  EXPECT_TRUE(samples.cancelled());
}

// A sample's label set becomes its string labels, sorted by key; the same
// set reused across samples, UTF-8 repaired; no label set, no labels.
TEST(StackSampleBuilderTest, LabelSetsBecomeStringLabels) {
  const inprof::Label labels[] = {{"tenant", "ac\xffme"}};
  const uint64_t id = LabelRegistry::Global().Derive(0, "GET /users", labels);
  Symbolizer symbolizer;
  Profile profile;
  StackSampleBuilder samples(&symbolizer, &profile);
  const std::vector<uint64_t> pcs = {app::Worker::Spin(1) + 1};
  samples.Add(pcs, StackSampleBuilder::kAllReturnAddresses, "x", {1}, id);
  samples.Add({}, StackSampleBuilder::kAllReturnAddresses, "x", {2}, id);
  samples.Add(pcs, StackSampleBuilder::kAllReturnAddresses, "x", {3}, 0);
  samples.Add(pcs, StackSampleBuilder::kAllReturnAddresses, "x", {4},
              LabelRegistry::kOverflowSet);
  samples.Finish();
  ASSERT_EQ(profile.samples.size(), 4u);
  for (int i : {0, 1}) {
    const std::vector<Label>& l = profile.samples[i].labels;
    ASSERT_EQ(l.size(), 2u);
    EXPECT_EQ(l[0].key, "endpoint");
    EXPECT_EQ(l[0].str, "GET /users");
    EXPECT_EQ(l[1].key, "tenant");
    EXPECT_EQ(l[1].str, "ac\xef\xbf\xbdme");  // U+FFFD
    EXPECT_EQ(l[1].num, 0);
  }
  EXPECT_TRUE(profile.samples[2].labels.empty());
  ASSERT_EQ(profile.samples[3].labels.size(), 1u);
  EXPECT_EQ(profile.samples[3].labels[0].str, "inprof.LabelSetsFull");
}

}  // namespace
}  // namespace inprof::internal
