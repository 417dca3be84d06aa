#include "agent/contention/contention_profiler.h"

// SIGNAL CONTEXT. The hook side (Begin/EndContentionWait, ChargeUnlock,
// RecordMutexDelay, Record, BudgetShift) runs inside lock and unlock of any
// code in the process, allocators included: no allocation, no locks, no
// stdio; thread_locals are trivial and initial-exec. The rest is marked. See
// agent/unwind/unwind.h for the rules.

#include <dlfcn.h>
#include <pthread.h>

#include <string>
#include <thread>

#include "agent/base/agent_thread.h"
#include "agent/base/clock.h"
#include "agent/base/fast_random.h"
#include "agent/base/thread_labels.h"
#include "agent/contention/interposer_abi.h"
#include "agent/contention/request_waits.h"

namespace inprof::internal {
namespace {

// The sampling state the hooks read on every event lives in static storage,
// never freed, so that the common path touches no profiler object (and no
// shared counter): only a kept sample needs the profiler (RecordSample).
struct Budget {
  std::atomic<uint64_t> window_start{0};
  std::atomic<uint32_t> window_samples{0};
  std::atomic<uint32_t> shift{0};
};
struct SamplingState {
  // 0 while no profiler runs.
  std::atomic<int64_t> block_rate{0};
  std::atomic<int64_t> mutex_fraction{0};
  Budget budgets[2];
  std::atomic<uint64_t> unattributed_nanos{0};
};
constinit SamplingState g_sampling;

// The profiler kept samples go to; cleared before it is destroyed.
std::atomic<ContentionProfiler*> g_profiler{nullptr};
// Recordings in progress; the destructor waits for 0.
std::atomic<int> g_in_flight{0};

constexpr uint64_t kWindowNanos = 100'000'000;
constexpr uint32_t kMaxShift = 24;
constexpr int kWalkDepth = kContentionMaxDepth + 8;  // + our own frames
constexpr int64_t kMaxBlockRate = int64_t{1} << 40;  // ~18 minutes
constexpr int64_t kMaxMutexFraction = int64_t{1} << 20;
// The mutex profile's delay threshold at the first budget doubling.
constexpr uint64_t kMutexBudgetBaseNanos = 1000;

// The budget's current doubling for `kind`; rolls the window over when due,
// and halves the doubling back after a window with few samples.
uint32_t BudgetShift(ContentionKind kind, uint64_t now) noexcept {
  Budget& budget = g_sampling.budgets[static_cast<int>(kind)];
  uint64_t start = budget.window_start.load(std::memory_order_relaxed);
  if (now - start >= kWindowNanos &&
      budget.window_start.compare_exchange_strong(start, now,
                                                  std::memory_order_relaxed)) {
    const uint32_t taken =
        budget.window_samples.exchange(0, std::memory_order_relaxed);
    const uint32_t shift = budget.shift.load(std::memory_order_relaxed);
    if (taken < kSamplesPerWindow / 4 && shift > 0) {
      budget.shift.store(shift - 1, std::memory_order_relaxed);
    }
  }
  return budget.shift.load(std::memory_order_relaxed);
}

// Counts a kept sample against the budget; doubles at each full budget.
void SpendBudget(ContentionKind kind) noexcept {
  Budget& budget = g_sampling.budgets[static_cast<int>(kind)];
  const uint32_t taken =
      budget.window_samples.fetch_add(1, std::memory_order_relaxed) + 1;
  if (taken % kSamplesPerWindow == 0 &&
      budget.shift.load(std::memory_order_relaxed) < kMaxShift) {
    budget.shift.fetch_add(1, std::memory_order_relaxed);
  }
}

// The hooks the interposer calls, in its C calling convention.
static_assert(sizeof(ContentionWait) <= sizeof(InprofWaitToken));
static_assert(alignof(ContentionWait) <= alignof(InprofWaitToken));

void HookBeginWait(const void* lock, InprofWaitToken* token) {
  BeginContentionWait(lock, *new (token) ContentionWait());
}
void HookEndWait(InprofWaitToken* token, uint64_t caller) {
  EndContentionWait(*reinterpret_cast<ContentionWait*>(token), caller);
}
uint64_t HookChargeUnlock(const void* lock) { return ChargeUnlock(lock); }
void HookRecordMutexDelay(uint64_t delay, uint64_t caller) {
  RecordMutexDelay(delay, caller);
}

constexpr InprofContentionHooks kHooks = {
    HookBeginWait, HookEndWait, HookChargeUnlock, HookRecordMutexDelay};

}  // namespace

// Hands a kept event to the running profiler, if one still runs.
void RecordSample(ContentionKind kind, uint64_t count, uint64_t delay,
                  uint64_t caller) noexcept {
  g_in_flight.fetch_add(1, std::memory_order_seq_cst);
  ContentionProfiler* profiler = g_profiler.load(std::memory_order_seq_cst);
  if (profiler != nullptr) profiler->Record(kind, count, delay, caller);
  g_in_flight.fetch_sub(1, std::memory_order_seq_cst);
}

void BeginContentionWait(const void* lock, ContentionWait& wait) noexcept {
  wait = ContentionWait();
  const int64_t block_rate =
      g_sampling.block_rate.load(std::memory_order_relaxed);
  const int64_t fraction =
      g_sampling.mutex_fraction.load(std::memory_order_relaxed);
  if ((block_rate <= 0 && fraction <= 0) || InAgentCode() || IsAgentThread()) {
    return;
  }
  wait.start_nanos = MonotonicNanos();
  if (lock != nullptr && fraction > 0) {
    wait.slot = WaitBoard::Register(lock, wait.start_nanos);
    wait.unattributed = wait.slot == nullptr;
  }
}

void EndContentionWait(ContentionWait& wait, uint64_t caller) noexcept {
  if (wait.start_nanos == 0) return;
  const uint64_t end = MonotonicNanos();
  if (wait.slot != nullptr) WaitBoard::Unregister(wait.slot, wait.start_nanos);
  const uint64_t waited = end - wait.start_nanos;
  wait.start_nanos = 0;
  if (waited == 0) return;
  if (wait.unattributed) {
    g_sampling.unattributed_nanos.fetch_add(waited, std::memory_order_relaxed);
  }
  const int64_t rate = g_sampling.block_rate.load(std::memory_order_relaxed);
  if (rate <= 0) return;
  const uint32_t shift = BudgetShift(ContentionKind::kBlock, end);
  const uint64_t effective = static_cast<uint64_t>(rate) << shift;
  uint64_t count = 0, delay = 0;
  if (waited >= effective) {
    count = kCountOne;
    delay = waited;
  } else if (NextUniform() * static_cast<double>(effective) <
             static_cast<double>(waited)) {
    // Kept with probability waited/effective: stands for effective/waited
    // events of `effective` ns in all.
    count = static_cast<uint64_t>(static_cast<double>(effective) /
                                  static_cast<double>(waited) * kCountOne);
    delay = effective;
  } else {
    return;
  }
  AgentCodeScope agent_code;  // locks taken while recording pass through
  RecordSample(ContentionKind::kBlock, count, delay, caller);
}

uint64_t ChargeUnlock(const void* lock) noexcept {
  if (!WaitBoard::HasWaiters(lock) || InAgentCode() || IsAgentThread()) {
    return 0;
  }
  return WaitBoard::Charge(lock, MonotonicNanos());
}

void RecordMutexDelay(uint64_t delay_nanos, uint64_t caller) noexcept {
  if (delay_nanos == 0 || InAgentCode()) return;
  const int64_t fraction =
      g_sampling.mutex_fraction.load(std::memory_order_relaxed);
  if (fraction <= 0) return;
  const uint32_t shift = BudgetShift(ContentionKind::kMutex, MonotonicNanos());
  // Go's rule: one event in `fraction`. Under budget pressure, events
  // shorter than a threshold are kept in proportion to their delay as well
  // (as the block profile's rate does), so that many short ones cannot
  // crowd out the few long ones.
  double keep = 1.0 / static_cast<double>(fraction);
  if (shift > 0) {
    const uint64_t threshold = kMutexBudgetBaseNanos << (shift - 1);
    if (delay_nanos < threshold) {
      keep *= static_cast<double>(delay_nanos) / static_cast<double>(threshold);
    }
  }
  if (keep < 1.0 && NextUniform() > keep) return;
  AgentCodeScope agent_code;
  RecordSample(ContentionKind::kMutex, static_cast<uint64_t>(kCountOne / keep),
               static_cast<uint64_t>(static_cast<double>(delay_nanos) / keep),
               caller);
}

void ContentionProfiler::Record(ContentionKind kind, uint64_t count,
                                uint64_t delay, uint64_t caller) noexcept {
  const uint64_t start = MonotonicNanos();
  const int k = static_cast<int>(kind);
  uint64_t pcs[kWalkDepth];
  const StackWalk walk = walker_->WalkHere(pcs, kWalkDepth);
  // Our own frames end where the primitive returns into its caller.
  int first = 0;
  for (int i = 0; i < walk.depth; ++i) {
    if (pcs[i] == caller) {
      first = i;
      break;
    }
  }
  ContentionTable& table = *tables_[k];
  ContentionTable::Entry& entry =
      table.FindOrAdd(pcs + first, walk.depth - first, CurrentLabelSet());
  ContentionTable::Record(entry, count, delay);
  // A wait inside a request also goes to that request's history (while
  // auto-capture is on): its capture shows its waits.
  if (kind == ContentionKind::kBlock) {
    RequestWaits::Global().Push(pcs + first, walk.depth - first, count, delay);
  }
  SpendBudget(kind);
  samples_[k].fetch_add(1, std::memory_order_relaxed);
  nanos_[k].fetch_add(MonotonicNanos() - start, std::memory_order_relaxed);
}

// NOT SIGNAL CONTEXT BEGIN: setup, teardown and readers

Status ValidateBlockRate(int64_t nanos) {
  if (nanos < 0 || nanos > kMaxBlockRate) {
    return InvalidArgumentError("block profile rate " + std::to_string(nanos) +
                                ": must be 0 (off) to " +
                                std::to_string(kMaxBlockRate) + " ns");
  }
  return OkStatus();
}

Status ValidateMutexFraction(int64_t fraction) {
  if (fraction < 0 || fraction > kMaxMutexFraction) {
    return InvalidArgumentError("mutex profile fraction " +
                                std::to_string(fraction) +
                                ": must be 0 (off) "
                                "to " +
                                std::to_string(kMaxMutexFraction));
  }
  return OkStatus();
}

ContentionProfiler::ContentionProfiler(StackWalker* walker) : walker_(walker) {}

StatusOr<std::unique_ptr<ContentionProfiler>> ContentionProfiler::Start(
    StackWalker* walker, int64_t block_rate_nanos, int64_t mutex_fraction) {
  Status valid = ValidateBlockRate(block_rate_nanos);
  if (valid.ok()) valid = ValidateMutexFraction(mutex_fraction);
  if (!valid.ok()) return valid;
  ContentionTable* block = ContentionTable::Block();
  ContentionTable* mutex = ContentionTable::Mutex();
  if (block == nullptr || mutex == nullptr) {
    return InternalError("cannot map the contention profiles' tables");
  }
  if (g_profiler.load() != nullptr) {
    return FailedPreconditionError("a contention profiler is already running");
  }
  block->Reset();
  mutex->Reset();
  std::unique_ptr<ContentionProfiler> profiler(new ContentionProfiler(walker));
  profiler->tables_[0] = block;
  profiler->tables_[1] = mutex;
  const uint64_t now = MonotonicNanos();
  for (Budget& budget : g_sampling.budgets) {
    budget.window_start.store(now);
    budget.window_samples.store(0);
    budget.shift.store(0);
  }
  g_sampling.unattributed_nanos.store(0);
  static pthread_once_t at_fork_once = PTHREAD_ONCE_INIT;
  pthread_once(&at_fork_once, [] {
    // A forked child has only the forking thread, which is in no hook:
    // hooks its parent's other threads were running never finish there.
    pthread_atfork(nullptr, nullptr, [] {
      WaitBoard::ForgetAllAfterFork();
      g_in_flight.store(0);
    });
  });
  g_profiler.store(profiler.get(), std::memory_order_seq_cst);
  g_sampling.block_rate.store(block_rate_nanos);
  g_sampling.mutex_fraction.store(mutex_fraction);

  // The interposer, linked or preloaded, exports its table by name.
  auto* interposer = static_cast<InprofContentionInterposer*>(
      dlsym(RTLD_DEFAULT, kInterposerSymbol));
  if (interposer != nullptr && interposer->abi_version == kInterposerAbi) {
    interposer->hooks.store(&kHooks, std::memory_order_release);
    profiler->interposer_table_ = interposer;
    profiler->interposer_ = interposer->how;
  }
  return profiler;
}

ContentionProfiler::~ContentionProfiler() {
  if (interposer_table_ != nullptr) {
    interposer_table_->hooks.store(nullptr, std::memory_order_release);
  }
  g_sampling.block_rate.store(0);
  g_sampling.mutex_fraction.store(0);
  g_profiler.store(nullptr, std::memory_order_seq_cst);
  while (g_in_flight.load(std::memory_order_seq_cst) != 0) {
    std::this_thread::yield();
  }
}

int64_t ContentionProfiler::block_rate() const {
  return g_sampling.block_rate.load(std::memory_order_relaxed);
}

int64_t ContentionProfiler::mutex_fraction() const {
  return g_sampling.mutex_fraction.load(std::memory_order_relaxed);
}

Status ContentionProfiler::set_block_rate(int64_t nanos) {
  Status valid = ValidateBlockRate(nanos);
  if (!valid.ok()) return valid;
  g_sampling.block_rate.store(nanos, std::memory_order_relaxed);
  return OkStatus();
}

Status ContentionProfiler::set_mutex_fraction(int64_t fraction) {
  Status valid = ValidateMutexFraction(fraction);
  if (!valid.ok()) return valid;
  g_sampling.mutex_fraction.store(fraction, std::memory_order_relaxed);
  return OkStatus();
}

ContentionKindStats ContentionProfiler::stats(ContentionKind kind) const {
  const int k = static_cast<int>(kind);
  ContentionKindStats stats;
  stats.samples = samples_[k].load(std::memory_order_relaxed);
  stats.nanos_sampling = nanos_[k].load(std::memory_order_relaxed);
  stats.overflowed = tables_[k]->overflowed();
  stats.budget_shift =
      g_sampling.budgets[k].shift.load(std::memory_order_relaxed);
  if (kind == ContentionKind::kMutex) {
    stats.unattributed_nanos =
        g_sampling.unattributed_nanos.load(std::memory_order_relaxed);
  }
  return stats;
}

// NOT SIGNAL CONTEXT END

}  // namespace inprof::internal
