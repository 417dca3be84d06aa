// The malloc front in front of tcmalloc, linked as a program linking
// tcmalloc and the agent has it: tcmalloc's C++ operators allocate with its
// internals, never through the process's malloc, so the front calls them
// directly (no scope, no extra calls) and counts each allocation once.

#include <cstdint>
#include <new>

#include "agent/heap/heap_hooks.h"
#include "agent/heap/next_allocator.h"
#include "gtest/gtest.h"
#include "tests/agent/heap/counted_bytes.h"

namespace inprof::internal {
namespace {

TEST(MallocFrontOnTcmallocTest, CallsTcmallocsOperatorsDirectly) {
  ASSERT_TRUE(MallocFrontInUse());
  EXPECT_FALSE(MallocFrontSkipsStandardOperators())
      << "these operators are tcmalloc's, not libstdc++'s";
  EXPECT_TRUE(MallocFrontCallsNextOperatorsDirectly());
  for (int id = kNew; id <= kNewArrayAlignedNothrow; ++id) {
    EXPECT_TRUE(MallocFrontCallsNextNewDirectly(id)) << "operator " << id;
  }
}

// Each operator new counts its size once: had tcmalloc's operator come back
// through our malloc, the direct call would count it twice.
TEST(MallocFrontOnTcmallocTest, EachOperatorNewCountsItsSizeOnce) {
  ASSERT_TRUE(MallocFrontInUse());
  EXPECT_EQ(BytesCounted([] { return ::operator new(100); },
                         [](void* p) { ::operator delete(p); }),
            100);
  EXPECT_EQ(BytesCounted([] { return ::operator new[](300); },
                         [](void* p) { ::operator delete[](p, 300); }),
            300);
  EXPECT_EQ(BytesCounted([] { return ::operator new(50, std::nothrow); },
                         [](void* p) { ::operator delete(p, std::nothrow); }),
            50);
  EXPECT_EQ(
      BytesCounted([] { return ::operator new (200, std::align_val_t{256}); },
                   [](void* p) {
                     EXPECT_EQ(reinterpret_cast<uintptr_t>(p) % 256, 0u);
                     ::operator delete (p, 200, std::align_val_t{256});
                   }),
      200);
}

// Blocks of every size class and alignment go back to tcmalloc through the
// direct deletes, sized or not, many times over.
TEST(MallocFrontOnTcmallocTest, EveryOperatorPairWorksManyTimes) {
  ASSERT_TRUE(MallocFrontInUse());
  for (size_t size = 1; size < (size_t{1} << 20); size = size * 3 + 1) {
    for (int i = 0; i < 100; ++i) {
      char* a = static_cast<char*>(::operator new(size));
      char* b = static_cast<char*>(::operator new[](size));
      void* c = ::operator new (size, std::align_val_t{64});
      a[0] = b[size - 1] = 1;
      ::operator delete(a, size);
      ::operator delete[](b);
      ::operator delete (c, std::align_val_t{64});
    }
  }
}

}  // namespace
}  // namespace inprof::internal
