#include "agent/cpu/sample_ring.h"

#include <gtest/gtest.h>

#include <atomic>
#include <thread>
#include <vector>

#include "agent/cpu/cpu_sampler.h"

namespace inprof::internal {
namespace {

void Write(SampleRing& ring, uint32_t tid, uint64_t value) {
  SampleRing::Claim claim = ring.TryClaim();
  ASSERT_NE(claim.sample, nullptr);
  claim.sample->tid = tid;
  claim.sample->timestamp_ns = value;
  claim.sample->depth = 0;
  ring.Commit(claim);
}

TEST(SampleRingTest, RoundsCapacityUpToAPowerOfTwo) {
  EXPECT_EQ(SampleRing(100).capacity(), 128u);
  EXPECT_EQ(SampleRing(0).capacity(), 2u);
}

// The sampler's default ring holds twice what one 50 ms drain interval can
// bring: every core busy at hz, plus the wall sampler's 80.
TEST(SampleRingTest, TheDefaultRingFollowsTheMachinesCores) {
  EXPECT_EQ(SampleRing(DefaultRingCapacity(2, 100)).capacity(), 256u);
  EXPECT_EQ(SampleRing(DefaultRingCapacity(1, 1000)).capacity(), 512u);
  EXPECT_EQ(SampleRing(DefaultRingCapacity(64, 100)).capacity(), 1024u);
  EXPECT_EQ(SampleRing(DefaultRingCapacity(256, 250)).capacity(), 8192u);
  // No core count (sysconf failed) is one core.
  EXPECT_EQ(DefaultRingCapacity(-1, 100), DefaultRingCapacity(1, 100));
}

TEST(SampleRingTest, DeliversCommittedSamplesInClaimOrder) {
  SampleRing ring(8);
  for (uint64_t i = 0; i < 5; ++i) Write(ring, 1, i);
  std::vector<uint64_t> seen;
  EXPECT_EQ(
      ring.Drain([&](const RawSample& s) { seen.push_back(s.timestamp_ns); }),
      5u);
  EXPECT_EQ(seen, (std::vector<uint64_t>{0, 1, 2, 3, 4}));
  EXPECT_EQ(ring.Drain([](const RawSample&) {}), 0u);
}

TEST(SampleRingTest, FullRingCountsDropsInsteadOfBlocking) {
  SampleRing ring(4);
  for (uint64_t i = 0; i < 4; ++i) Write(ring, 1, i);
  EXPECT_EQ(ring.TryClaim().sample, nullptr);
  EXPECT_EQ(ring.TryClaim().sample, nullptr);
  EXPECT_EQ(ring.dropped(), 2u);
  ring.Drain([](const RawSample&) {});
  Write(ring, 1, 99);  // space again after the reader caught up
}

TEST(SampleRingTest, DrainStopsAtASlotStillBeingWritten) {
  SampleRing ring(8);
  SampleRing::Claim first = ring.TryClaim();
  Write(ring, 1, 2);  // second slot committed before the first
  EXPECT_EQ(ring.Drain([](const RawSample&) {}), 0u);
  first.sample->timestamp_ns = 1;
  ring.Commit(first);
  std::vector<uint64_t> seen;
  ring.Drain([&](const RawSample& s) { seen.push_back(s.timestamp_ns); });
  EXPECT_EQ(seen, (std::vector<uint64_t>{1, 2}));
}

TEST(SampleRingTest, ManyWritersAndOneReaderAccountForEverySample) {
  SampleRing ring(64);
  constexpr int kWriters = 4;
  constexpr uint64_t kPerWriter = 20000;
  std::atomic<int> running{kWriters};
  std::vector<std::thread> writers;
  for (int w = 0; w < kWriters; ++w) {
    writers.emplace_back([&, w] {
      for (uint64_t i = 0; i < kPerWriter; ++i) {
        SampleRing::Claim claim = ring.TryClaim();
        if (claim.sample == nullptr) continue;
        claim.sample->tid = static_cast<uint32_t>(w);
        claim.sample->timestamp_ns = i;
        ring.Commit(claim);
      }
      running.fetch_sub(1);
    });
  }
  uint64_t read = 0;
  std::vector<int64_t> last(kWriters, -1);
  bool ordered = true;
  auto visit = [&](const RawSample& s) {
    ++read;
    if (static_cast<int64_t>(s.timestamp_ns) <= last[s.tid]) ordered = false;
    last[s.tid] = static_cast<int64_t>(s.timestamp_ns);
  };
  while (running.load() > 0) ring.Drain(visit);
  for (std::thread& t : writers) t.join();
  ring.Drain(visit);
  EXPECT_EQ(read + ring.dropped(), kWriters * kPerWriter);
  EXPECT_TRUE(ordered) << "a writer's samples must come out in its order";
}

}  // namespace
}  // namespace inprof::internal
