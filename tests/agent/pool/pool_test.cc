// inprof::Pool<T>: exact counters, reset on every return, the idle bound,
// misuse refused and counted, names, and concurrency (also under ASan and
// TSan): handles passed between threads, threads that exit with caches,
// pools destroyed after threads that used them.

#include "inprof/pool.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <atomic>
#include <deque>
#include <mutex>
#include <stdexcept>
#include <thread>
#include <vector>

namespace inprof {
namespace {

struct Request {
  int value = 0;
  std::atomic<int> holders{0};  // > 1 would mean two users at once
  char payload[1000] = {};
};

// Movable, for a factory that returns it by value.
struct Plain {
  int value = 0;
  std::vector<char> data;
};

std::atomic<int> g_resets{0};

PoolStats StatsOf(const std::string& name) {
  for (const PoolStats& stats : AllPoolStats()) {
    if (stats.name == name) return stats;
  }
  return PoolStats{};
}

TEST(PoolTest, ExactCountersSingleThreaded) {
  Pool<Request> pool("exact");
  ASSERT_TRUE(pool.status().ok()) << pool.status().ToString();
  {
    PoolPtr<Request> a = pool.Get(), b = pool.Get(), c = pool.Get();
    PoolStats s = pool.stats();
    EXPECT_EQ(s.created, 3u);
    EXPECT_EQ(s.acquired, 3u);
    EXPECT_EQ(s.released, 0u);
    EXPECT_EQ(s.in_use, 3u);
    EXPECT_EQ(s.idle, 0u);
  }
  PoolStats s = pool.stats();
  EXPECT_EQ(s.released, 3u);
  EXPECT_EQ(s.in_use, 0u);
  EXPECT_EQ(s.idle, 3u);
  EXPECT_EQ(s.high_water, 3u);
  for (int i = 0; i < 9; ++i) {
    PoolPtr<Request> again = pool.Get();
  }
  s = pool.stats();
  EXPECT_EQ(s.created, 3u);  // all reused
  EXPECT_EQ(s.acquired, 12u);
  EXPECT_EQ(s.released, 12u);
  EXPECT_DOUBLE_EQ(s.reuse_ratio(), 4.0);
  EXPECT_EQ(s.dropped, 0u);
  EXPECT_EQ(s.misuses, 0u);
  // The registry serves the same figures.
  EXPECT_EQ(StatsOf("exact").acquired, 12u);
}

TEST(PoolTest, ObjectsComeBackResetAndFactoryMakesThem) {
  int made = 0;
  int resets = 0;
  Pool<Plain> pool(
      "reset",
      [&made] {
        ++made;
        return Plain{0, std::vector<char>(64)};
      },
      [&resets](Plain& r) {
        ++resets;
        r.value = 0;
      });
  {
    PoolPtr<Plain> r = pool.Get();
    EXPECT_EQ(r->data.size(), 64u);  // made by the factory
    r->value = 42;
  }
  PoolPtr<Plain> r = pool.Get();
  EXPECT_EQ(r->value, 0);
  EXPECT_EQ(resets, 1);
  r.reset();
  EXPECT_EQ(resets, 2);
  EXPECT_EQ(made, 1);
  EXPECT_EQ(pool.stats().created, 1u);
}

TEST(PoolTest, AThrowingFactoryCountsNothing) {
  bool fail = true;
  Pool<Plain> pool(
      "throwing",
      [&fail] {
        if (fail) throw std::runtime_error("no");
        return Plain{};
      },
      nullptr);
  EXPECT_THROW((void)pool.Get(), std::runtime_error);
  PoolStats s = pool.stats();
  EXPECT_EQ(s.created, 0u);
  EXPECT_EQ(s.acquired, 0u);
  EXPECT_EQ(s.in_use, 0u);
  fail = false;
  { PoolPtr<Plain> works = pool.Get(); }
  EXPECT_EQ(pool.stats().created, 1u);
  EXPECT_EQ(pool.stats().released, 1u);
}

TEST(PoolTest, IdleBoundDropsTheExcess) {
  PoolOptions options;
  options.max_idle = 4;
  options.thread_cache = 2;
  Pool<Request> pool("bounded", options);
  {
    std::vector<PoolPtr<Request>> out;
    for (int i = 0; i < 20; ++i) out.push_back(pool.Get());
  }
  PoolStats s = pool.stats();
  EXPECT_EQ(s.released, 20u);
  EXPECT_EQ(s.idle + s.dropped, 20u);
  EXPECT_LE(s.idle, options.max_idle + options.thread_cache);
  EXPECT_GE(s.dropped, 20u - (options.max_idle + options.thread_cache));
}

TEST(PoolTest, MisuseIsRefusedAndCounted) {
  // Built with NDEBUG (RelWithDebInfo): refused and counted, never aborted;
  // pool_debug_test.cc checks the debug build's stop.
  Pool<Request> pool("misuse");
  Pool<Request> other("misuse-other");
  Request* raw = pool.Get().release();
  pool.Put(raw);
  pool.Put(raw);  // twice
  EXPECT_EQ(pool.stats().misuses, 1u);
  EXPECT_EQ(pool.stats().released, 1u);
  Request* foreign = other.Get().release();
  pool.Put(foreign);  // wrong pool: refused, still out of `other`
  EXPECT_EQ(pool.stats().misuses, 2u);
  EXPECT_EQ(other.stats().in_use, 1u);
  other.Put(foreign);
  EXPECT_EQ(other.stats().in_use, 0u);
  // The pool is intact: one idle object, handed out once more.
  PoolPtr<Request> again = pool.Get();
  PoolPtr<Request> fresh = pool.Get();
  EXPECT_NE(again.get(), fresh.get());
  EXPECT_EQ(pool.stats().created, 2u);
}

TEST(PoolTest, NamesAreUniqueAndUnregisteredOnDestruction) {
  {
    Pool<Request> first("unique-name");
    Pool<Request> second("unique-name");
    EXPECT_TRUE(first.status().ok());
    EXPECT_EQ(second.status().code(), StatusCode::kAlreadyExists);
    EXPECT_THAT(second.status().message(), ::testing::HasSubstr("unique-name"));
    PoolPtr<Request> works = second.Get();  // still a working pool
    EXPECT_TRUE(works);
    int listed = 0;
    for (const PoolStats& s : AllPoolStats()) listed += s.name == "unique-name";
    EXPECT_EQ(listed, 1);
  }
  for (const PoolStats& s : AllPoolStats()) EXPECT_NE(s.name, "unique-name");
  Pool<Request> reborn("unique-name");  // free again
  EXPECT_TRUE(reborn.status().ok());
}

TEST(PoolTest, SharedHandleReturnsOnLastRelease) {
  Pool<Request> pool("shared");
  SharedPoolPtr<Request> a = pool.Get().Share();
  SharedPoolPtr<Request> b = a;
  EXPECT_EQ(a.use_count(), 2u);
  std::thread other([copy = b]() mutable { copy.reset(); });
  other.join();
  a.reset();
  EXPECT_EQ(pool.stats().in_use, 1u);  // b still holds it
  b.reset();
  EXPECT_EQ(pool.stats().in_use, 0u);
  EXPECT_EQ(pool.stats().released, 1u);
}

// Many threads take objects, pass shared handles to each other through a
// queue, and let go on whichever thread holds the last reference.
TEST(PoolTest, ConcurrentHandOffsAcrossThreads) {
  Pool<Request> pool("concurrent", [](Request& r) {
    g_resets.fetch_add(1, std::memory_order_relaxed);
    r.value = 0;
  });
  g_resets = 0;
  std::mutex mu;
  std::deque<SharedPoolPtr<Request>> queue;
  std::atomic<bool> misuse{false};
  constexpr int kThreads = 4;
  constexpr int kRounds = 5000;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kRounds; ++i) {
        SharedPoolPtr<Request> mine = pool.Get().Share();
        if (mine->holders.fetch_add(1) != 0) misuse = true;
        if (mine->value != 0) misuse = true;  // came back reset
        mine->value = t + 1;
        mine->holders.fetch_sub(1);
        SharedPoolPtr<Request> theirs;
        {
          std::lock_guard<std::mutex> lock(mu);
          queue.push_back(mine);  // another reference, for another thread
          if (queue.size() > 8) {
            theirs = std::move(queue.front());
            queue.pop_front();
          }
        }
        mine.reset();  // the queue's copy (or a later one) returns it
        theirs.reset();
      }
    });
  }
  for (std::thread& thread : threads) thread.join();
  queue.clear();
  EXPECT_FALSE(misuse);
  PoolStats s = pool.stats();
  EXPECT_EQ(s.acquired, static_cast<uint64_t>(kThreads * kRounds));
  EXPECT_EQ(s.released, s.acquired);
  EXPECT_EQ(s.in_use, 0u);
  EXPECT_EQ(s.misuses, 0u);
  EXPECT_EQ(static_cast<uint64_t>(g_resets.load()), s.released);
  EXPECT_LT(s.created, s.acquired / 10);  // mostly reuse
}

