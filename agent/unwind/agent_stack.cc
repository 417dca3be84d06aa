#include "agent/unwind/agent_stack.h"

// SIGNAL CONTEXT. RunOnAgentStack() and the trampoline run inside the signal
// handler and the hooks; the rest is marked. See unwind.h for the rules.

#include <pthread.h>
#include <sys/mman.h>

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <mutex>

namespace inprof::internal {
namespace {

constexpr size_t kPage = 4096;
constexpr int kStacks = 64;  // one bit each in g_busy
// The libunwind fallback path measured ~10 KiB at its deepest (including a
// lazily bound call into ld.so); sanitizers grow every frame.
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
constexpr size_t kStackSize = 256 * 1024;
#else
constexpr size_t kStackSize = 64 * 1024;
#endif
constexpr size_t kSlotSize = kStackSize + kPage;  // guard page first

std::atomic<char*> g_pool{nullptr};
std::atomic<uint64_t> g_busy{0};
__attribute__((tls_model("initial-exec"))) thread_local bool t_on_agent_stack =
    false;

int AcquireSlot() noexcept {
  uint64_t busy = g_busy.load(std::memory_order_relaxed);
  while (busy != ~uint64_t{0}) {
    int slot = __builtin_ctzll(~busy);
    if (g_busy.compare_exchange_weak(busy, busy | (uint64_t{1} << slot),
                                     std::memory_order_acquire,
                                     std::memory_order_relaxed)) {
      return slot;
    }
  }
  return -1;
}

void ReleaseSlot(int slot) noexcept {
  g_busy.fetch_and(~(uint64_t{1} << slot), std::memory_order_release);
}

struct Call {
  void (*fn)(void*);
  void* arg;
};

void RunMarked(void* raw) noexcept {
  const Call* call = static_cast<const Call*>(raw);
  t_on_agent_stack = true;
  call->fn(call->arg);
  t_on_agent_stack = false;
}

}  // namespace
}  // namespace inprof::internal

// inprof_internal_call_on_stack(arg, fn, top): calls fn(arg) with the stack
// pointer at `top` (aligned down to 16), then returns on the caller's stack.
// The frame is RBP-based with CFI, so debuggers and unwinders walk through
// it back to the interrupted code.
extern "C" void inprof_internal_call_on_stack(void* arg, void (*fn)(void*),
                                              void* top) noexcept;
asm(R"(
  .text
  .p2align 4
  .globl inprof_internal_call_on_stack
  .hidden inprof_internal_call_on_stack
  .type inprof_internal_call_on_stack, @function
inprof_internal_call_on_stack:
  .cfi_startproc
  endbr64
  pushq %rbp
  .cfi_def_cfa_offset 16
  .cfi_offset %rbp, -16
  movq %rsp, %rbp
  .cfi_def_cfa_register %rbp
  andq $-16, %rdx
  movq %rdx, %rsp
  callq *%rsi
  movq %rbp, %rsp
  popq %rbp
  .cfi_def_cfa %rsp, 8
  retq
  .cfi_endproc
  .size inprof_internal_call_on_stack, .-inprof_internal_call_on_stack
)");

namespace inprof::internal {

bool RunOnAgentStack(void (*fn)(void*), void* arg) noexcept {
  if (t_on_agent_stack) {
    fn(arg);
    return true;
  }
  char* pool = g_pool.load(std::memory_order_acquire);
  if (pool == nullptr) return false;
  const int slot = AcquireSlot();
  if (slot < 0) return false;
  Call call{fn, arg};
  char* top = pool + static_cast<size_t>(slot + 1) * kSlotSize;
  inprof_internal_call_on_stack(
      &call, reinterpret_cast<void (*)(void*)>(RunMarked), top);
  ReleaseSlot(slot);
  return true;
}

// NOT SIGNAL CONTEXT BEGIN: mapping the pool, measuring it

bool InitAgentStacks() {
  static std::once_flag once;
  std::call_once(once, [] {
    void* memory = mmap(nullptr, kSlotSize * kStacks, PROT_READ | PROT_WRITE,
                        MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (memory == MAP_FAILED) return;
    char* pool = static_cast<char*>(memory);
    for (int i = 0; i < kStacks; ++i) {
      mprotect(pool + static_cast<size_t>(i) * kSlotSize, kPage, PROT_NONE);
    }
    // A forked child has only the forking thread, which is not on an agent
    // stack: stacks its parent's other threads held are free again.
    pthread_atfork(nullptr, nullptr,
                   [] { g_busy.store(0, std::memory_order_relaxed); });
    g_pool.store(pool, std::memory_order_release);
  });
  return g_pool.load(std::memory_order_acquire) != nullptr;
}

size_t AgentStackHighWater() {
  char* pool = g_pool.load(std::memory_order_acquire);
  if (pool == nullptr) return 0;
  size_t deepest = 0;
  for (int i = 0; i < kStacks; ++i) {
    const auto* low = reinterpret_cast<const uint64_t*>(
        pool + static_cast<size_t>(i) * kSlotSize + kPage);
    const size_t words = kStackSize / sizeof(uint64_t);
    size_t first = 0;
    while (first < words && low[first] == 0) ++first;
    deepest = std::max(deepest, (words - first) * sizeof(uint64_t));
  }
  return deepest;
}

size_t AgentStackSize() { return kStackSize; }

// NOT SIGNAL CONTEXT END

}  // namespace inprof::internal
