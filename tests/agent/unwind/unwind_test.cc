#include "agent/unwind/unwind.h"

#include <gtest/gtest.h>
#include <sys/mman.h>
#include <ucontext.h>
#include <unistd.h>

#include <cstdint>
#include <memory>

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
