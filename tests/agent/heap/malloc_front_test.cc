// The malloc front (linked into this test, as into every program that links
// the agent): it is the process's malloc, forwards to the allocator after it
// (not to itself), and handles what a C library's malloc must: blocks from
// its bootstrap arena (the allocations made while it looks the allocator
// up), blocks it never saw, fork, and every allocation function.

#include <dlfcn.h>
#include <errno.h>
#include <malloc.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cstdint>
#include <new>
#include <thread>
#include <vector>

#include "agent/heap/heap_hooks.h"
#include "agent/heap/next_allocator.h"
#include "gtest/gtest.h"

namespace inprof::internal {
namespace {

TEST(MallocFrontTest, IsTheProcessesMallocAndForwardsToTheNextOne) {
  EXPECT_TRUE(MallocFrontInUse());
  EXPECT_TRUE(g_next_ready.load());
  void* next = MallocFrontNextMalloc();
  ASSERT_NE(next, nullptr);
  EXPECT_NE(next, dlsym(RTLD_DEFAULT, "malloc"));  // not itself
  // The C library's, or a sanitizer runtime's: an object after ours.
  Dl_info info;
  ASSERT_NE(dladdr(next, &info), 0);
  Dl_info program;
  ASSERT_NE(dladdr(reinterpret_cast<void*>(&MallocFrontInUse), &program), 0);
  EXPECT_NE(info.dli_fbase, program.dli_fbase) << info.dli_fname;
}

TEST(MallocFrontTest, ArenaBlocksAreAlignedZeroedAndSized) {
  for (size_t alignment : {16, 64, 4096}) {
    void* block = ArenaAllocate(100, alignment);
    ASSERT_NE(block, nullptr);
    EXPECT_EQ(reinterpret_cast<uintptr_t>(block) % alignment, 0u);
    EXPECT_TRUE(InArena(block));
    EXPECT_EQ(ArenaBlockSize(block), 100u);
    EXPECT_EQ(malloc_usable_size(block), 100u);
    const std::vector<char> zeros(100, 0);
    EXPECT_EQ(memcmp(block, zeros.data(), 100), 0);
  }
  void* heap = malloc(100);
  EXPECT_FALSE(InArena(heap));
  free(heap);
  EXPECT_GE(BootstrapArenaStats().blocks, 3u);
}

TEST(MallocFrontTest, ArenaBlocksAreFreedAsNothingAndReallocatedOut) {
  char* block = static_cast<char*>(ArenaAllocate(64, 16));
  ASSERT_NE(block, nullptr);
  memset(block, 'x', 64);
  // Arena blocks are never reused: freeing one does nothing. (Called
  // through a pointer the compiler cannot see through: it would treat the
  // block as dead after free().)
  void (*volatile free_function)(void*) = &free;
  free_function(block);
  EXPECT_EQ(block[0], 'x');
  char* moved = static_cast<char*>(realloc(block, 1 << 20));
  ASSERT_NE(moved, nullptr);
  EXPECT_FALSE(InArena(moved));
  for (int i = 0; i < 64; ++i) ASSERT_EQ(moved[i], 'x') << i;
  moved[(1 << 20) - 1] = 'y';
  free(moved);
  // Smaller than the arena block: what fits is kept.
  char* small = static_cast<char*>(ArenaAllocate(64, 16));
  memset(small, 'z', 64);
  char* shrunk = static_cast<char*>(realloc(small, 8));
  ASSERT_NE(shrunk, nullptr);
  EXPECT_EQ(memcmp(shrunk, "zzzzzzzz", 8), 0);
  free(shrunk);
}

TEST(MallocFrontTest, TheArenaSaysWhenItIsSpent) {
  errno = 0;
  EXPECT_EQ(ArenaAllocate(kBootstrapArenaBytes + 1, 16), nullptr);
  EXPECT_EQ(errno, ENOMEM);
}

TEST(MallocFrontTest, EveryFunctionGivesUsableMemory) {
  std::vector<std::pair<void*, size_t>> blocks = {
      {malloc(10), 10},           {calloc(3, 7), 21},
      {realloc(nullptr, 30), 30}, {reallocarray(nullptr, 5, 9), 45},
      {memalign(64, 50), 50},     {aligned_alloc(128, 256), 256},
      {valloc(70), 70},           {pvalloc(80), 4096}};
  void* posix = nullptr;
  ASSERT_EQ(posix_memalign(&posix, 256, 90), 0);
  blocks.emplace_back(posix, 90);
  EXPECT_EQ(posix_memalign(&posix, 3, 90), EINVAL);
  for (const auto& [block, size] : blocks) {
    ASSERT_NE(block, nullptr) << size;
    EXPECT_GE(malloc_usable_size(block), size);
    memset(block, 0xab, size);
  }
  const char zeros[21] = {};
  void* zeroed = calloc(3, 7);
  EXPECT_EQ(memcmp(zeroed, zeros, 21), 0);
  free(zeroed);
  for (const auto& [block, size] : blocks) free(block);
  errno = 0;
  volatile size_t huge = SIZE_MAX / 2;  // (volatile: no compile-time warning)
  EXPECT_EQ(calloc(huge, 3), nullptr);
  EXPECT_EQ(errno, ENOMEM);
  EXPECT_EQ(malloc_usable_size(nullptr), 0u);
  free(nullptr);
}

struct alignas(256) Aligned {
  char bytes[300];
};

void PairEveryOperator() {
  delete new int(1);
  delete[] new int[10];
  delete new (std::nothrow) int(2);
  delete[] new (std::nothrow) int[3];
  Aligned* aligned = new Aligned;
  EXPECT_EQ(reinterpret_cast<uintptr_t>(aligned) % 256, 0u);
  delete aligned;
  Aligned* array = new Aligned[3];
  EXPECT_EQ(reinterpret_cast<uintptr_t>(array) % 256, 0u);
  delete[] array;
  delete new (std::nothrow) Aligned;
  delete[] new (std::nothrow) Aligned[2];
  ::operator delete(::operator new(24), 24);
  ::operator delete[](::operator new[](24), 24);
  ::operator delete (::operator new (24, std::align_val_t{64}), 24,
                     std::align_val_t{64});
  ::operator delete(::operator new(24, std::nothrow), std::nothrow);
  ::operator delete (::operator new (24, std::align_val_t{64}, std::nothrow),
                     std::align_val_t{64}, std::nothrow);
#if !defined(__SANITIZE_ADDRESS__) && !defined(__SANITIZE_THREAD__)
  // A failing new throws, as the standard says. (Sanitizer runtimes report
  // an impossible size as an error instead.)
  EXPECT_THROW(
      { [[maybe_unused]] volatile void* p = ::operator new(SIZE_MAX / 2); },
      std::bad_alloc);
  EXPECT_EQ(::operator new(SIZE_MAX / 2, std::nothrow), nullptr);
#endif
}

// Both ways: forwarded to libstdc++'s operators, then (once
// MallocFrontInUse() has found them to be libstdc++'s) straight to the next
// malloc and free, including blocks allocated the first way.
TEST(MallocFrontTest, EveryOperatorNewAndDeletePairs) {
  const bool skipping_at_start = MallocFrontSkipsStandardOperators();
  PairEveryOperator();
  int* before = new int(7);
  char* array_before = new char[100];
  ASSERT_TRUE(MallocFrontInUse());
  EXPECT_TRUE(MallocFrontSkipsStandardOperators())
      << "this test's operators are libstdc++'s";
  if (!skipping_at_start) PairEveryOperator();
  delete before;
  delete[] array_before;
}

#if !defined(__SANITIZE_ADDRESS__) && !defined(__SANITIZE_THREAD__)
// A block the C library handed out before the front existed (or behind its
// back) is freed by the C library: the front only forwards it.
extern "C" void* __libc_malloc(size_t size);

TEST(MallocFrontTest, BlocksTheFrontNeverSawAreFreedByTheirAllocator) {
  for (int i = 0; i < 1000; ++i) {
    void* block = __libc_malloc(static_cast<size_t>(i) * 16 + 1);
    ASSERT_NE(block, nullptr);
    free(block);
  }
}
#endif

// A forked child has only the forking thread: nothing the front needs is
// held by a thread that is gone, even while other threads allocate.
TEST(MallocFrontTest, AForkedChildAllocatesWhileTheParentsThreadsDid) {
  std::atomic<bool> stop{false};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&] {
      while (!stop.load()) {
        std::vector<std::string> strings(64, std::string(100, 'x'));
        free(malloc(5000));
      }
    });
  }
  for (int round = 0; round < 20; ++round) {
    pid_t child = fork();
    ASSERT_GE(child, 0);
    if (child == 0) {
      std::vector<void*> blocks;
      for (int i = 0; i < 1000; ++i) blocks.push_back(malloc(i + 1));
      for (void* block : blocks) free(block);
      delete[] new char[100];
      _exit(0);
    }
    int status = 0;
    ASSERT_EQ(waitpid(child, &status, 0), child);
    EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << status;
  }
  stop = true;
  for (std::thread& t : threads) t.join();
}

}  // namespace
}  // namespace inprof::internal
