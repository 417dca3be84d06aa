// For the malloc front's tests: how many bytes one allocation counts down
// the thread's heap-sample countdown (once, or twice if the front and the
// allocator behind it both counted it).
#ifndef INPROF_TESTS_AGENT_HEAP_COUNTED_BYTES_H_
#define INPROF_TESTS_AGENT_HEAP_COUNTED_BYTES_H_

#include <cstdint>

#include "agent/heap/heap_hooks.h"
#include "gtest/gtest.h"

namespace inprof::internal {

// Runs allocate() (which returns a block) and release(block); returns the
// countdown's fall across allocate(). The countdown starts far from zero,
// so that nothing is sampled on the way.
template <typename Allocate, typename Release>
int64_t BytesCounted(Allocate allocate, Release release) {
  constexpr int64_t kFar = int64_t{1} << 40;
  inprof_heap_countdown = kFar;
  void* block = allocate();
  const int64_t bytes = kFar - inprof_heap_countdown;
  EXPECT_NE(block, nullptr);
  release(block);
  return bytes;
}

}  // namespace inprof::internal

#endif  // INPROF_TESTS_AGENT_HEAP_COUNTED_BYTES_H_
