#include "agent/unwind/unwind.h"

#include <alloca.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/mman.h>
#include <ucontext.h>
#include <unistd.h>

#include <cstdint>
#include <cstdlib>
#include <memory>
#include <thread>

namespace inprof::internal {
namespace {

constexpr int kMaxDepth = 64;

struct Captured {
  uint64_t pcs[kMaxDepth] = {};
  UnwindResult result;
};

// Unwinds from inside `depth` nested calls, as the handler would from a
// signal context taken there.
__attribute__((noinline)) void UnwindHere(const Unwinder& unwinder,
                                          const AddressMap& map,
                                          Captured& out) {
  ucontext_t context;
  ASSERT_EQ(getcontext(&context), 0);
  out.result = unwinder.Unwind(context, map, out.pcs, kMaxDepth);
}

__attribute__((noinline)) void Nest(int depth, const Unwinder& unwinder,
                                    const AddressMap& map, Captured& out) {
  if (depth == 0) {
    UnwindHere(unwinder, map, out);
  } else {
    Nest(depth - 1, unwinder, map, out);
  }
  asm volatile("" ::: "memory");  // not a tail call
}

uint64_t PageSize() { return static_cast<uint64_t>(sysconf(_SC_PAGESIZE)); }

TEST(UnwindTest, WalksUpThroughEveryNestedCall) {
  std::unique_ptr<AddressMap> map = AddressMap::Build();
  Unwinder unwinder;
  ASSERT_TRUE(unwinder.Init(*map).ok());
  Captured captured;
  Nest(20, unwinder, *map, captured);
  EXPECT_FALSE(captured.result.truncated);
  EXPECT_FALSE(captured.result.unknown_stack);
  // 21 Nest frames, UnwindHere, then the test body and gtest's frames.
  ASSERT_GT(captured.result.depth, 23);
  // Each recursive call returns to the same pc inside Nest: 20 frames in a
  // row, after UnwindHere's and the innermost Nest's own return addresses.
  int recursive = 1;
  for (int i = 3;
       i < captured.result.depth && captured.pcs[i] == captured.pcs[2]; ++i) {
    ++recursive;
  }
  EXPECT_EQ(recursive, 20);
}

// --- The CFI fast path against libunwind, on the same contexts -------------

struct Both {
  Captured fast;
  Captured slow;
};

// Unwinds `context` with the fast path and with libunwind alone.
void UnwindBoth(const ucontext_t& context, Unwinder& unwinder,
                const AddressMap& map, Both& out) {
  unwinder.set_fast_path(true);
  out.fast.result = unwinder.Unwind(context, map, out.fast.pcs, kMaxDepth);
  unwinder.set_fast_path(false);
  out.slow.result = unwinder.Unwind(context, map, out.slow.pcs, kMaxDepth);
  unwinder.set_fast_path(true);
}

void ExpectSameStacks(const Both& both) {
  ASSERT_EQ(both.fast.result.depth, both.slow.result.depth);
  EXPECT_EQ(both.fast.result.truncated, both.slow.result.truncated);
  for (int i = 0; i < both.fast.result.depth; ++i) {
    EXPECT_EQ(both.fast.pcs[i], both.slow.pcs[i]) << "frame " << i;
  }
}

struct Probe {
  Unwinder* unwinder;
  const AddressMap* map;
  Both* out;
};

__attribute__((noinline)) void ProbeHere(const Probe& probe) {
  ucontext_t context;
  ASSERT_EQ(getcontext(&context), 0);
  UnwindBoth(context, *probe.unwinder, *probe.map, *probe.out);
}

Probe* g_probe = nullptr;

// qsort's comparator: a stack through glibc's sort.
int CompareAndProbe(const void* a, const void* b) {
  static bool probed = false;
  if (!probed) {
    probed = true;
    ProbeHere(*g_probe);
  }
  return *static_cast<const int*>(a) - *static_cast<const int*>(b);
}

// A frame whose CFA is RBP-based: alloca moves RSP by a run-time amount.
__attribute__((noinline)) void WithAlloca(int n, const Probe& probe) {
  volatile char* buffer = static_cast<volatile char*>(alloca(n));
  buffer[0] = 1;
  ProbeHere(probe);
  buffer[n - 1] = 2;
}

class FastPathTest : public ::testing::Test {
 protected:
  void SetUp() override {
    map_ = AddressMap::Build();
    ASSERT_TRUE(unwinder_.Init(*map_).ok());
  }
  Probe MakeProbe(Both& out) { return Probe{&unwinder_, map_.get(), &out}; }

