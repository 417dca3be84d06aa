#include "agent/unwind/stack_walker.h"

// SIGNAL CONTEXT. Walk() and WalkHere() run inside the CPU signal handler and
// inside allocation hooks; the rest is marked. See unwind.h for the rules.

#include <errno.h>
#include <pthread.h>
#include <time.h>

#include <algorithm>
#include <cstring>

#include "agent/base/agent_thread.h"
#include "agent/base/agent_thread_start.h"
#include "agent/base/futex.h"
#include "agent/unwind/agent_stack.h"

// glibc's record of where the main thread's stack ends (a GLIBC_2.1
// symbol of ld.so).
extern "C" void* __libc_stack_end;

namespace inprof::internal {
namespace {

using std::chrono::milliseconds;
using std::chrono::steady_clock;

// Rebuilds asked for by walkers (a stack the map did not know) are rate
// limited: reading /proc/self/maps is not free in a big process. Between
// requests the refresh thread compares the loader's module counters (a
// dl_iterate_phdr call of a few microseconds) every poll period.
constexpr milliseconds kMinRebuildInterval{50};

}  // namespace

namespace {

// The top of the calling thread's stack above `sp`, where that is known
// without a system call and the map agrees that all of [sp, top) is one
// readable range; 0 otherwise (a coroutine's stack, an alternate signal
// stack, a map older than the stack): the unwind then reads through the
// kernel. glibc keeps a thread's descriptor, pthread_self(), at the top of
// its stack block (for stacks it allocates and stacks the program gives
// it); the main thread's frames end at __libc_stack_end. The same holds for
// a context a signal interrupted: the span from an sp inside the thread's
// stack block to its top is the stack the thread runs on, and an sp
// elsewhere (a coroutine's stack) does not share one range with the top:
// the map's ranges are single mappings (adjacent ones are not merged), and
// glibc's guard page lies below each stack it allocates. Never under a
// sanitizer, which would see the reads of other frames as overflows.
uint64_t OwnStackTop(const AddressMap& map, uint64_t sp) noexcept {
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
  (void)map;
  (void)sp;
  return 0;
#else
  const uint64_t candidates[] = {static_cast<uint64_t>(pthread_self()),
                                 reinterpret_cast<uint64_t>(__libc_stack_end)};
  for (uint64_t top : candidates) {
    if (top > sp && map.IsReadable(sp, top - sp)) return top;
  }
  return 0;
#endif
}

// What getcontext() stores that an unwind from a call site reads: the pc,
// the stack pointer and the callee-saved registers (a caller's frame is
// described by those alone; the others are zero). getcontext() also saves
// the signal mask, with a system call, and the FPU state: about a tenth of
// a heap sample's cost (BENCHMARKS.md, "Heap sampling against a build
// without inprof"). Inline, so the pc and sp are the caller's own, with the
// caller's unwind rules at that pc; the asm moves no stack pointer.
__attribute__((always_inline)) inline void CaptureCallSite(
    ucontext_t* context) noexcept {
  greg_t* gregs = context->uc_mcontext.gregs;
  std::memset(gregs, 0, sizeof(context->uc_mcontext.gregs));
  __asm__ volatile(
      "movq %%rbx, %c[rbx](%[g])\n\t"
      "movq %%rbp, %c[rbp](%[g])\n\t"
      "movq %%r12, %c[r12](%[g])\n\t"
      "movq %%r13, %c[r13](%[g])\n\t"
      "movq %%r14, %c[r14](%[g])\n\t"
      "movq %%r15, %c[r15](%[g])\n\t"
      "movq %%rsp, %c[rsp](%[g])\n\t"
      "leaq 0(%%rip), %%rax\n\t"
      "movq %%rax, %c[rip](%[g])\n\t"
      :
      : [g] "r"(gregs), [rbx] "i"(REG_RBX * 8), [rbp] "i"(REG_RBP * 8),
        [r12] "i"(REG_R12 * 8), [r13] "i"(REG_R13 * 8), [r14] "i"(REG_R14 * 8),
        [r15] "i"(REG_R15 * 8), [rsp] "i"(REG_RSP * 8), [rip] "i"(REG_RIP * 8)
      : "rax", "memory");
}

}  // namespace

StackWalk StackWalker::Walk(const ucontext_t& context, uint64_t* pcs,
                            int max_depth, bool own_stack) noexcept {
  // libunwind's fallback path takes a pthread lock: the contention hooks
  // must let it through (agent_thread.h).
  AgentCodeScope agent_code;
  StackWalk walk;
  const AddressMap* map = maps_.Acquire();
  if (map == nullptr) {
    maps_.Release();
    walk.no_map = true;
    return walk;
  }
  const uint64_t own_stack_top =
      own_stack
          ? OwnStackTop(
                *map, static_cast<uint64_t>(context.uc_mcontext.gregs[REG_RSP]))
          : 0;
  if (own_stack_top != 0) {
    own_stack_walks_.fetch_add(1, std::memory_order_relaxed);
  }
  UnwindResult unwound =
      unwinder_.Unwind(context, *map, pcs, max_depth, own_stack_top);
  maps_.Release();
  walk.depth = unwound.depth;
  walk.truncated = unwound.truncated;
  walk.unknown_stack = unwound.unknown_stack;
  if ((unwound.unknown_stack || unwound.unknown_code) &&
      maps_.RequestRefresh()) {
    WakeRefresher();  // a new thread's stack or a new module
  }
  return walk;
}

StackWalk StackWalker::WalkHere(uint64_t* pcs, int max_depth) noexcept {
  StackWalk walk;
  if (max_depth <= 0) return walk;
  ucontext_t context;
  CaptureCallSite(&context);
  // The hook's thread may run on a small coroutine stack: the unwind itself
  // runs on an agent stack. None free: no stack, as with no map yet.
  struct WalkCall {
    StackWalker* walker;
    const ucontext_t* context;
    uint64_t* pcs;
    int max_depth;
    StackWalk* walk;
  } call{this, &context, pcs, max_depth, &walk};
  if (!RunOnAgentStack(
          [](void* raw) noexcept {
            auto* c = static_cast<WalkCall*>(raw);
            *c->walk = c->walker->Walk(*c->context, c->pcs, c->max_depth,
                                       /*own_stack=*/true);
          },
          &call)) {
    walk.no_map = true;
    return walk;
  }
  // pcs[0] is a pc inside this function: drop it.
  if (walk.depth > 0) {
    std::memmove(pcs, pcs + 1, sizeof(*pcs) * (walk.depth - 1));
    --walk.depth;
  }
  return walk;
}

void StackWalker::WakeRefresher() noexcept {
  const int saved_errno = errno;  // a handler or malloc must not change it
  wake_word_.fetch_add(1, std::memory_order_release);
  FutexWake(wake_word_);
  errno = saved_errno;
}

// NOT SIGNAL CONTEXT BEGIN: setup, teardown and the refresh thread

StatusOr<std::unique_ptr<StackWalker>> StackWalker::Start(milliseconds poll) {
  if (!InitAgentStacks()) {
    return InternalError("cannot map the agent's signal stacks (mmap failed)");
  }
  std::unique_ptr<StackWalker> walker(new StackWalker());
  walker->poll_ = std::max(poll, milliseconds(1));  // 0 would spin
  {
    std::lock_guard<std::mutex> lock(walker->mu_);
    walker->RebuildLocked();
  }
  const AddressMap* map = walker->maps_.Acquire();
  Status status = walker->unwinder_.Init(*map);
  walker->maps_.Release();
  if (!status.ok()) return status;
  StackWalker* raw = walker.get();
  walker->refresher_ =
      StartAgentThread("inprof-maps", [raw] { raw->RefreshLoop(); });
  return walker;
}

StackWalker::~StackWalker() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = true;
  }
  WakeRefresher();
  if (refresher_.joinable()) refresher_.join();
}

