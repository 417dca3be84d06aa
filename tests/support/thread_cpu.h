// The calling thread's CPU clock, and work that burns a measured amount of
// it: how a test makes a request slow on any machine (CPU time never runs
// faster than the wall clock) without judging anything by the wall clock.
//
// Example:
//
//   __attribute__((noipa)) void SlowWork() { test::BurnThreadCpu(300'000'000);
//   }
//
#ifndef INPROF_TESTS_SUPPORT_THREAD_CPU_H_
#define INPROF_TESTS_SUPPORT_THREAD_CPU_H_

#include <errno.h>
#include <pthread.h>
#include <time.h>

#include <cstdint>

namespace inprof::test {

// CLOCK_THREAD_CPUTIME_ID in nanoseconds.
inline int64_t ThreadCpuNanos() {
  timespec ts;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return ts.tv_sec * 1'000'000'000LL + ts.tv_nsec;
}

// Burns `nanos` of the calling thread's CPU time; returns what it burnt
// (a little more). Call it from a noipa function of a recognizable name.
__attribute__((noinline)) inline int64_t BurnThreadCpu(int64_t nanos) {
  const int64_t start = ThreadCpuNanos();
  uint64_t x = 1;
  while (ThreadCpuNanos() - start < nanos) {
    for (int i = 0; i < 10000; ++i) x = x * 6364136223846793005u + 1;
  }
  asm volatile("" : : "r"(x));
  return ThreadCpuNanos() - start;
}

// Blocks until `thread`, another thread that keeps running, has used
// `nanos` more of its CPU time: a sleep on its CPU clock, which advances
// only while it runs, so a busy machine makes the wait longer, never the
// test wrong. (Linux refuses a sleep on the caller's own CPU clock.)
inline void WaitForThreadCpu(pthread_t thread, int64_t nanos) {
  clockid_t clock;
  if (pthread_getcpuclockid(thread, &clock) != 0) return;
  timespec now;
  clock_gettime(clock, &now);
  const int64_t target = now.tv_sec * 1'000'000'000LL + now.tv_nsec + nanos;
  const timespec until{target / 1'000'000'000LL, target % 1'000'000'000LL};
  while (clock_nanosleep(clock, TIMER_ABSTIME, &until, nullptr) == EINTR) {
  }
}

}  // namespace inprof::test

#endif  // INPROF_TESTS_SUPPORT_THREAD_CPU_H_