TEST(PoolTest, ThreadsExitWithCachesAndThePoolOutlivesThem) {
  Pool<Request> pool("exiting-threads");
  for (int round = 0; round < 3; ++round) {
    std::vector<std::thread> threads;
    for (int t = 0; t < 4; ++t) {
      threads.emplace_back([&] {
        for (int i = 0; i < 100; ++i) {
          PoolPtr<Request> r = pool.Get();
        }
      });
    }
    for (std::thread& thread : threads) thread.join();
  }
  PoolStats s = pool.stats();
  EXPECT_EQ(s.acquired, 1200u);
  EXPECT_EQ(s.released, 1200u);
  EXPECT_EQ(s.in_use, 0u);
  EXPECT_GT(s.idle, 0u);
  // Each thread needs one object at a time. Exited threads' caches went back
  // to the depot, where the next round's threads found them: without that
  // flush every round would make 4 more.
  EXPECT_LE(s.created, 6u);
}

TEST(PoolTest, PoolDestroyedBeforeTheThreadsThatUsedItExit) {
  auto pool = std::make_unique<Pool<Request>>("dies-first");
  std::atomic<int> phase{0};
  std::thread user([&] {
    { PoolPtr<Request> r = pool->Get(); }  // leaves a cache behind
    phase = 1;
    while (phase.load() != 2) std::this_thread::yield();
    // The pool is gone; a new one must not see the old cache.
    Pool<Request> next("dies-first-next");
    PoolPtr<Request> r = next.Get();
    EXPECT_EQ(next.stats().created, 1u);
  });
  while (phase.load() != 1) std::this_thread::yield();
  pool.reset();
  phase = 2;
  user.join();  // its exit hook must skip the dead pool
}

TEST(PoolTest, ManyPoolsOnOneThread) {
  // More pools than a thread's cache table has slots: the rest go through
  // the depot, and every count stays exact.
  std::vector<std::unique_ptr<Pool<Request>>> pools;
  for (int i = 0; i < 40; ++i) {
    pools.push_back(
        std::make_unique<Pool<Request>>("many-" + std::to_string(i)));
  }
  for (int round = 0; round < 3; ++round) {
    for (auto& pool : pools) {
      PoolPtr<Request> r = pool->Get();
    }
  }
  for (auto& pool : pools) {
    PoolStats s = pool->stats();
    EXPECT_EQ(s.created, 1u) << s.name;
    EXPECT_EQ(s.acquired, 3u) << s.name;
    EXPECT_EQ(s.released, 3u) << s.name;
  }
}

#if defined(__SANITIZE_ADDRESS__)
TEST(PoolDeathTest, UseAfterReturnIsReportedByAddressSanitizer) {
  Pool<Request> pool("asan-poison");
  Request* raw = pool.Get().release();
  pool.Put(raw);
  EXPECT_DEATH(raw->value = 1, "use-after-poison");
}
#endif

}  // namespace
}  // namespace inprof
