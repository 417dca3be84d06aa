#include "agent/flight/history.h"

#include <gtest/gtest.h>

#include <cstddef>
#include <cstring>
#include <random>
#include <thread>
#include <vector>

namespace inprof::internal {
namespace {

RawSample Sample(uint64_t request_id, uint64_t timestamp_ns) {
  RawSample s{};
  s.request_id = request_id;
  s.timestamp_ns = timestamp_ns;
  s.depth = 1;
  s.pcs[0] = 0x1000 + request_id;
  s.weight = 1;
  return s;
}

// A ring that holds exactly `count` samples shaped like Sample(...).
HistoryRing RingOf(size_t count) {
  return HistoryRing(count * HistoryRing::RecordBytes(Sample(1, 1)));
}

// Every byte before `pcs`, and the first `depth` pcs, are equal.
void ExpectSameSample(const RawSample& got, const RawSample& want) {
  EXPECT_EQ(std::memcmp(&got, &want, offsetof(RawSample, pcs)), 0);
  ASSERT_EQ(got.depth, want.depth);
  for (uint32_t i = 0; i < want.depth; ++i) {
    EXPECT_EQ(got.pcs[i], want.pcs[i]) << "frame " << i;
  }
}

TEST(HistoryRingTest, KeepsOnlySamplesInRequestsAndFindsARequestsOwn) {
  HistoryRing ring = RingOf(16);
  ring.Add(Sample(0, 5));  // outside any request: not kept
  ring.Add(Sample(7, 10));
  ring.Add(Sample(8, 11));
  ring.Add(Sample(7, 12));
  ring.Add(Sample(7, 30));
  EXPECT_EQ(ring.kept(), 4u);
  HistoryRing::Window window = ring.ForRequest(7, 11);
  ASSERT_EQ(window.samples.size(), 2u);  // the one at 10 is before the start
  EXPECT_EQ(window.samples[0].timestamp_ns, 12u);
  EXPECT_EQ(window.samples[1].timestamp_ns, 30u);
  EXPECT_EQ(window.history_starts_ns, 0u);  // nothing overwritten
  EXPECT_TRUE(ring.ForRequest(9, 0).samples.empty());
}

TEST(HistoryRingTest, SaysWhenARequestsStartWasOverwritten) {
  HistoryRing ring = RingOf(4);
  for (uint64_t t = 1; t <= 10; ++t) ring.Add(Sample(3, t * 10));
  HistoryRing::Window window = ring.ForRequest(3, 5);
  ASSERT_EQ(window.samples.size(), 4u);  // the newest four, oldest first
  EXPECT_EQ(window.samples.front().timestamp_ns, 70u);
  EXPECT_EQ(window.samples.back().timestamp_ns, 100u);
  EXPECT_EQ(window.history_starts_ns, 70u);
  // A request that started within what is held is whole.
  EXPECT_EQ(ring.ForRequest(3, 80).history_starts_ns, 0u);
}

TEST(HistoryRingTest, RoundTripsEveryFieldAndDeepStacksAcrossTheWrap) {
  // Stacks of every depth with pcs far apart (kernel, heap, zero, the
  // largest values), so the varint deltas take every length, and a ring
  // size that is no multiple of a record: records straddle the end.
  std::mt19937_64 random(14);
  std::vector<RawSample> added;
  HistoryRing ring(40'009);
  for (uint32_t i = 0; i < 400; ++i) {
    // Every byte before pcs random first, so that a field added there
    // is checked too; then the fields the ring reads set to sense.
    RawSample s{};
    auto* header = reinterpret_cast<uint8_t*>(&s);
    for (size_t b = 0; b < offsetof(RawSample, pcs); ++b) header[b] = random();
    s.timestamp_ns = 1'000 + i;
    s.label_set = random();
    s.request_id = 1 + i % 3;
    s.tid = static_cast<uint32_t>(random());
    s.weight = i % 2 == 0 ? 1 + i % 4 : 0;
    s.truncated = i % 5 == 0;
    s.wall_nanos = s.weight == 0 ? 10'000'000 + i : 0;
    s.depth = 1 + i % kMaxStackDepth;
    for (uint32_t f = 0; f < s.depth; ++f) {
      switch ((i + f) % 4) {
        case 0:
          s.pcs[f] = 0x55d0'0000'0000 + (random() & 0xffffff);
          break;
        case 1:
          s.pcs[f] = 0xffff'ffff'8100'0000 + (random() & 0xffff);
          break;
        case 2:
          s.pcs[f] = random();
          break;
        default:
          s.pcs[f] = f % 8 == 0 ? 0 : ~uint64_t{0};
          break;
      }
    }
    ring.Add(s);
    added.push_back(s);
  }
  for (uint64_t request = 1; request <= 3; ++request) {
    HistoryRing::Window window = ring.ForRequest(request, 0);
    ASSERT_FALSE(window.samples.empty());
    EXPECT_NE(window.history_starts_ns, 0u);  // 400 deep samples do not fit
    // The held samples are the request's newest, in order.
    size_t want = added.size();
    for (size_t got = window.samples.size(); got-- > 0;) {
      while (added[--want].request_id != request) {
      }
      ExpectSameSample(window.samples[got], added[want]);
    }
  }
}

TEST(HistoryRingTest, HoldsManyMoreShallowSamplesThanDeepOnes) {
  RawSample shallow = Sample(1, 1);
  RawSample deep = shallow;
  deep.depth = kMaxStackDepth;
  for (uint32_t f = 0; f < kMaxStackDepth; ++f) deep.pcs[f] = 0x400000 + f;
  EXPECT_LT(HistoryRing::RecordBytes(shallow), 100u);
  EXPECT_LT(HistoryRing::RecordBytes(deep), sizeof(RawSample) / 2);
  EXPECT_GT(HistoryRing::RecordBytes(deep), HistoryRing::RecordBytes(shallow));

  HistoryRing ring(10 * HistoryRing::RecordBytes(deep));
  for (uint64_t t = 1; t <= 1000; ++t) {
    shallow.timestamp_ns = t;
    ring.Add(shallow);
  }
  const HistoryRing::Usage usage = ring.usage();
  EXPECT_GT(usage.samples, 10u);
  EXPECT_LE(usage.bytes, ring.capacity_bytes());
  EXPECT_EQ(usage.samples * HistoryRing::RecordBytes(shallow), usage.bytes);
  EXPECT_EQ(usage.newest_ns, 1000u);
  EXPECT_EQ(usage.oldest_ns, 1000u - usage.samples + 1);
}

TEST(HistoryRingTest, ARingTooSmallForASampleKeepsNone) {
  HistoryRing ring(HistoryRing::RecordBytes(Sample(1, 1)) - 1);
  ring.Add(Sample(1, 1));
  EXPECT_EQ(ring.kept(), 0u);
  EXPECT_TRUE(ring.ForRequest(1, 0).samples.empty());
  EXPECT_EQ(ring.usage().samples, 0u);
  HistoryRing empty(0);
  empty.Add(Sample(1, 1));
  EXPECT_TRUE(empty.ForRequest(1, 0).samples.empty());
}

TEST(HistoryRingTest, WritersAndReadersTogether) {
  // Under ThreadSanitizer in CI.
  HistoryRing ring = RingOf(64);
  std::thread writer([&] {
    for (uint64_t i = 1; i <= 5000; ++i) ring.Add(Sample(i % 5 + 1, i));
  });
  size_t seen = 0;
  for (int i = 0; i < 200; ++i) seen += ring.ForRequest(2, 0).samples.size();
  writer.join();
  EXPECT_EQ(ring.kept(), 5000u);
  EXPECT_LE(ring.ForRequest(2, 0).samples.size(), 64u);
  (void)seen;
}

}  // namespace
}  // namespace inprof::internal
