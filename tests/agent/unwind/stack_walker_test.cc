#include "agent/unwind/stack_walker.h"

#include <dlfcn.h>
#include <gtest/gtest.h>
#include <pthread.h>
#include <sys/mman.h>
#include <ucontext.h>

#include <chrono>
#include <cstdint>
#include <cstdlib>
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

// WalkHere reads the calling thread's own live stack directly (from its
// stack pointer to the thread's stack top); Walk on a context it is handed
// reads through the kernel. From one call site both must see the same
// callers: on the main thread, on a thread the map knows, and on a thread
// running on a stack the program gave it.
__attribute__((noinline)) void CompareWalks(StackWalker& walker, int* callers) {
  uint64_t direct[64], kernel[64];
  const uint64_t own_before = walker.own_stack_walks();
  StackWalk a = walker.WalkHere(direct, 64);
#if !defined(__SANITIZE_ADDRESS__) && !defined(__SANITIZE_THREAD__)
  EXPECT_EQ(walker.own_stack_walks(), own_before + 1) << "read directly";
#endif
  asm volatile("" ::: "memory");
  ucontext_t context;
  ASSERT_EQ(getcontext(&context), 0);
  StackWalk b = walker.Walk(context, kernel, 64);
  asm volatile("" ::: "memory");
  EXPECT_LE(walker.own_stack_walks(), own_before + 1) << "kernel reads";
  // direct[0] and kernel[0] are two pcs in this function; the callers
  // above it must agree.
  ASSERT_EQ(a.depth, b.depth);
  ASSERT_GE(a.depth, 3);
  for (int i = 1; i < a.depth; ++i) EXPECT_EQ(direct[i], kernel[i]) << i;
  *callers = a.depth - 1;
}

__attribute__((noinline)) void Nest(StackWalker& walker, int levels,
                                    int* callers) {
  if (levels == 0) {
    CompareWalks(walker, callers);
  } else {
    Nest(walker, levels - 1, callers);
  }
  asm volatile("" ::: "memory");  // not a tail call
}

TEST(StackWalkerTest, OwnStackReadsSeeWhatKernelReadsSee) {
  std::unique_ptr<StackWalker> walker = StartWalker();
  ASSERT_NE(walker, nullptr);
  int callers = 0;
  Nest(*walker, 20, &callers);
  EXPECT_GE(callers, 21);
  std::thread([&] {
    walker->Rebuild();  // the map knows this thread's stack
    int thread_callers = 0;
    Nest(*walker, 20, &thread_callers);
    EXPECT_GE(thread_callers, 21);
  }).join();
  // A program-supplied stack: glibc puts the thread's descriptor at its top.
  // (ThreadSanitizer wants ~900 KiB of it for its own thread state.)
  constexpr size_t kStack = 4 * 1024 * 1024;
  void* stack = std::aligned_alloc(4096, kStack);
  ASSERT_NE(stack, nullptr);
  pthread_attr_t attr;
  pthread_attr_init(&attr);
  pthread_attr_setstack(&attr, stack, kStack);
  struct Args {
    StackWalker* walker;
    int callers;
  } args{walker.get(), 0};
  pthread_t thread;
  ASSERT_EQ(pthread_create(
                &thread, &attr,
                [](void* raw) -> void* {
                  auto* a = static_cast<Args*>(raw);
                  a->walker->Rebuild();
                  Nest(*a->walker, 20, &a->callers);
                  return nullptr;
                },
                &args),
            0);
  pthread_join(thread, nullptr);
  pthread_attr_destroy(&attr);
  std::free(stack);
  EXPECT_GE(args.callers, 21);
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

// A walk that meets a stack the map does not know asks for a rebuild and
// wakes the refresh thread. With a poll period of an hour only that wake
// can rebuild the map in time (before, the request waited for the next
// poll, 200 ms, and every walk of the new thread read its stack through the
// kernel until then); a failure hangs until ctest's timeout.
struct UnknownStackWalks {
  StackWalker* walker;
  uint64_t rebuilds_before;
  StackWalk first, second;
};

void* WalkUntilTheMapKnowsThisStack(void* raw) {
  auto* walks = static_cast<UnknownStackWalks*>(raw);
  uint64_t pcs[32];
  walks->first = WalkFromHere(*walks->walker, pcs, 32);
  if (!walks->first.unknown_stack) return nullptr;  // asked nothing: fail
  while (walks->walker->map_rebuilds() == walks->rebuilds_before) {
    std::this_thread::yield();
  }
  walks->second = WalkFromHere(*walks->walker, pcs, 32);
  return nullptr;
}

TEST(StackWalkerTest, AWalkOnAnUnknownStackWakesTheRefresher) {
  StatusOr<std::unique_ptr<StackWalker>> started =
      StackWalker::Start(std::chrono::hours(1));
  ASSERT_TRUE(started.ok()) << started.status().message();
  UnknownStackWalks walks{started->get(), (*started)->map_rebuilds(), {}, {}};
  // A stack mapped after the map was built (a thread of glibc's could reuse
  // a cached stack the map already holds).
  constexpr size_t kStackBytes = 4 << 20;  // TSan keeps ~1 MiB of it
  void* stack = mmap(nullptr, kStackBytes, PROT_READ | PROT_WRITE,
                     MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  ASSERT_NE(stack, MAP_FAILED);
  pthread_attr_t attr;
  pthread_attr_init(&attr);
  pthread_attr_setstack(&attr, stack, kStackBytes);
  pthread_t thread;
  ASSERT_EQ(
      pthread_create(&thread, &attr, WalkUntilTheMapKnowsThisStack, &walks), 0);
  pthread_join(thread, nullptr);
  pthread_attr_destroy(&attr);
  munmap(stack, kStackBytes);
  EXPECT_TRUE(walks.first.unknown_stack);
  EXPECT_FALSE(walks.second.unknown_stack);
  EXPECT_GE(walks.second.depth, 2);
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