void StackWalker::Rebuild() {
  std::lock_guard<std::mutex> lock(mu_);
  RebuildLocked();
}

uint64_t StackWalker::map_rebuilds() const {
  std::lock_guard<std::mutex> lock(mu_);
  return map_rebuilds_;
}

namespace {

// A whole number of milliseconds as a relative futex timeout.
timespec ToTimespec(milliseconds wait) {
  return {static_cast<time_t>(wait.count() / 1000),
          static_cast<long>(wait.count() % 1000) * 1000000};
}

}  // namespace

void StackWalker::RefreshLoop() {
  std::unique_lock<std::mutex> lock(mu_);
  while (!stopping_) {
    // Read before the wait is decided: a wake after this read changes the
    // word, and the futex wait then returns at once.
    const uint32_t seen = wake_word_.load(std::memory_order_acquire);
    const milliseconds wait = RefreshWaitLocked();
    if (wait.count() > 0) {
      lock.unlock();
      FutexWait(wake_word_, seen, ToTimespec(wait));
      lock.lock();
    }
    if (stopping_) break;
    RefreshIfNeededLocked(/*budgeted=*/true);
  }
}

milliseconds StackWalker::RefreshWaitLocked() const {
  if (!maps_.RefreshRequested()) return poll_;
  const steady_clock::duration wait =
      RequestDueInLocked(steady_clock::now(), /*budgeted=*/true);
  if (wait == steady_clock::duration::zero()) return milliseconds(0);
  return std::min(poll_, std::chrono::ceil<milliseconds>(wait));
}

steady_clock::duration StackWalker::RequestDueInLocked(
    steady_clock::time_point now, bool budgeted) const {
  return std::max(
      {steady_clock::duration::zero(), last_build_ + kMinRebuildInterval - now,
       budgeted ? budget_.WaitAt(now) : steady_clock::duration::zero()});
}

void StackWalker::RefreshIfNeeded() {
  std::lock_guard<std::mutex> lock(mu_);
  RefreshIfNeededLocked(/*budgeted=*/false);
}

void StackWalker::RefreshIfNeededLocked(bool budgeted) {
  const steady_clock::time_point now = steady_clock::now();
  if (CurrentLoaderGeneration() == loader_generation_) {
    if (!maps_.RefreshRequested()) return;
    if (RequestDueInLocked(now, budgeted) > steady_clock::duration::zero()) {
      return;
    }
    if (budgeted) budget_.Spend(now);
  }
  RebuildLocked();  // takes the request
}

void StackWalker::RebuildLocked() {
  // Any build answers the requests made before it (a walk that meets an
  // unknown stack while this one runs asks again).
  maps_.TakeRefreshRequest();
  LoaderGeneration generation = CurrentLoaderGeneration();
  bool unloaded = generation.subs != loader_generation_.subs;
  loader_generation_ = generation;
  maps_.Publish(AddressMap::Build());
  // Cached unwind rules may describe code that is gone.
  if (unloaded && map_rebuilds_ > 0) unwinder_.FlushCache();
  last_build_ = steady_clock::now();
  ++map_rebuilds_;
}

// NOT SIGNAL CONTEXT END

}  // namespace inprof::internal
