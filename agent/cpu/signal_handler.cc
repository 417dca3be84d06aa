#include "agent/cpu/signal_handler.h"

// SIGNAL CONTEXT. HandleCpuSignal() and RecordSample() run inside the signal
// handler on any thread: no allocation, no locks, no stdio; errno is saved
// and restored; thread_locals are trivial and initial-exec. See unwind.h.

#include <errno.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "agent/base/clock.h"
#include "agent/base/thread_labels.h"

namespace inprof::internal {
namespace {

// Published before the handler is installed, cleared before uninstall.
std::atomic<HandlerTarget*> g_target{nullptr};
// Handlers currently running; Uninstall waits for zero.
std::atomic<int> g_in_flight{0};

__attribute__((tls_model("initial-exec"))) thread_local bool t_in_handler =
    false;

uint32_t SampleWeight(const siginfo_t* info) noexcept {
  // Timer expirations the kernel merged into this signal still consumed CPU:
  // count them (LESSONS.md: honour si_overrun).
  if (info != nullptr && info->si_code == SI_TIMER && info->si_overrun > 0) {
    return 1u + static_cast<uint32_t>(info->si_overrun);
  }
  return 1;
}

void RecordSample(HandlerTarget& target, const siginfo_t* info,
                  const ucontext_t& context) noexcept {
  SampleRing::Claim claim = target.ring->TryClaim();
  if (claim.sample == nullptr) return;  // the ring counts it
  RawSample& sample = *claim.sample;
  sample.timestamp_ns = MonotonicNanos();
  sample.label_set = CurrentLabelSet();
  sample.tid = static_cast<uint32_t>(syscall(SYS_gettid));
  sample.weight = SampleWeight(info);
  StackWalk walk = target.walker->Walk(context, sample.pcs, target.max_depth);
  // A sample without a stack (no map yet) is committed empty: sinks skip
  // it, and it is reported as lost through no_map.
  sample.depth = static_cast<uint32_t>(walk.depth);
  sample.truncated = walk.truncated ? 1 : 0;
  target.ring->Commit(claim);
  HandlerCounters& counters = *target.counters;
  if (walk.no_map) counters.no_map.fetch_add(1, std::memory_order_relaxed);
  if (walk.truncated)
    counters.truncated.fetch_add(1, std::memory_order_relaxed);
  if (walk.unknown_stack) {
    counters.unknown_stack.fetch_add(1, std::memory_order_relaxed);
  }
  counters.nanos.fetch_add(MonotonicNanos() - sample.timestamp_ns,
                           std::memory_order_relaxed);
}

void HandleCpuSignal(int, siginfo_t* info, void* context) {
  const int saved_errno = errno;
  g_in_flight.fetch_add(1, std::memory_order_seq_cst);
  HandlerTarget* target = g_target.load(std::memory_order_seq_cst);
  if (target != nullptr && context != nullptr) {
    target->counters->signals.fetch_add(1, std::memory_order_relaxed);
    if (t_in_handler) {
      target->counters->reentrant.fetch_add(1, std::memory_order_relaxed);
    } else {
      t_in_handler = true;
      RecordSample(*target, info, *static_cast<const ucontext_t*>(context));
      t_in_handler = false;
    }
  }
  g_in_flight.fetch_sub(1, std::memory_order_seq_cst);
  errno = saved_errno;
}

}  // namespace

void SetHandlerTarget(HandlerTarget* target) noexcept {
  g_target.store(target, std::memory_order_seq_cst);
}

int HandlersInFlight() noexcept {
  return g_in_flight.load(std::memory_order_seq_cst);
}

void (*CpuSignalHandlerEntry())(int, siginfo_t*, void*) {
  return HandleCpuSignal;
}

}  // namespace inprof::internal
