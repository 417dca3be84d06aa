#include "agent/cpu/thread_timers.h"

#include <gtest/gtest.h>
#include <signal.h>

#include <atomic>
#include <thread>

namespace inprof::internal {
namespace {

// A signal nobody handles here: the timers of these idle threads rarely
// fire, and when they do the signal is dropped.
int IgnoredSignal() {
  const int signo = SIGRTMIN + 3;
  signal(signo, SIG_IGN);
  return signo;
}

// The scan of /proc/self/task is the safety net for threads that did not
// arm their own timer; the sampler scans less often while scans find
// nothing to do (CpuSampler::MaintainLocked), and again every 100 ms as
// soon as one does: a thread started or gone.
TEST(ThreadTimersTest, AScanSettlesOnlyWhenNothingChanged) {
  ThreadTimers timers(IgnoredSignal(), 100);
  ASSERT_TRUE(timers.Sync());
  EXPECT_FALSE(timers.settled()) << "the first scan arms every thread";
  ASSERT_TRUE(timers.Sync());
  EXPECT_TRUE(timers.settled()) << "the same threads, all armed";

  std::atomic<bool> stop{false};
  std::atomic<bool> running{false};
  std::thread worker([&] {
    running = true;
    while (!stop) std::this_thread::yield();
  });
  while (!running) std::this_thread::yield();
  ASSERT_TRUE(timers.Sync());
  EXPECT_FALSE(timers.settled()) << "a new thread";
  ASSERT_TRUE(timers.Sync());
  EXPECT_TRUE(timers.settled());

  stop = true;
  worker.join();
  ASSERT_TRUE(timers.Sync());
  EXPECT_FALSE(timers.settled()) << "a thread gone";
  ASSERT_TRUE(timers.Sync());
  EXPECT_TRUE(timers.settled());

  timers.DisarmAll();
  EXPECT_FALSE(timers.settled());
}

}  // namespace
}  // namespace inprof::internal
