/* A program profiled with gperftools' own CPU profiler (link -lprofiler, run
 * with CPUPROFILE=FILE), for tests/e2e/viewer_input_test.cc: two functions
 * burn CPU in a 1:2 ratio. */
#include <stdio.h>

volatile double sink;

__attribute__((noipa)) double burn_a(long n) {
  double s = 0;
  for (long i = 0; i < n; i++) s += i * 0.5;
  return s;
}

__attribute__((noipa)) double burn_b(long n) {
  double s = 1;
  for (long i = 0; i < 2 * n; i++) s = s * 1.0000001 + i;
  return s;
}

int main(void) {
  for (int k = 0; k < 10; k++) {
    sink += burn_a(10000000);
    sink += burn_b(10000000);
  }
  printf("%f\n", sink);
  return 0;
}
