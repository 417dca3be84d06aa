#include "agent/cpu/signal_handler.h"

// SIGNAL CONTEXT. HandleCpuSignal() and RecordSample() run inside the signal
// handler on any thread: no allocation, no locks, no stdio; errno is saved
// and restored; thread_locals are trivial and initial-exec. See unwind.h.
//
// Stack use: HandleCpuSignal() runs on the interrupted stack (maybe a 4 KiB
// coroutine stack) and does nothing there but atomics and the switch to an
// agent stack (agent_stack.h); everything else, including any call that
// could go through a PLT slot, runs on the agent stack. The figure is
// measured by tests/agent/cpu/handler_stack_test.cc.

#include <errno.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "agent/base/agent_thread.h"
#include "agent/base/clock.h"
#include "agent/base/thread_labels.h"
#include "agent/cpu/thread_coverage.h"
#include "agent/cpu/wall_signal.h"
#include "agent/unwind/agent_stack.h"

namespace inprof::internal {
namespace {

// Published before the handler is installed, cleared before uninstall.
std::atomic<HandlerTarget*> g_target{nullptr};
// Handlers currently running; Uninstall waits for zero.
std::atomic<int> g_in_flight{0};

__attribute__((tls_model("initial-exec"))) thread_local bool t_in_handler =
    false;

// Signals of this thread's own CPU timer (with the expirations merged into
// them), recorded or not: what thread_start.cc compares with the expirations
// the thread's CPU time crossed.
__attribute__((tls_model(
    "initial-exec"))) thread_local uint64_t t_thread_timer_expirations = 0;

// The thread's CPU clock and the monotonic clock at its previous CPU sample,
// in sampling session g_cpu_epoch (a thread last sampled in an earlier
// session starts afresh: the CPU time between sessions was not profiled).
std::atomic<uint32_t> g_cpu_epoch{1};
std::atomic<bool> g_cpu_measured{false};
struct CpuClockMark {
  uint32_t epoch;
  uint64_t cpu_ns;
  uint64_t mono_ns;
};
__attribute__((tls_model(
    "initial-exec"))) thread_local CpuClockMark t_cpu_mark = {0, 0, 0};

// The CPU time this thread used since its previous sample (CPU or wall),
// read from its own CPU clock: a timer expiration the kernel dropped (a
// SIGPROF already pending, from another timer or a wall sample, swallows it)
// or merged still used the CPU, and the next sample counts it; a wall
// sample counts what the thread used since its last timer signal, so that a
// request's CPU time is complete to within one wall tick. Bounded by the
// wall time since the previous sample, or since the thread's request began:
// CPU time before the request is not the request's. A thread's first
// sample in a session has no previous reading: it stands for `fallback_ns`,
// bounded the same way.
uint64_t CpuNanosSincePrevious(uint64_t now_ns, uint64_t fallback_ns) noexcept {
  timespec ts;
  if (clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts) != 0) return 0;
  const uint64_t cpu_ns = static_cast<uint64_t>(ts.tv_sec) * 1000000000u +
                          static_cast<uint64_t>(ts.tv_nsec);
  const uint32_t epoch = g_cpu_epoch.load(std::memory_order_relaxed);
  const CpuClockMark previous = t_cpu_mark;
  t_cpu_mark = {epoch, cpu_ns, now_ns};
  const bool known = previous.epoch == epoch && cpu_ns >= previous.cpu_ns &&
                     now_ns >= previous.mono_ns;
  uint64_t since_ns = known ? previous.mono_ns : 0;
  if (t_request_start_ns > since_ns && t_request_start_ns <= now_ns) {
    since_ns = t_request_start_ns;
  }
  const uint64_t used = known ? cpu_ns - previous.cpu_ns : fallback_ns;
  if (since_ns == 0) return used;  // no bound known
  const uint64_t wall_bound = now_ns - since_ns;
  return used < wall_bound ? used : wall_bound;
}

uint32_t SampleWeight(const siginfo_t* info) noexcept {
  // Timer expirations the kernel merged into this signal still consumed CPU:
  // count them (LESSONS.md: honour si_overrun).
  if (info != nullptr && info->si_code == SI_TIMER && info->si_overrun > 0) {
    return 1u + static_cast<uint32_t>(info->si_overrun);
  }
  return 1;
}

// A signal of the process-wide timer on a thread that has its own timer:
// that thread's CPU time is already counted by its own.
bool CountedElsewhere(const siginfo_t* info, pid_t tid) noexcept {
  return info != nullptr && info->si_code == SI_TIMER &&
         info->si_value.sival_int == kProcessTimerTag && ThreadCovered(tid);
}

// Claims a ring slot, fills it for the calling thread and commits it;
// `fill_stack(sample)` sets pcs, depth and truncated and returns the walk's
// outcome for the counters.
template <typename FillStack>
void CommitSample(HandlerTarget& target, pid_t tid, uint64_t now_ns,
                  uint64_t wall_nanos, uint32_t weight,
                  FillStack fill_stack) noexcept {
  SampleRing::Claim claim = target.ring->TryClaim();
  if (claim.sample == nullptr) return;  // the ring counts it
  RawSample& sample = *claim.sample;
  sample.timestamp_ns = now_ns;
  sample.label_set = CurrentLabelSet();
  sample.request_id = CurrentRequestId();
  sample.tid = static_cast<uint32_t>(tid);
  sample.agent_thread = IsAgentThread() ? 1 : 0;
  sample.wall_nanos = wall_nanos;
  sample.weight = wall_nanos != 0 ? 0 : weight;
  sample.wait_count = 0;
  sample.wait_nanos = 0;
  sample.cpu_nanos = g_cpu_measured.load(std::memory_order_relaxed)
                         ? CpuNanosSincePrevious(
                               sample.timestamp_ns,
                               wall_nanos != 0 ? 0 : weight * target.period_ns)
                         : 0;
  const StackWalk walk = fill_stack(sample);
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

void RecordSample(HandlerTarget& target, const siginfo_t* info,
                  const ucontext_t& context) noexcept {
  const pid_t tid = static_cast<pid_t>(syscall(SYS_gettid));
  if (CountedElsewhere(info, tid)) {
    // Not recorded, and the thread's CPU clock is not read: its next sample
    // counts this CPU time (CpuNanosSincePrevious).
    target.counters->counted_elsewhere.fetch_add(1, std::memory_order_relaxed);
    return;
  }
  const uint64_t now = MonotonicNanos();
  uint64_t wall_nanos = 0;
  if (IsWallSignal(info)) {
    wall_nanos = TakeWallTimeSinceMark(now);
    if (wall_nanos == 0) return;  // no request began: nothing to stand for
  }
  CommitSample(target, tid, now, wall_nanos, SampleWeight(info),
               [&](RawSample& sample) {
                 // The context is this thread's own: the span of its live
                 // stack above the interrupted stack pointer is read
                 // directly where it can be bounded (stack_walker.h), and
                 // everything else through the kernel.
                 StackWalk walk =
                     target.walker->Walk(context, sample.pcs, target.max_depth,
                                         /*own_stack=*/true);
                 // A sample without a stack (no map yet) is committed empty:
                 // sinks skip it, and it is reported as lost through no_map.
                 sample.depth = static_cast<uint32_t>(walk.depth);
                 sample.truncated = walk.truncated ? 1 : 0;
                 return walk;
               });
}

struct HandlerCall {
  HandlerTarget* target;
  const siginfo_t* info;
  const ucontext_t* context;
};

// Runs on an agent stack: errno (a call to __errno_location) is touched
// only here.
void RecordOnAgentStack(void* raw) noexcept {
  const HandlerCall& call = *static_cast<const HandlerCall*>(raw);
  const int saved_errno = errno;
  RecordSample(*call.target, call.info, *call.context);
  errno = saved_errno;
}

void HandleCpuSignal(int, siginfo_t* info, void* context) {
  g_in_flight.fetch_add(1, std::memory_order_seq_cst);
  HandlerTarget* target = g_target.load(std::memory_order_seq_cst);
  if (target != nullptr && context != nullptr) {
    HandlerCounters& counters = *target->counters;
    counters.signals.fetch_add(1, std::memory_order_relaxed);
    if (info != nullptr && info->si_code == SI_TIMER &&
        info->si_value.sival_int == kThreadTimerTag) {
      t_thread_timer_expirations += SampleWeight(info);
    }
    if (t_in_handler) {
      counters.reentrant.fetch_add(1, std::memory_order_relaxed);
    } else {
      t_in_handler = true;
      HandlerCall call{target, info, static_cast<const ucontext_t*>(context)};
      if (!RunOnAgentStack(RecordOnAgentStack, &call)) {
        counters.no_stack.fetch_add(1, std::memory_order_relaxed);
      }
      t_in_handler = false;
    }
  }
  g_in_flight.fetch_sub(1, std::memory_order_seq_cst);
}

}  // namespace

uint64_t ThreadTimerExpirationsSignalled() noexcept {
  return t_thread_timer_expirations;
}

void RecordThreadEndSample(uintptr_t pc, uint32_t weight) noexcept {
  g_in_flight.fetch_add(1, std::memory_order_seq_cst);
  HandlerTarget* target = g_target.load(std::memory_order_seq_cst);
  if (target != nullptr && !t_in_handler) {
    t_in_handler = true;  // a timer signal meanwhile is dropped, counted
    target->counters->signals.fetch_add(1, std::memory_order_relaxed);
    const int saved_errno = errno;
    CommitSample(*target, static_cast<pid_t>(syscall(SYS_gettid)),
                 MonotonicNanos(), 0, weight, [pc](RawSample& sample) {
                   sample.pcs[0] = pc;
                   sample.depth = 1;
                   sample.truncated = 0;
                   return StackWalk{};
                 });
    errno = saved_errno;
    t_in_handler = false;
  }
  g_in_flight.fetch_sub(1, std::memory_order_seq_cst);
}

void SetThreadCpuMeasured(bool measured) noexcept {
  if (measured) g_cpu_epoch.fetch_add(1, std::memory_order_relaxed);
  g_cpu_measured.store(measured, std::memory_order_relaxed);
}

void SetHandlerTarget(HandlerTarget* target) noexcept {
  g_target.store(target, std::memory_order_seq_cst);
}

void ForgetHandlersInFlight() noexcept {
  g_in_flight.store(0, std::memory_order_seq_cst);
}

int HandlersInFlight() noexcept {
  return g_in_flight.load(std::memory_order_seq_cst);
}

void (*CpuSignalHandlerEntry())(int, siginfo_t*, void*) {
  return HandleCpuSignal;
}

}  // namespace inprof::internal
