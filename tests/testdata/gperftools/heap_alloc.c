/* A program profiled with gperftools' heap profiler (link -ltcmalloc, run
 * with HEAPPROFILE=PREFIX), for tests/e2e/viewer_input_test.cc: 1000 small
 * blocks and 5 of 10 one-MiB blocks stay live at exit. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void* keep[4096];

__attribute__((noinline)) void alloc_small(int n) {
  for (int i = 0; i < n; i++) {
    keep[i] = malloc(100);
    memset(keep[i], 1, 100);
  }
}

__attribute__((noinline)) void alloc_big(int n) {
  for (int i = 0; i < n; i++) {
    void* p = malloc(1 << 20);
    memset(p, 2, 1 << 20);
    if (i % 2) {
      free(p);
    } else {
      keep[2048 + i] = p;
    }
  }
}

int main(void) {
  alloc_small(1000);
  alloc_big(10);
  printf("done\n");
  return 0;
}
