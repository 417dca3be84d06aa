#include "agent/unwind/stack_walker.h"

#include <dlfcn.h>
#include <gtest/gtest.h>

#include <cstdint>
#include <memory>
#include <thread>

namespace inprof::internal {
namespace {

std::unique_ptr<StackWalker> StartWalker() {
  StatusOr<std::unique_ptr<StackWalker>> walker = StackWalker::Start();
  EXPECT_TRUE(walker.ok()) << walker.status().message();
  return walker.ok() ? std::move(*walker) : nullptr;
}

__attribute__((noinline)) StackWalk WalkFromHere(StackWalker& walker,
                                                 uint64_t* pcs, int max) {
  StackWalk walk = walker.WalkHere(pcs, max);
  asm volatile("" ::: "memory");  // not a tail call
  return walk;
}

TEST(StackWalkerTest, WalkHereStartsAtTheCallersReturnAddress) {
  std::unique_ptr<StackWalker> walker = StartWalker();
  ASSERT_NE(walker, nullptr);
  uint64_t pcs[32];
  StackWalk walk = WalkFromHere(*walker, pcs, 32);
  ASSERT_GE(walk.depth, 2);
  EXPECT_FALSE(walk.no_map);
  // pcs[0] returns into WalkFromHere, which lies in this test binary.
  Dl_info here, first;
  ASSERT_NE(dladdr(reinterpret_cast<void*>(&WalkFromHere), &here), 0);
  ASSERT_NE(dladdr(reinterpret_cast<void*>(pcs[0] - 1), &first), 0);
  EXPECT_EQ(here.dli_fbase, first.dli_fbase);
  EXPECT_GT(pcs[0], reinterpret_cast<uint64_t>(&WalkFromHere));
  EXPECT_LT(pcs[0], reinterpret_cast<uint64_t>(&WalkFromHere) + 256);
}

TEST(StackWalkerTest, WalksThreadsStartedAfterTheMapWasBuilt) {
  std::unique_ptr<StackWalker> walker = StartWalker();
  ASSERT_NE(walker, nullptr);
  StackWalk walk;
  uint64_t pcs[32];
  std::thread([&] { walk = WalkFromHere(*walker, pcs, 32); }).join();
  // The new thread's stack is unknown to the map, but the kernel reads
  // around its stack pointer still unwind it.
  EXPECT_GE(walk.depth, 3);
}

TEST(StackWalkerTest, RebuildsTheMapWhenALibraryIsLoaded) {
  std::unique_ptr<StackWalker> walker = StartWalker();
  ASSERT_NE(walker, nullptr);
  uint64_t before = walker->map_rebuilds();
  void* handle = dlopen(INPROF_BURN_LIBRARY, RTLD_NOW | RTLD_LOCAL);
  ASSERT_NE(handle, nullptr) << dlerror();
  // The refresh thread notices within its 200 ms period.
  for (int i = 0; i < 100 && walker->map_rebuilds() == before; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  EXPECT_GT(walker->map_rebuilds(), before);
  dlclose(handle);
}

}  // namespace
}  // namespace inprof::internal
