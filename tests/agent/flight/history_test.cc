#include "agent/flight/history.h"

#include <gtest/gtest.h>

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

TEST(HistoryRingTest, KeepsOnlySamplesInRequestsAndFindsARequestsOwn) {
  HistoryRing ring(16);
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
  HistoryRing ring(4);
  for (uint64_t t = 1; t <= 10; ++t) ring.Add(Sample(3, t * 10));
  HistoryRing::Window window = ring.ForRequest(3, 5);
  ASSERT_EQ(window.samples.size(), 4u);  // the newest four, oldest first
  EXPECT_EQ(window.samples.front().timestamp_ns, 70u);
  EXPECT_EQ(window.samples.back().timestamp_ns, 100u);
  EXPECT_EQ(window.history_starts_ns, 70u);
  // A request that started within what is held is whole.
  EXPECT_EQ(ring.ForRequest(3, 80).history_starts_ns, 0u);
}

TEST(HistoryRingTest, WritersAndReadersTogether) {
  // Under ThreadSanitizer in CI.
  HistoryRing ring(64);
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