  std::unique_ptr<AddressMap> map_;
  Unwinder unwinder_;
};

__attribute__((noinline)) void NestThenProbe(int depth, const Probe& probe) {
  if (depth == 0) {
    ProbeHere(probe);
  } else {
    NestThenProbe(depth - 1, probe);
  }
  asm volatile("" ::: "memory");  // not a tail call
}

TEST_F(FastPathTest, SameStackThroughNestedCalls) {
  Both both;
  NestThenProbe(30, MakeProbe(both));
  ExpectSameStacks(both);
  EXPECT_GT(both.fast.result.depth, 32);
}

TEST_F(FastPathTest, SameStackThroughGlibcQsortCallback) {
  Both both;
  Probe probe = MakeProbe(both);
  g_probe = &probe;
  int values[64];
  for (int i = 0; i < 64; ++i) values[i] = (i * 37) % 64;
  qsort(values, 64, sizeof(int), CompareAndProbe);
  ExpectSameStacks(both);
  EXPECT_GT(both.fast.result.depth, 5);
}

TEST_F(FastPathTest, SameStackThroughAnRbpBasedFrame) {
  Both both;
  WithAlloca(1000, MakeProbe(both));
  ExpectSameStacks(both);
}

TEST_F(FastPathTest, SameStackOnANewThreadDownToClone) {
  Both both;
  std::thread([&] { ProbeHere(MakeProbe(both)); }).join();
  ExpectSameStacks(both);
  EXPECT_FALSE(both.fast.result.truncated);
}

void ProbeFromSignal(int) { ProbeHere(*g_probe); }

TEST_F(FastPathTest, SameStackThroughASignalFrame) {
  Both both;
  Probe probe = MakeProbe(both);
  g_probe = &probe;
  struct sigaction action = {}, previous = {};
  action.sa_handler = ProbeFromSignal;
  sigemptyset(&action.sa_mask);
  ASSERT_EQ(sigaction(SIGUSR2, &action, &previous), 0);
  raise(SIGUSR2);
  sigaction(SIGUSR2, &previous, nullptr);
  ExpectSameStacks(both);
  EXPECT_GT(both.fast.result.depth, 4);  // past the signal trampoline
}

// A coroutine's stack lives in memory the host allocated (here mmap); the
// map may describe that memory as it was before the host gave part of it
// back. A corrupt frame pointer into the returned part must cost a truncated
// sample, never a SIGSEGV.
TEST(UnwindTest, StaleMapAroundTheStackNeverFaults) {
  const uint64_t page = PageSize();
  void* region = mmap(nullptr, 4 * page, PROT_READ | PROT_WRITE,
                      MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  ASSERT_NE(region, MAP_FAILED);
  const uint64_t base = reinterpret_cast<uint64_t>(region);
  AddressMap map({AddressRange{base, base + 4 * page}}, {});
  Unwinder unwinder;
  ASSERT_TRUE(unwinder.Init(map).ok());
  ASSERT_EQ(munmap(reinterpret_cast<void*>(base + page), 3 * page), 0);

  ucontext_t context;
  ASSERT_EQ(getcontext(&context), 0);
  // Stack pointer in the page still mapped; frame pointer just above it, in
  // the pages already returned; a pc in no module, so libunwind falls back to
  // following the frame pointer.
  context.uc_mcontext.gregs[REG_RSP] = static_cast<greg_t>(base + page - 64);
  context.uc_mcontext.gregs[REG_RBP] = static_cast<greg_t>(base + page + 256);
  context.uc_mcontext.gregs[REG_RIP] = static_cast<greg_t>(0x1000);
  uint64_t pcs[kMaxDepth];
  UnwindResult result = unwinder.Unwind(context, map, pcs, kMaxDepth);
  EXPECT_EQ(result.depth, 1);
  EXPECT_EQ(pcs[0], 0x1000u);
}

}  // namespace
}  // namespace inprof::internal
