// inprof::Mutex, SharedMutex and ConditionVariable as plain locks (no
// profiler running): the standard lock adaptors work, mutual exclusion holds
// under many threads (and under ThreadSanitizer, which sees them through
// their annotations), and timeouts behave as std::condition_variable's.

#include "inprof/mutex.h"

#include <gtest/gtest.h>

#include <chrono>
#include <mutex>
#include <shared_mutex>
#include <thread>
#include <vector>

namespace inprof {
namespace {

using namespace std::chrono_literals;

TEST(MutexTest, WorksWithStandardAdaptors) {
  Mutex a;
  Mutex b;
  { std::lock_guard<Mutex> guard(a); }
  {
    std::unique_lock<Mutex> lock(a);
    EXPECT_TRUE(lock.owns_lock());
    lock.unlock();
    EXPECT_TRUE(lock.try_lock());
  }
  { std::scoped_lock both(a, b); }
  EXPECT_TRUE(a.try_lock());
  EXPECT_FALSE(a.try_lock());
  a.unlock();
}

TEST(MutexTest, MutualExclusionUnderContention) {
  Mutex mu;
  int64_t counter = 0;  // unsynchronized but for mu: TSan checks
  std::vector<std::thread> threads;
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 20000; ++i) {
        std::lock_guard<Mutex> guard(mu);
        ++counter;
      }
    });
  }
  for (std::thread& thread : threads) thread.join();
  EXPECT_EQ(counter, 8 * 20000);
}

TEST(SharedMutexTest, ReadersShareWritersExclude) {
  SharedMutex mu;
  int64_t value = 0;
  std::atomic<int> readers_inside{0};
  std::atomic<int> max_readers{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 2000; ++i) {
        std::shared_lock<SharedMutex> read(mu);
        const int inside = ++readers_inside;
        int seen = max_readers.load();
        while (inside > seen &&
               !max_readers.compare_exchange_weak(seen, inside)) {
        }
        (void)value;
        --readers_inside;
      }
    });
    threads.emplace_back([&] {
      for (int i = 0; i < 2000; ++i) {
        std::unique_lock<SharedMutex> write(mu);
        EXPECT_EQ(readers_inside.load(), 0);
        ++value;
      }
    });
  }
  for (std::thread& thread : threads) thread.join();
  EXPECT_EQ(value, 4 * 2000);
  EXPECT_TRUE(mu.try_lock());
  EXPECT_FALSE(mu.try_lock_shared());
  mu.unlock();
  EXPECT_TRUE(mu.try_lock_shared());
  EXPECT_FALSE(mu.try_lock());
  mu.unlock_shared();
}

TEST(ConditionVariableTest, ProducerConsumer) {
  Mutex mu;
  ConditionVariable cv;
  std::vector<int> queue;
  int consumed = 0;
  std::thread consumer([&] {
    std::unique_lock<Mutex> lock(mu);
    while (consumed < 1000) {
      cv.wait(lock, [&] { return !queue.empty(); });
      consumed += static_cast<int>(queue.size());
      queue.clear();
    }
  });
  for (int i = 0; i < 1000; ++i) {
    {
      std::lock_guard<Mutex> guard(mu);
      queue.push_back(i);
    }
    cv.notify_one();
  }
  consumer.join();
  EXPECT_EQ(consumed, 1000);
}

TEST(ConditionVariableTest, NotifyAllWakesEveryWaiter) {
  Mutex mu;
  ConditionVariable cv;
  bool go = false;
  int woken = 0;
  std::vector<std::thread> waiters;
  for (int t = 0; t < 6; ++t) {
    waiters.emplace_back([&] {
      std::unique_lock<Mutex> lock(mu);
      cv.wait(lock, [&] { return go; });
      ++woken;
    });
  }
  std::this_thread::sleep_for(20ms);
  {
    std::lock_guard<Mutex> guard(mu);
    go = true;
  }
  cv.notify_all();
  for (std::thread& waiter : waiters) waiter.join();
  EXPECT_EQ(woken, 6);
}

TEST(ConditionVariableTest, TimeoutsOnEveryClock) {
  Mutex mu;
  ConditionVariable cv;
  std::unique_lock<Mutex> lock(mu);
  auto start = std::chrono::steady_clock::now();
  EXPECT_EQ(cv.wait_for(lock, 20ms), std::cv_status::timeout);
  EXPECT_GE(std::chrono::steady_clock::now() - start, 20ms);
  EXPECT_TRUE(lock.owns_lock());

  start = std::chrono::steady_clock::now();
  EXPECT_EQ(cv.wait_until(lock, std::chrono::system_clock::now() + 20ms),
            std::cv_status::timeout);
  EXPECT_GE(std::chrono::steady_clock::now() - start, 19ms);

  EXPECT_FALSE(cv.wait_for(lock, 5ms, [] { return false; }));
  EXPECT_TRUE(cv.wait_for(lock, 5ms, [] { return true; }));
  // A deadline in the past returns at once.
  EXPECT_EQ(cv.wait_until(lock, std::chrono::steady_clock::now() - 1s),
            std::cv_status::timeout);
}

}  // namespace
}  // namespace inprof
