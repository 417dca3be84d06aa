// The pthread interposer (linked into this test): every interposed function
// still behaves as the C library's (results, errors, timeouts, errno), with
// and without a profiler plugged in, and with one plugged in the waits of
// std::mutex, std::shared_mutex, std::condition_variable and the timed and
// clock forms reach the block profile, and unlocks the mutex profile.

#include <gtest/gtest.h>
#include <pthread.h>
#include <time.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <shared_mutex>
#include <thread>

#include "agent/contention/contention_profiler.h"
#include "agent/contention/contention_table.h"
#include "agent/unwind/stack_walker.h"
#include "tests/support/thread_state.h"

namespace inprof::internal {
namespace {

using namespace std::chrono_literals;

uint64_t Samples(ContentionKind kind, const ContentionProfiler& profiler) {
  uint64_t samples = 0;
  profiler.table(kind).ForEach(
      [&](const ContentionTable::View& view) { samples += view.samples; });
  return samples;
}

timespec In(std::chrono::milliseconds delay, clockid_t clock) {
  timespec now;
  clock_gettime(clock, &now);
  const int64_t nanos = now.tv_nsec + delay.count() * 1'000'000;
  now.tv_sec += nanos / 1'000'000'000;
  now.tv_nsec = nanos % 1'000'000'000;
  return now;
}

// Holds `lock` on another thread until thread `waiter` sleeps (blocked on
// it: a wait is certain, however late the waiter runs), then releases it.
template <typename Lock, typename Unlock>
std::thread HoldUntilWaited(Lock lock, Unlock unlock, pid_t waiter,
                            std::atomic<bool>& held) {
  return std::thread([=, &held] {
    lock();
    held = true;
    test::WaitUntilAsleep(waiter);
    unlock();
  });
}

void ExerciseEveryFunction() {
  // Results and errors pass through.
  pthread_mutex_t plain = PTHREAD_MUTEX_INITIALIZER;
  EXPECT_EQ(pthread_mutex_lock(&plain), 0);
  timespec soon = In(20ms, CLOCK_REALTIME);
  errno = 77;
  EXPECT_EQ(pthread_mutex_timedlock(&plain, &soon), ETIMEDOUT);
  EXPECT_EQ(errno, 77);
  timespec soon_mono = In(20ms, CLOCK_MONOTONIC);
  EXPECT_EQ(pthread_mutex_clocklock(&plain, CLOCK_MONOTONIC, &soon_mono),
            ETIMEDOUT);
  EXPECT_EQ(pthread_mutex_unlock(&plain), 0);

  pthread_mutexattr_t attr;
  pthread_mutexattr_init(&attr);
  pthread_mutexattr_settype(&attr, PTHREAD_MUTEX_ERRORCHECK);
  pthread_mutex_t checked;
  pthread_mutex_init(&checked, &attr);
  EXPECT_EQ(pthread_mutex_lock(&checked), 0);
  EXPECT_EQ(pthread_mutex_lock(&checked), EDEADLK);
  EXPECT_EQ(pthread_mutex_unlock(&checked), 0);
  pthread_mutex_destroy(&checked);
  pthread_mutexattr_destroy(&attr);

  pthread_mutexattr_init(&attr);
  pthread_mutexattr_settype(&attr, PTHREAD_MUTEX_RECURSIVE);
  pthread_mutex_t recursive;
  pthread_mutex_init(&recursive, &attr);
  EXPECT_EQ(pthread_mutex_lock(&recursive), 0);
  EXPECT_EQ(pthread_mutex_lock(&recursive), 0);
  EXPECT_EQ(pthread_mutex_unlock(&recursive), 0);
  EXPECT_EQ(pthread_mutex_unlock(&recursive), 0);
  pthread_mutex_destroy(&recursive);
  pthread_mutexattr_destroy(&attr);

  pthread_rwlock_t rw = PTHREAD_RWLOCK_INITIALIZER;
  EXPECT_EQ(pthread_rwlock_wrlock(&rw), 0);
  timespec t1 = In(10ms, CLOCK_REALTIME);
  timespec t2 = In(10ms, CLOCK_MONOTONIC);
  std::thread other([&] {
    EXPECT_EQ(pthread_rwlock_timedrdlock(&rw, &t1), ETIMEDOUT);
    EXPECT_EQ(pthread_rwlock_clockrdlock(&rw, CLOCK_MONOTONIC, &t2), ETIMEDOUT);
    timespec t3 = In(10ms, CLOCK_REALTIME);
    EXPECT_EQ(pthread_rwlock_timedwrlock(&rw, &t3), ETIMEDOUT);
    timespec t4 = In(10ms, CLOCK_MONOTONIC);
    EXPECT_EQ(pthread_rwlock_clockwrlock(&rw, CLOCK_MONOTONIC, &t4), ETIMEDOUT);
  });
  other.join();
  EXPECT_EQ(pthread_rwlock_unlock(&rw), 0);
  EXPECT_EQ(pthread_rwlock_rdlock(&rw), 0);
  EXPECT_EQ(pthread_rwlock_rdlock(&rw), 0);
  EXPECT_EQ(pthread_rwlock_unlock(&rw), 0);
  EXPECT_EQ(pthread_rwlock_unlock(&rw), 0);

  pthread_cond_t cond = PTHREAD_COND_INITIALIZER;
  EXPECT_EQ(pthread_mutex_lock(&plain), 0);
  timespec t5 = In(10ms, CLOCK_REALTIME);
  EXPECT_EQ(pthread_cond_timedwait(&cond, &plain, &t5), ETIMEDOUT);
  timespec t6 = In(10ms, CLOCK_MONOTONIC);
  EXPECT_EQ(pthread_cond_clockwait(&cond, &plain, CLOCK_MONOTONIC, &t6),
            ETIMEDOUT);
  EXPECT_EQ(pthread_mutex_unlock(&plain), 0);

  // The standard library's locks, contended.
  std::mutex mu;
  std::atomic<bool> held{false};
  const pid_t self = test::CurrentTid();
  std::thread holder =
      HoldUntilWaited([&] { mu.lock(); }, [&] { mu.unlock(); }, self, held);
  while (!held) std::this_thread::yield();
  { std::lock_guard<std::mutex> guard(mu); }
  holder.join();

  std::shared_mutex shared;
  held = false;
  holder = HoldUntilWaited([&] { shared.lock(); }, [&] { shared.unlock(); },
                           self, held);
  while (!held) std::this_thread::yield();
  { std::shared_lock<std::shared_mutex> read(shared); }
  holder.join();

  std::condition_variable cv;
  bool ready = false;
  std::thread notifier([&] {
    test::WaitUntilAsleep(self);  // in cv.wait
    {
      std::lock_guard<std::mutex> guard(mu);
      ready = true;
    }
    cv.notify_one();
  });
  {
    std::unique_lock<std::mutex> lock(mu);
    cv.wait(lock, [&] { return ready; });
  }
  notifier.join();
}

TEST(InterposerTest, BehavesAsTheCLibraryWithoutAProfiler) {
  ExerciseEveryFunction();
}

TEST(InterposerTest, WaitsReachTheProfilesWithAProfiler) {
  StatusOr<std::unique_ptr<StackWalker>> walker = StackWalker::Start();
  ASSERT_TRUE(walker.ok()) << walker.status().ToString();
  StatusOr<std::unique_ptr<ContentionProfiler>> profiler =
      ContentionProfiler::Start(walker->get(), 1, 1);
  ASSERT_TRUE(profiler.ok()) << profiler.status().ToString();
  EXPECT_STREQ((*profiler)->interposer(), "linked");
  ExerciseEveryFunction();
  // timedlock/clocklock x2, rwlock timed/clock x4, cond timed/clock x2,
  // std::mutex, std::shared_mutex, std::condition_variable.
  EXPECT_GE(Samples(ContentionKind::kBlock, **profiler), 9u);
  EXPECT_GE(Samples(ContentionKind::kMutex, **profiler), 2u);
  profiler->reset();
  // Unplugged: the functions go straight through again.
  ExerciseEveryFunction();
}

}  // namespace
}  // namespace inprof::internal
