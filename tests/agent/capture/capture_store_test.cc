#include "agent/capture/capture_store.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <thread>
#include <vector>

namespace inprof::internal {
namespace {

std::vector<uint64_t> Ids(const CaptureStore& store) {
  std::vector<uint64_t> ids;
  for (const CaptureStore::Info& i : store.List()) ids.push_back(i.id);
  return ids;
}

TEST(CaptureStoreTest, KeepsCapturesWithIdsNeverReused) {
  CaptureStore store;
  uint64_t a = store.Add("heap", 0, "aaa");
  uint64_t b = store.Add("cpu", 5, "bbbb");
  EXPECT_EQ(a, 1u);
  EXPECT_EQ(b, 2u);
  EXPECT_EQ(store.Bytes(a), "aaa");
  EXPECT_EQ(store.Bytes(b), "bbbb");
  EXPECT_FALSE(store.Bytes(3).has_value());
  std::vector<CaptureStore::Info> list = store.List();
  ASSERT_EQ(list.size(), 2u);
  EXPECT_EQ(list[1].profile, "cpu");
  EXPECT_EQ(list[1].seconds, 5);
  EXPECT_EQ(list[1].bytes, 4u);
  EXPECT_GT(list[1].unix_nanos, 1700000000000000000);
}

TEST(CaptureStoreTest, DropsTheOldestPastEitherBound) {
  CaptureStore by_count(3, 1000);
  for (int i = 0; i < 5; ++i) by_count.Add("heap", 0, "x");
  EXPECT_THAT(Ids(by_count), ::testing::ElementsAre(3, 4, 5));
  EXPECT_FALSE(by_count.Bytes(1).has_value());

  CaptureStore by_bytes(10, 10);
  by_bytes.Add("heap", 0, std::string(4, 'a'));
  by_bytes.Add("heap", 0, std::string(4, 'b'));
  by_bytes.Add("heap", 0, std::string(4, 'c'));  // 12 bytes: drop the first
  EXPECT_THAT(Ids(by_bytes), ::testing::ElementsAre(2, 3));
  // Alone over the bound, the newest is still kept.
  by_bytes.Add("heap", 0, std::string(50, 'd'));
  EXPECT_THAT(Ids(by_bytes), ::testing::ElementsAre(4));
}

CaptureStore::Info RequestCapture(const std::string& endpoint) {
  CaptureStore::Info info;
  info.profile = "request";
  info.request.emplace();
  info.request->endpoint = endpoint;
  return info;
}

TEST(CaptureStoreTest, SlowRequestsHaveABudgetOfTheirOwn) {
  CaptureStore store(2, 1000);
  store.SetRequestLimits(3, 1000);
  const uint64_t ui = store.Add("heap", 0, "ui");
  // A storm of slow requests drops its own oldest, never the UI's capture.
  for (int i = 0; i < 10; ++i) store.Add(RequestCapture("GET /a"), "r");
  EXPECT_THAT(Ids(store), ::testing::ElementsAre(ui, 9, 10, 11));
  // Tighter limits apply at once.
  store.SetRequestLimits(1, 1000);
  EXPECT_THAT(Ids(store), ::testing::ElementsAre(ui, 11));
  // The UI's captures have theirs.
  store.Add("cpu", 5, "u2");
  store.Add("cpu", 5, "u3");
  EXPECT_THAT(Ids(store), ::testing::ElementsAre(11, 12, 13));
}

TEST(CaptureStoreTest, ReplaceCompletesACaptureInPlace) {
  CaptureStore store;
  CaptureStore::Info live = RequestCapture("GET /hang");
  live.request->running = true;
  const uint64_t id = store.Add(live, "partial");
  const uint64_t later = store.Add("heap", 0, "h");
  CaptureStore::Info done = RequestCapture("GET /hang");
  done.request->duration_nanos = 5'000'000'000;
  EXPECT_TRUE(store.Replace(id, done, "complete!"));
  EXPECT_THAT(Ids(store), ::testing::ElementsAre(id, later));
  EXPECT_EQ(store.Bytes(id), "complete!");
  const CaptureStore::Info listed = store.List()[0];
  EXPECT_EQ(listed.bytes, 9u);
  ASSERT_TRUE(listed.request);
  EXPECT_FALSE(listed.request->running);
  EXPECT_EQ(listed.request->duration_nanos, 5'000'000'000);
  EXPECT_FALSE(store.Replace(99, done, "x"));  // not stored: nothing happens
  EXPECT_FALSE(store.Bytes(99).has_value());
}

TEST(CaptureStoreTest, AProcessProfileIsAttachedAndCountsInTheBudget) {
  CaptureStore store;
  store.SetRequestLimits(16, 10);
  const uint64_t first = store.Add(RequestCapture("GET /a"), "r1");
  const uint64_t ui = store.Add("heap", 0, "ui");
  EXPECT_FALSE(store.ProcessBytes(first).has_value());
  EXPECT_FALSE(store.AttachProcessProfile(ui, 100, "p"));  // not a request's
  EXPECT_TRUE(store.AttachProcessProfile(first, 300, "process"));
  EXPECT_EQ(store.ProcessBytes(first), "process");
  EXPECT_EQ(store.List()[0].request->process_profile_ms, 300);
  // 2 + 7 bytes of 10: the next request's capture drops the first.
  const uint64_t second = store.Add(RequestCapture("GET /b"), "r2");
  EXPECT_THAT(Ids(store), ::testing::ElementsAre(ui, second));
  EXPECT_FALSE(store.ProcessBytes(first).has_value());
  // Replacing a capture drops what was attached to it.
  EXPECT_TRUE(store.AttachProcessProfile(second, 300, "pp"));
  EXPECT_TRUE(store.Replace(second, RequestCapture("GET /b"), "r2'"));
  EXPECT_FALSE(store.ProcessBytes(second).has_value());
  EXPECT_EQ(store.List()[1].request->process_profile_ms, 0);
  EXPECT_FALSE(store.AttachProcessProfile(99, 300, "x"));
}

TEST(CaptureStoreTest, ConcurrentAddsAndReads) {
  CaptureStore store(8, 1 << 20);
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&store, t] {
      for (int i = 0; i < 200; ++i) {
        uint64_t id = store.Add("cpu", t, std::string(100, 'a' + t));
        std::optional<std::string> bytes = store.Bytes(id);
        if (bytes) {
          EXPECT_EQ(bytes->size(), 100u);
        }
        store.List();
      }
    });
  }
  for (std::thread& t : threads) t.join();
  std::vector<uint64_t> ids = Ids(store);
  ASSERT_EQ(ids.size(), 8u);
  EXPECT_EQ(ids.back(), 800u);
}

}  // namespace
}  // namespace inprof::internal
