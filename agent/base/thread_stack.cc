#include "agent/base/thread_stack.h"

#include <pthread.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cstdint>

namespace inprof::internal {
namespace {

// The lowest usable address of the calling thread's stack (above its guard
// pages), or 0 if glibc cannot say.
uintptr_t StackLow() {
  pthread_attr_t attr;
  if (pthread_getattr_np(pthread_self(), &attr) != 0) return 0;
  void* address = nullptr;
  size_t size = 0;
  const int got = pthread_attr_getstack(&attr, &address, &size);
  pthread_attr_destroy(&attr);
  return got == 0 ? reinterpret_cast<uintptr_t>(address) : 0;
}

}  // namespace

size_t ReleaseUnusedStack(size_t keep_below) {
  thread_local const uintptr_t stack_low = StackLow();
  const auto page = static_cast<uintptr_t>(sysconf(_SC_PAGESIZE));
  const auto frame = reinterpret_cast<uintptr_t>(__builtin_frame_address(0));
  // At least a page between the bottom and what is kept (stack_low is a
  // page boundary, so `end` is above it).
  if (stack_low == 0 || frame - stack_low < keep_below + page) return 0;
  const uintptr_t end = (frame - keep_below) & ~(page - 1);
  if (madvise(reinterpret_cast<void*>(stack_low), end - stack_low,
              MADV_DONTNEED) != 0) {
    return 0;
  }
  return end - stack_low;
}

}  // namespace inprof::internal
