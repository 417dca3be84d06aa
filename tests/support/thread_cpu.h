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

}  // namespace inprof::test

#endif  // INPROF_TESTS_SUPPORT_THREAD_CPU_H_
