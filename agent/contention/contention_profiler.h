// ContentionProfiler records Go's two contention profiles (ARCHITECTURE.md
// decision 7, pprof-spec.md §2.11) from the slow paths of inprof::Mutex,
// SharedMutex, ConditionVariable and of the pthread interposer:
//
//  - block: the stacks that waited, with the time they waited. Go's rule:
//    with rate R (ns), a wait of d ≥ R is always kept (1 event, d ns); a
//    shorter one is kept with probability d/R and then stands for R/d
//    events and R ns. Unbiased in expectation.
//  - mutex: the stacks that unlocked a lock others were waiting for, with
//    the waiting their critical section caused (WaitBoard). One such unlock
//    in F (the fraction) is kept and counts F events and F x delay.
//
// The profiler also keeps its own cost bounded on any workload: each kind
// takes at most about kSamplesPerWindow samples per 100 ms window; beyond
// that the block rate is doubled for the events that follow (for the mutex
// profile, a delay threshold is doubled: shorter events are then kept in
// proportion to their delay), and halved back once samples are scarce
// again. Each sample is weighted by the inverse of the probability it had
// of being kept, so the figures stay unbiased.
//
// The hook side (ContentionWait, ChargeUnlock, RecordMutexDelay) does
// nothing when no profiler runs, so the primitives and the interposer are
// safe before the agent starts, after it stops and during process exit.
//
// Ownership: at most one ContentionProfiler per process; borrows the
// StackWalker, which must outlive it. The tables are process-lifetime.
// Thread safety: thread-safe.
#ifndef INPROF_AGENT_CONTENTION_CONTENTION_PROFILER_H_
#define INPROF_AGENT_CONTENTION_CONTENTION_PROFILER_H_

// SIGNAL CONTEXT. The hook-side functions declared here run inside lock and
// unlock of any code in the process: no allocation, no locks, no stdio. See
// agent/unwind/unwind.h for the rules.

#include <atomic>
#include <cstdint>
#include <memory>

#include "agent/base/agent_thread.h"
#include "agent/contention/contention_table.h"
#include "agent/contention/interposer_abi.h"
#include "agent/contention/wait_board.h"
#include "agent/unwind/stack_walker.h"
#include "inprof/status.h"

namespace inprof::internal {

enum class ContentionKind { kBlock = 0, kMutex = 1 };

struct ContentionWait;

// The sample budget: about 250 samples a second per profile. A block sample
// is taken by the waiter once it holds the lock it waited for, so the budget
// is what bounds how much longer contended critical sections get; 100 per
// window cost a contended std::mutex workload 3.4%, 25 cost ~1%
// (BENCHMARKS.md, "Contention").
inline constexpr uint32_t kSamplesPerWindow = 25;

struct ContentionKindStats {
  uint64_t samples = 0;         // events recorded with their stack
  uint64_t nanos_sampling = 0;  // time spent taking those samples
  uint64_t overflowed = 0;      // recorded into the overflow entry
  uint32_t budget_shift = 0;    // current doubling of the rate (0: none)
  // Mutex only: waiting that could not be charged to an unlocker (the
  // WaitBoard slot was busy with another lock).
  uint64_t unattributed_nanos = 0;
};

class ContentionProfiler {
 public:
  [[nodiscard]] static StatusOr<std::unique_ptr<ContentionProfiler>> Start(
      StackWalker* walker, int64_t block_rate_nanos, int64_t mutex_fraction);

  ContentionProfiler(const ContentionProfiler&) = delete;
  ContentionProfiler& operator=(const ContentionProfiler&) = delete;
  // Stops recording and waits for hooks still recording.
  ~ContentionProfiler();

  // 0 turns the kind off; takes effect at the next event.
  [[nodiscard]] Status set_block_rate(int64_t nanos);
  [[nodiscard]] Status set_mutex_fraction(int64_t fraction);
  int64_t block_rate() const;
  int64_t mutex_fraction() const;

  const ContentionTable& table(ContentionKind kind) const {
    return *tables_[static_cast<int>(kind)];
  }
  ContentionKindStats stats(ContentionKind kind) const;

  // Where the process's pthread locks are seen from: "linked", "preloaded"
  // or "" (no interposer: only inprof's own primitives are profiled).
  const char* interposer() const { return interposer_; }

 private:
  explicit ContentionProfiler(StackWalker* walker);

  // Records one kept event with the calling thread's stack.
  void Record(ContentionKind kind, uint64_t count, uint64_t delay,
              uint64_t caller) noexcept;
  friend void RecordSample(ContentionKind, uint64_t, uint64_t,
                           uint64_t) noexcept;

  StackWalker* const walker_;
  ContentionTable* tables_[2] = {nullptr, nullptr};
  std::atomic<uint64_t> samples_[2] = {0, 0};
  std::atomic<uint64_t> nanos_[2] = {0, 0};
  const char* interposer_ = "";
  ::InprofContentionInterposer* interposer_table_ = nullptr;
};

// Hook side ------------------------------------------------------------------

// One wait in progress, on the waiting thread's stack.
struct ContentionWait {
  uint64_t start_nanos = 0;  // 0: not timed (nothing profiles, re-entered)
  WaitSlot* slot = nullptr;  // registered on the WaitBoard
  // The WaitBoard slot was taken by another lock's waiters: this wait is
  // missing from the mutex profile (counted in its stats).
  bool unattributed = false;
};

// Starts timing a wait. `lock`: the lock found taken, registered so that its
// unlocker is charged; nullptr for a condition-variable wait. Costs one
// relaxed load when nothing profiles. Call it when the thread is about to
// block, not while it spins: it costs two clock reads and, for the mutex
// profile, a registration.
void BeginContentionWait(const void* lock, ContentionWait& wait) noexcept;

// Ends the wait (the lock is held now, or the wait returned) and offers it
// to the block profile. `caller`: a return address in the waiting stack;
// recorded frames start there (the primitive's own frames are left out).
void EndContentionWait(ContentionWait& wait, uint64_t caller) noexcept;

// Before unlocking `lock`: the delay its waiters suffered since the last
// charge (0 after one load when nobody waits or nothing profiles).
uint64_t ChargeUnlock(const void* lock) noexcept;

// After unlocking: offers `delay_nanos` from ChargeUnlock to the mutex
// profile under the unlocking stack, which starts at `caller`.
void RecordMutexDelay(uint64_t delay_nanos, uint64_t caller) noexcept;

// Makes this thread's lock calls invisible to the hooks for its scope: for
// inprof's own primitives, whose pthread calls would otherwise be counted a
// second time by the interposer.
using HookBypass = AgentCodeScope;

// NOT SIGNAL CONTEXT BEGIN: setup and validation
[[nodiscard]] Status ValidateBlockRate(int64_t nanos);
[[nodiscard]] Status ValidateMutexFraction(int64_t fraction);
// NOT SIGNAL CONTEXT END

}  // namespace inprof::internal

#endif  // INPROF_AGENT_CONTENTION_CONTENTION_PROFILER_H_
