#include "agent/cpu/cpu_profile.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>

#include "agent/base/agent_thread.h"
#include "agent/labels/label_registry.h"
#include "agent/profile/check_valid.h"
#include "agent/profile/encode.h"
#include "agent/symbolize/symbolizer.h"

namespace inprof::internal {
namespace {

using ::testing::HasSubstr;

__attribute__((noinline)) int Leaf(int x) { return x * 7 + 3; }
__attribute__((noinline)) int Caller(int x) { return Leaf(x) + 1; }
// Only in the agent thread's sample of
// AgentThreadsAreLabelledAndNamedByFunctionOnly: symbolized names-only.
__attribute__((noinline)) int AgentLeaf(int x) { return x * 5 + 1; }

RawSample MakeSample(uint64_t timestamp, std::vector<uint64_t> pcs,
                     uint32_t weight = 1) {
  RawSample sample{};
  sample.timestamp_ns = timestamp;
  sample.weight = weight;
  sample.depth = static_cast<uint32_t>(pcs.size());
  for (size_t i = 0; i < pcs.size(); ++i) sample.pcs[i] = pcs[i];
  return sample;
}

const Function& FunctionOf(const Profile& profile, uint64_t location_id) {
  const Location& location = profile.locations.at(location_id - 1);
  return profile.functions.at(location.lines.back().function_id - 1);
}

TEST(CpuProfileRecorderTest, CountsByStackAndIgnoresSamplesBeforeItsStart) {
  CpuProfileRecorder recorder(/*start_monotonic_ns=*/100);
  recorder.OnSample(MakeSample(50, {1, 2}));  // before the start
  recorder.OnSample(MakeSample(100, {1, 2}));
  recorder.OnSample(MakeSample(150, {1, 2}, /*weight=*/3));
  recorder.OnSample(MakeSample(160, {1, 3}));
  recorder.OnLost(4);
  EXPECT_EQ(recorder.counts().size(), 2u);
  EXPECT_EQ(recorder.counts().at(StackKey{{1, 2}, 0}), 4);
  EXPECT_EQ(recorder.lost(), 4);
  EXPECT_EQ(recorder.threads(), 1u);
}

// Samples are looked up without being copied first: a stack that only
// starts like a counted one, or has its pcs but another label set or
// comes from an agent thread, is a stack of its own.
TEST(CpuProfileRecorderTest, KeepsStacksApartByEveryPartOfTheirKey) {
  CpuProfileRecorder recorder(0);
  RawSample plain = MakeSample(1, {1, 2});
  RawSample longer = MakeSample(1, {1, 2, 3});
  RawSample shorter = MakeSample(1, {1});
  RawSample labelled = MakeSample(1, {1, 2});
  labelled.label_set = 7;
  RawSample agent = MakeSample(1, {1, 2});
  agent.agent_thread = 1;
  for (const RawSample* sample :
       {&plain, &longer, &shorter, &labelled, &agent, &plain, &labelled}) {
    recorder.OnSample(*sample);
  }
  EXPECT_EQ(recorder.counts().size(), 5u);
  EXPECT_EQ(recorder.counts().at(StackKey{{1, 2}, 0}), 2);
  EXPECT_EQ(recorder.counts().at(StackKey{{1, 2, 3}, 0}), 1);
  EXPECT_EQ(recorder.counts().at(StackKey{{1}, 0}), 1);
  EXPECT_EQ(recorder.counts().at(StackKey{{1, 2}, 7}), 2);
  EXPECT_EQ(recorder.counts().at(StackKey{{1, 2}, 0, true}), 1);
}

TEST(CpuProfileTest, CarriesGoCpuProfileHeaderAndValues) {
  uint64_t leaf = reinterpret_cast<uint64_t>(&Leaf) + 4;
  // A return address into Caller: just after its call instruction.
  uint64_t ret = reinterpret_cast<uint64_t>(&Caller) + 9;
  CpuProfileRecorder recorder(0);
  for (int i = 0; i < 5; ++i) recorder.OnSample(MakeSample(1, {leaf, ret}));
  recorder.OnLost(2);
  CpuProfileInfo info;
  info.hz = 100;
  info.start_unix_nanos = 1700000000000000000;
  info.duration_nanos = 5000000000;
  info.comments = {"hello"};
  Symbolizer symbolizer;
  Profile profile = BuildCpuProfile(recorder, info, &symbolizer);

  ASSERT_TRUE(CheckValid(profile).ok()) << CheckValid(profile).ToString();
  ASSERT_EQ(profile.sample_types.size(), 2u);
  EXPECT_EQ(profile.sample_types[0].type, "samples");
  EXPECT_EQ(profile.sample_types[0].unit, "count");
  EXPECT_EQ(profile.sample_types[1].type, "cpu");
  EXPECT_EQ(profile.sample_types[1].unit, "nanoseconds");
  EXPECT_EQ(profile.period_type.type, "cpu");
  EXPECT_EQ(profile.period, 10000000);
  EXPECT_EQ(profile.time_nanos, info.start_unix_nanos);
  EXPECT_EQ(profile.duration_nanos, info.duration_nanos);
  EXPECT_EQ(profile.comments, info.comments);

  ASSERT_EQ(profile.samples.size(), 2u);
  const Sample& hot = profile.samples[0];
  EXPECT_EQ(hot.values, (std::vector<int64_t>{5, 50000000}));
  ASSERT_EQ(hot.location_ids.size(), 2u);
  // The leaf keeps its pc; the caller frame is the return address - 1.
  EXPECT_EQ(profile.locations[hot.location_ids[0] - 1].address, leaf);
  EXPECT_EQ(profile.locations[hot.location_ids[1] - 1].address, ret - 1);
  EXPECT_THAT(FunctionOf(profile, hot.location_ids[0]).name, HasSubstr("Leaf"));
  EXPECT_THAT(FunctionOf(profile, hot.location_ids[1]).name,
              HasSubstr("Caller"));

  const Sample& lost = profile.samples[1];
  EXPECT_EQ(lost.values, (std::vector<int64_t>{2, 20000000}));
  EXPECT_EQ(FunctionOf(profile, lost.location_ids[0]).name, kLostSamplesFrame);

  ASSERT_FALSE(profile.mappings.empty());
  EXPECT_TRUE(profile.mappings[0].has_functions);
  EXPECT_TRUE(ValidateEncoded(SerializeProfile(profile)).ok());
}

TEST(CpuProfileTest, OutputIsDeterministic) {
  CpuProfileRecorder recorder(0);
  uint64_t leaf = reinterpret_cast<uint64_t>(&Leaf) + 2;
  for (uint64_t i = 0; i < 20; ++i) {
    recorder.OnSample(MakeSample(1, {leaf, leaf + 100 + i % 5}));
  }
  Symbolizer symbolizer;
  CpuProfileInfo info;
  info.start_unix_nanos = 1;
  std::string first =
      EncodeProfile(BuildCpuProfile(recorder, info, &symbolizer));
  std::string second =
      EncodeProfile(BuildCpuProfile(recorder, info, &symbolizer));
  EXPECT_EQ(first, second);
}

// The same stack under two label sets is two samples; the unlabelled one
// has no labels at all (profiles without scopes are as before).
TEST(CpuProfileTest, LabelSetsSplitSamples) {
  const uint64_t users = LabelRegistry::Global().Derive(
      0, "GET /users", std::span<const inprof::Label>());
  uint64_t leaf = reinterpret_cast<uint64_t>(&Leaf) + 4;
  CpuProfileRecorder recorder(0);
  RawSample labelled = MakeSample(1, {leaf});
  labelled.label_set = users;
  for (int i = 0; i < 3; ++i) recorder.OnSample(labelled);
  recorder.OnSample(MakeSample(1, {leaf}));
  CpuProfileInfo info;
  info.hz = 100;
  Symbolizer symbolizer;
  Profile p = BuildCpuProfile(recorder, info, &symbolizer);
  ASSERT_EQ(p.samples.size(), 2u);
  EXPECT_EQ(p.samples[0].values[0], 3);
  ASSERT_EQ(p.samples[0].labels.size(), 1u);
  EXPECT_EQ(p.samples[0].labels[0].key, "endpoint");
  EXPECT_EQ(p.samples[0].labels[0].str, "GET /users");
  EXPECT_EQ(p.samples[1].values[0], 1);
  EXPECT_TRUE(p.samples[1].labels.empty());
  EXPECT_EQ(p.samples[0].location_ids, p.samples[1].location_ids);
}

// Per-thread samples by tid, and each inprof.UnsampledCPU thread as one
// sample of its own: the nanoseconds as measured, their periods rounded, the
// thread's name (UTF-8 repaired) and id as labels.
TEST(CpuProfileTest, UnsampledThreadsAreOneLabelledSampleEach) {
  uint64_t leaf = reinterpret_cast<uint64_t>(&Leaf) + 4;
  CpuProfileRecorder recorder(0);
  RawSample sample = MakeSample(1, {leaf}, /*weight=*/2);
  sample.tid = 7;
  recorder.OnSample(sample);
  sample.tid = 8;
  recorder.OnSample(sample);
  recorder.OnSample(sample);
  EXPECT_EQ(recorder.threads(), 2u);
  EXPECT_EQ(recorder.periods_by_thread().at(7), 2);
  EXPECT_EQ(recorder.periods_by_thread().at(8), 4);
  CpuProfileInfo info;
  info.hz = 100;
  info.unsampled = {{41, "worker", 0, 0, 14'999'999},
                    {42, "bad\xff", 0, 0, 25'000'000}};
  Symbolizer symbolizer;
  Profile p = BuildCpuProfile(recorder, info, &symbolizer);
  ASSERT_EQ(p.samples.size(), 3u);
  for (int i = 1; i <= 2; ++i) {
    const Sample& unsampled = p.samples[i];
    ASSERT_EQ(unsampled.location_ids.size(), 1u);
    EXPECT_EQ(FunctionOf(p, unsampled.location_ids[0]).name,
              kUnsampledCpuFrame);
    ASSERT_EQ(unsampled.labels.size(), 2u);
    EXPECT_EQ(unsampled.labels[0].key, "thread_name");
    EXPECT_EQ(unsampled.labels[1].key, "thread_id");
    EXPECT_EQ(unsampled.labels[1].num, 40 + i);
  }
  EXPECT_EQ(p.samples[1].values, (std::vector<int64_t>{1, 14'999'999}));
  EXPECT_EQ(p.samples[1].labels[0].str, "worker");
  EXPECT_EQ(p.samples[2].values, (std::vector<int64_t>{3, 25'000'000}));
  EXPECT_EQ(p.samples[2].labels[0].str, "bad\uFFFD");
  EXPECT_TRUE(CheckValid(p).ok()) << CheckValid(p).ToString();
}

// The agent's own threads' samples carry inprof_agent_thread="true" and are
// named by function only, after the host's: an address both share (here the
// return address into Caller) keeps the host's file:line, although the
// agent's stack has more samples and would otherwise be symbolized first.
TEST(CpuProfileTest, AgentThreadsAreLabelledAndNamedByFunctionOnly) {
  const uint64_t leaf = reinterpret_cast<uint64_t>(&Leaf) + 4;
  const uint64_t agent_leaf = reinterpret_cast<uint64_t>(&AgentLeaf) + 4;
  const uint64_t ret = reinterpret_cast<uint64_t>(&Caller) + 9;
  CpuProfileRecorder recorder(0);
  RawSample agent = MakeSample(1, {agent_leaf, ret}, /*weight=*/5);
  agent.agent_thread = 1;
  recorder.OnSample(agent);
  recorder.OnSample(MakeSample(1, {leaf, ret}));
  CpuProfileInfo info;
  info.hz = 100;
  Symbolizer symbolizer;
  Profile p = BuildCpuProfile(recorder, info, &symbolizer);
  ASSERT_TRUE(CheckValid(p).ok()) << CheckValid(p).ToString();
  ASSERT_EQ(p.samples.size(), 2u);

  const Sample& host = p.samples[0];
  EXPECT_EQ(host.values[0], 1);
  EXPECT_TRUE(host.labels.empty());
  const Sample& ours = p.samples[1];
  EXPECT_EQ(ours.values[0], 5);
  ASSERT_EQ(ours.labels.size(), 1u);
  EXPECT_EQ(ours.labels[0].key, kAgentThreadLabel);
  EXPECT_EQ(ours.labels[0].str, "true");

  ASSERT_EQ(ours.location_ids.size(), 2u);
  EXPECT_EQ(ours.location_ids[1], host.location_ids[1]);  // one location
  for (uint64_t id : host.location_ids) {
    const Location& location = p.locations.at(id - 1);
    EXPECT_GT(location.lines.back().line, 0) << FunctionOf(p, id).name;
    EXPECT_FALSE(FunctionOf(p, id).filename.empty());
  }
  const Location& agent_only = p.locations.at(ours.location_ids[0] - 1);
  EXPECT_THAT(FunctionOf(p, ours.location_ids[0]).name, HasSubstr("AgentLeaf"));
  ASSERT_EQ(agent_only.lines.size(), 1u);
  EXPECT_EQ(agent_only.lines[0].line, 0);
  EXPECT_TRUE(FunctionOf(p, ours.location_ids[0]).filename.empty());
}

}  // namespace
}  // namespace inprof::internal
