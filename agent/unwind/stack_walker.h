// StackWalker captures call stacks of the running process for every source
// of samples: the CPU signal handler (from the interrupted context) and the
// heap and contention hooks (from the calling thread itself). It owns the
// AddressMap the unwinder reads through and keeps it fresh on a background
// thread ("inprof-maps"): rebuilt when the loader's module list changes
// (dlopen, dlclose) and, rate limited, when a walk met a stack or code the
// map did not know.
//
// Ownership: owns the unwinder, the published maps and the thread.
// Thread safety: Walk() and WalkHere() are async-signal-safe and may run on
// any number of threads at once; everything else is thread-safe but not
// async-signal-safe.
#ifndef INPROF_AGENT_UNWIND_STACK_WALKER_H_
#define INPROF_AGENT_UNWIND_STACK_WALKER_H_

#include <ucontext.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <mutex>
#include <thread>

#include "agent/unwind/address_map.h"
#include "agent/unwind/rebuild_budget.h"
#include "agent/unwind/unwind.h"
#include "inprof/status.h"

namespace inprof::internal {

struct StackWalk {
  int depth = 0;               // entries written to pcs
  bool truncated = false;      // stopped at a frame it could not trust
  bool unknown_stack = false;  // the stack pointer was outside the map
  bool no_map = false;         // no map published yet: nothing was written
};

class StackWalker {
 public:
  // Builds the first map, warms libunwind up and starts the refresh thread,
  // which compares the loader's module counters every `poll` (200 ms by
  // default; tests make it long to see that a walk's request wakes it).
  [[nodiscard]] static StatusOr<std::unique_ptr<StackWalker>> Start(
      std::chrono::milliseconds poll = std::chrono::milliseconds(200));

  StackWalker(const StackWalker&) = delete;
  StackWalker& operator=(const StackWalker&) = delete;
  // Joins the refresh thread. No Walk may run any more.
  ~StackWalker();

  // pcs[0] = the context's pc, then return addresses. Async-signal-safe.
  // `own_stack`: the context is the calling thread's own, taken at a call
  // site (WalkHere) or by a signal handler running on that thread: its live
  // stack is read directly where it can be bounded (Unwinder::Unwind's
  // own_stack_top).
  StackWalk Walk(const ucontext_t& context, uint64_t* pcs, int max_depth,
                 bool own_stack = false) noexcept;

  // The calling thread's stack: return addresses only, pcs[0] being the one
  // into WalkHere's caller (symbolize every frame at pc - 1).
  // Async-signal-safe.
  __attribute__((noinline)) StackWalk WalkHere(uint64_t* pcs,
                                               int max_depth) noexcept;

  // Rebuilds the map now (so that a profile starting now knows every current
  // thread's stack). Not async-signal-safe.
  void Rebuild();

  // Rebuilds the map if a walk asked for it (rate limited) or the loader's
  // modules changed. The refresh thread does this every poll period and as
  // soon as a walk asks (a new thread's stack: until the map knows it, its
  // walks read through the kernel, several times the cost); a CPU
  // profile's collector calls it every drain so that code loaded during the
  // profile is unwound within 50 ms. Not async-signal-safe.
  void RefreshIfNeeded();

  uint64_t map_rebuilds() const;

  // Walks that read their own thread's stack directly (WalkHere with a
  // bounded stack), for tests.
  uint64_t own_stack_walks() const {
    return own_stack_walks_.load(std::memory_order_relaxed);
  }

 private:
  StackWalker() = default;
  void RefreshLoop();
  // How long the refresh thread may sleep: until the rate limit and its
  // budget allow the rebuild a walk asked for, else a poll period.
  std::chrono::milliseconds RefreshWaitLocked() const;
  // How long from `now` until a rebuild a walk asked for may run: the rate
  // limit, and for the refresh thread (`budgeted`) its budget.
  std::chrono::steady_clock::duration RequestDueInLocked(
      std::chrono::steady_clock::time_point now, bool budgeted) const;
  // Wakes the refresh thread (a futex wake: async-signal-safe).
  void WakeRefresher() noexcept;
  void RebuildLocked();
  // `budgeted`: the refresh thread's call, which spends its budget on a
  // requested rebuild; the collector's (during a CPU profile) does not.
  void RefreshIfNeededLocked(bool budgeted);

  // Shared with walkers in signal handlers and hooks (lock-free).
  AddressMapHolder maps_;
  Unwinder unwinder_;

  mutable std::mutex mu_;
  // Bumped to wake the refresh thread, which waits on it as a futex (a
  // condition variable cannot be notified from a signal handler).
  std::atomic<uint32_t> wake_word_{0};
  std::chrono::milliseconds poll_{200};
  // Guarded by mu_.
  bool stopping_ = false;
  uint64_t map_rebuilds_ = 0;
  std::atomic<uint64_t> own_stack_walks_{0};
  LoaderGeneration loader_generation_;
  std::chrono::steady_clock::time_point last_build_;
  // The refresh thread's rebuilds for walkers: three at once, then one per
  // 200 ms on average (as often as its old 200 ms poll served them).
  RebuildBudget budget_{std::chrono::milliseconds(200), 3};

  std::thread refresher_;
};

}  // namespace inprof::internal

#endif  // INPROF_AGENT_UNWIND_STACK_WALKER_H_
