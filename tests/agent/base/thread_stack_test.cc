// ReleaseUnusedStack (agent/base/thread_stack.h): after a deep call, the
// stack pages below the caller's frame stop being resident, and the stack
// still works.
#include "agent/base/thread_stack.h"

#include <alloca.h>
#include <gtest/gtest.h>
#include <pthread.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cstdint>
#include <thread>
#include <vector>

namespace inprof::internal {
namespace {

constexpr size_t kDeep = 512 * 1024;

// Touches `bytes` of stack below the caller, one byte a page.
__attribute__((noinline)) void TouchStack(size_t bytes) {
  auto* buffer = static_cast<volatile char*>(alloca(bytes));
  for (size_t i = 0; i < bytes; i += 4096) buffer[i] = 1;
}

// Resident bytes of [low, high), both page-aligned (mincore).
size_t ResidentBytes(uintptr_t low, uintptr_t high) {
  const size_t page = static_cast<size_t>(sysconf(_SC_PAGESIZE));
  std::vector<unsigned char> pages((high - low) / page);
  if (mincore(reinterpret_cast<void*>(low), high - low, pages.data()) != 0) {
    ADD_FAILURE() << "mincore failed";
    return 0;
  }
  size_t resident = 0;
  for (unsigned char p : pages) resident += (p & 1) != 0 ? page : 0;
  return resident;
}

TEST(ThreadStackTest, PagesBelowTheFrameGoBackAfterADeepCall) {
  std::thread([] {
    pthread_attr_t attr;
    ASSERT_EQ(pthread_getattr_np(pthread_self(), &attr), 0);
    void* address = nullptr;
    size_t size = 0;
    ASSERT_EQ(pthread_attr_getstack(&attr, &address, &size), 0);
    pthread_attr_destroy(&attr);
    const auto low = reinterpret_cast<uintptr_t>(address);
    const size_t page = static_cast<size_t>(sysconf(_SC_PAGESIZE));
    const auto frame = reinterpret_cast<uintptr_t>(__builtin_frame_address(0));
    // What ReleaseUnusedStack may release, less a margin for the calls.
    const uintptr_t high = (frame - 64 * 1024) & ~(page - 1);
    ASSERT_GT(high - low, kDeep + 128 * 1024);

    TouchStack(kDeep);
    EXPECT_GE(ResidentBytes(low, high), kDeep - 128 * 1024);
    EXPECT_GE(ReleaseUnusedStack(), high - low);
    EXPECT_LE(ResidentBytes(low, high), 16 * 1024u);

    // The pages come back as needed; a second release finds them again.
    TouchStack(kDeep);
    EXPECT_GE(ResidentBytes(low, high), kDeep - 128 * 1024);
    EXPECT_GE(ReleaseUnusedStack(), high - low);
  }).join();
}

TEST(ThreadStackTest, AShallowStackReleasesNothingBelowItsMargin) {
  std::thread([] {
    // The whole stack is the margin: nothing to release.
    EXPECT_EQ(ReleaseUnusedStack(size_t{1} << 40), 0u);
  }).join();
}

}  // namespace
}  // namespace inprof::internal
