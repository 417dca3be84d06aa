// A shared library that the sampler tests dlopen after the sampler started,
// to prove that code of modules loaded later is unwound and symbolized. Built
// without frame pointers so that only its CFI can unwind it.
#include <cstdint>
#include <ctime>

extern "C" __attribute__((visibility("default"), noinline)) uint64_t
InprofTestBurnMilliseconds(int milliseconds) {
  // The thread's own CPU time: the samples it earns do not depend on how
  // busy the machine is (ctest runs tests side by side).
  timespec start, now;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &start);
  uint64_t x = 1;
  for (;;) {
    for (int i = 0; i < 20000; ++i) x = x * 2862933555777941757u + 3037000493u;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &now);
    int64_t elapsed = (now.tv_sec - start.tv_sec) * 1000 +
                      (now.tv_nsec - start.tv_nsec) / 1000000;
    if (elapsed >= milliseconds) return x;
  }
}
