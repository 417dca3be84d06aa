// The malloc front in front of an allocator whose aligned operator news
// come back through the process's malloc family (stub_allocator.cc, as
// jemalloc 5.3's call aligned_alloc): the front calls only the operators
// that do not directly, and every operator new still counts its size once.

#include <cstdint>
#include <new>

#include "agent/heap/heap_hooks.h"
#include "agent/heap/next_allocator.h"
#include "gtest/gtest.h"
#include "tests/agent/heap/counted_bytes.h"

namespace inprof::internal {
namespace {

TEST(MallocFrontOnAnOtherAllocatorTest, ProbesEachOperatorNew) {
  ASSERT_TRUE(MallocFrontInUse());
  EXPECT_TRUE(MallocFrontCallsNextOperatorsDirectly());
  EXPECT_TRUE(MallocFrontCallsNextNewDirectly(kNew));
  EXPECT_TRUE(MallocFrontCallsNextNewDirectly(kNewArrayNothrow));
  EXPECT_FALSE(MallocFrontCallsNextNewDirectly(kNewAligned))
      << "the stub's aligned new calls our aligned_alloc";
  EXPECT_FALSE(MallocFrontCallsNextNewDirectly(kNewArrayAlignedNothrow));
}

// Counted directly or through the scope, each allocation counts once: a
// direct call of an operator that comes back through our aligned_alloc
// would count it twice.
TEST(MallocFrontOnAnOtherAllocatorTest, EachOperatorNewCountsItsSizeOnce) {
  ASSERT_TRUE(MallocFrontInUse());
  EXPECT_EQ(BytesCounted([] { return ::operator new(100); },
                         [](void* p) { ::operator delete(p); }),
            100);
  EXPECT_EQ(
      BytesCounted([] { return ::operator new (256, std::align_val_t{128}); },
                   [](void* p) {
                     EXPECT_EQ(reinterpret_cast<uintptr_t>(p) % 128, 0u);
                     ::operator delete (p, std::align_val_t{128});
                   }),
      256);
  EXPECT_EQ(BytesCounted(
                [] {
                  return ::operator new[](64, std::align_val_t{64},
                                          std::nothrow);
                },
                [](void* p) { ::operator delete[](p, std::align_val_t{64}); }),
            64);
}

}  // namespace
}  // namespace inprof::internal
