#include "agent/flight/slow_requests.h"

#include <gtest/gtest.h>

namespace inprof::internal {
namespace {

RequestEnd EndAt(uint64_t end_ns, uint64_t id) {
  return RequestEnd{0, id, end_ns - 1, end_ns};
}

// One test: the queue is process-wide. Times are the requests' own end
// times, chosen here: the rate is judged on them, not on a clock.
TEST(SlowRequestQueueTest, AStormIsCutToTheRateAndTheQueueIsBounded) {
  SlowRequestQueue& queue = SlowRequestQueue::Global();
  const uint64_t t0 = 1'000'000'000'000;
  // A storm of 1000 slow requests within 1 ms: the burst passes, no more.
  for (uint64_t i = 0; i < 1000; ++i) {
    SlowRequestQueue::Push(EndAt(t0 + i * 1000, i + 1));
  }
  SlowRequestQueue::Stats stats = queue.stats();
  EXPECT_EQ(stats.accepted, static_cast<uint64_t>(SlowRequestQueue::kBurst));
  EXPECT_EQ(stats.over_rate, 1000 - stats.accepted);
  // Ten seconds later the bucket is full again; requests one second apart
  // are all taken (the default allows a capture a second).
  for (uint64_t i = 0; i < 10; ++i) {
    SlowRequestQueue::Push(EndAt(t0 + (10 + i) * 1'000'000'000, 2000 + i));
  }
  stats = queue.stats();
  // 4 + 10 offered, the queue holds 16: nothing over the rate or full.
  EXPECT_EQ(stats.accepted, 14u);
  EXPECT_EQ(stats.over_rate, 996u);
  EXPECT_EQ(stats.queue_full, 0u);
  // Oldest first.
  std::optional<RequestEnd> first = queue.Pop(std::chrono::milliseconds(0));
  ASSERT_TRUE(first);
  EXPECT_EQ(first->request_id, 1u);
  int left = 0;
  while (queue.Pop(std::chrono::milliseconds(0))) ++left;
  EXPECT_EQ(left, 13);
  // Nobody popping: the queue stops at kMaxQueued.
  for (uint64_t i = 0; i < 40; ++i) {
    SlowRequestQueue::Push(EndAt(t0 + (100 + i) * 1'000'000'000, 3000 + i));
  }
  stats = queue.stats();
  EXPECT_EQ(stats.queue_full, 40 - SlowRequestQueue::kMaxQueued);
  while (queue.Pop(std::chrono::milliseconds(0))) {
  }

  // A slower rate, set at run time: one capture every 10 s, one at once.
  queue.SetRate(0.1, 1);
  const uint64_t t1 = t0 + 1000 * uint64_t{1'000'000'000};
  EXPECT_TRUE(queue.TakeToken(t1));  // a hung request's live capture
  EXPECT_FALSE(queue.TakeToken(t1 + 1'000'000'000));
  // That request's end completes its capture, over the rate or not; other
  // slow requests' ends are over the rate.
  ASSERT_TRUE(queue.Await(5000));
  SlowRequestQueue::Push(EndAt(t1 + 2'000'000'000, 4999));
  SlowRequestQueue::Push(EndAt(t1 + 2'000'000'000, 5000));
  std::optional<RequestEnd> awaited = queue.Pop(std::chrono::milliseconds(0));
  ASSERT_TRUE(awaited);
  EXPECT_EQ(awaited->request_id, 5000u);
  EXPECT_FALSE(queue.Pop(std::chrono::milliseconds(0)));
  // Awaited once only.
  SlowRequestQueue::Push(EndAt(t1 + 3'000'000'000, 5000));
  EXPECT_FALSE(queue.Pop(std::chrono::milliseconds(0)));
  queue.SetRate(SlowRequestQueue::kPerSecond, SlowRequestQueue::kBurst);
}

}  // namespace
}  // namespace inprof::internal
