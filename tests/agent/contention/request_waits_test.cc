#include "agent/contention/request_waits.h"

#include <gtest/gtest.h>

#include <thread>
#include <vector>

#include "agent/base/thread_labels.h"

namespace inprof::internal {
namespace {

// The thread works for request `id` while in scope.
class InRequest {
 public:
  explicit InRequest(uint64_t id) { SetCurrentRequestId(id); }
  ~InRequest() { SetCurrentRequestId(0); }
};

std::vector<RequestWait> DrainAll() {
  std::vector<RequestWait> waits;
  RequestWaits::Global().Drain(
      [&](const RequestWait& w) { waits.push_back(w); });
  return waits;
}

// One test: the instance is process-wide.
TEST(RequestWaitsTest, KeepsWaitsOfRequestsWhileEnabledAndBoundsThem) {
  RequestWaits& waits = RequestWaits::Global();
  const uint64_t pcs[3] = {0x1000, 0x2000, 0x3000};
  // Off: nothing kept, in a request or not.
  {
    InRequest request(7);
    EXPECT_FALSE(waits.Push(pcs, 3, 1024, 5000));
  }
  waits.SetEnabled(true);
  EXPECT_FALSE(waits.Push(pcs, 3, 1024, 5000));  // outside any request
  {
    InRequest request(7);
    EXPECT_TRUE(waits.Push(pcs, 3, 2048, 9000));
  }
  std::vector<RequestWait> kept = DrainAll();
  ASSERT_EQ(kept.size(), 1u);
  EXPECT_EQ(kept[0].request_id, 7u);
  EXPECT_EQ(kept[0].depth, 3u);
  EXPECT_EQ(kept[0].pcs[2], 0x3000u);
  EXPECT_EQ(kept[0].count, 2048u);
  EXPECT_EQ(kept[0].delay_nanos, 9000u);
  EXPECT_GT(kept[0].timestamp_ns, 0u);
  EXPECT_TRUE(DrainAll().empty());  // each once

  // Many threads at once, nobody draining: the slots bound what is kept,
  // the rest is counted, nothing is torn.
  const uint64_t dropped_before = waits.dropped();
  std::vector<std::thread> threads;
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([t, &pcs] {
      InRequest request(100 + t);
      for (int i = 0; i < 100; ++i) {
        RequestWaits::Global().Push(pcs, 3, 1024, 100 + t);
      }
    });
  }
  for (std::thread& t : threads) t.join();
  kept = DrainAll();
  EXPECT_EQ(kept.size(), RequestWaits::kSlots);
  EXPECT_EQ(waits.dropped() - dropped_before, 800 - RequestWaits::kSlots);
  for (const RequestWait& w : kept) {
    EXPECT_EQ(w.delay_nanos, w.request_id);  // the fields of one push
  }
  // A stack deeper than kept is cut, not overrun.
  std::vector<uint64_t> deep(kContentionMaxDepth + 10, 0x42);
  {
    InRequest request(9);
    EXPECT_TRUE(
        waits.Push(deep.data(), static_cast<int>(deep.size()), 1024, 1));
  }
  kept = DrainAll();
  ASSERT_EQ(kept.size(), 1u);
  EXPECT_EQ(kept[0].depth, static_cast<uint32_t>(kContentionMaxDepth));
  waits.SetEnabled(false);
}

}  // namespace
}  // namespace inprof::internal
