// The CPU-profiling signal handler and its installation.
//
// The handler records one RawSample per timer signal: it unwinds the
// interrupted context into a claimed ring slot and publishes it. Everything
// that may allocate (aggregation, symbolization, encoding) happens later on the
// collector thread, which reads the ring.
//
// Install refuses a signal that the host already handles: silently stealing
// it would break the host (gperftools' CPUPROFILE uses SIGPROF too).
// Uninstall discards pending signals before restoring the previous action,
// so a late timer signal can never meet SIG_DFL and kill the process.
//
// Thread safety: Install/Uninstall from one thread (the agent's owner), at
// most one installation per process; the handler runs on any thread.
#ifndef INPROF_AGENT_CPU_SIGNAL_HANDLER_H_
#define INPROF_AGENT_CPU_SIGNAL_HANDLER_H_

#include <signal.h>

#include <atomic>
#include <cstdint>

#include "agent/cpu/sample_ring.h"
#include "agent/unwind/stack_walker.h"
#include "inprof/status.h"

namespace inprof::internal {

// Counters the handler bumps; the profile reports them (lost-samples frame
// and comments), never silently.
struct HandlerCounters {
  // Handler invocations, and the samples a thread records as it ends
  // (RecordThreadEndSample): every sample has one.
  std::atomic<uint64_t> signals{0};
  std::atomic<uint64_t> reentrant{0};  // dropped: handler re-entered
  std::atomic<uint64_t> no_map{0};     // dropped: no AddressMap yet
  std::atomic<uint64_t> no_stack{0};   // dropped: every agent stack busy
  // Not samples and not lost: a process-timer signal on a thread whose own
  // timer counts its CPU time (thread_coverage.h).
  std::atomic<uint64_t> counted_elsewhere{0};
  std::atomic<uint64_t> truncated{0};      // kept, but the unwind stopped early
  std::atomic<uint64_t> unknown_stack{0};  // kept as leaf only: new stack
  std::atomic<uint64_t> nanos{0};          // time spent recording samples

  void Reset() noexcept {
    for (auto* counter :
         {&signals, &reentrant, &no_map, &no_stack, &counted_elsewhere,
          &truncated, &unknown_stack, &nanos}) {
      counter->store(0, std::memory_order_relaxed);
    }
  }
};

// What the handler works with. Everything outlives the installation.
struct HandlerTarget {
  SampleRing* ring;
  StackWalker* walker;
  HandlerCounters* counters;
  int max_depth;
  uint64_t period_ns;  // CPU time between two timer signals
};

// Installs the handler for `signo` with SA_RESTART | SA_SIGINFO. Fails with
// kFailedPrecondition if the host already installed a handler for it, or if
// another installation is active. Not async-signal-safe.
[[nodiscard]] Status InstallCpuSignalHandler(int signo, HandlerTarget target);

// Restores the action that was in place before Install, unless the host has
// since replaced ours (then its handler stays), and returns once no handler
// is running, so the target may be destroyed. Stop the timers first.
// Not async-signal-safe.
void UninstallCpuSignalHandler();

// True while the installed action for the signal is still ours; false once
// the host replaced it (its own SIGPROF handler, another profiler), or when
// nothing is installed. Not async-signal-safe.
bool CpuSignalHandlerInPlace();

// "SIGPROF" for SIGPROF, "signal 40" otherwise.
const char* SignalName(int signo);

// Whether samples read their thread's CPU clock (RawSample.cpu_nanos; a
// system call per sample, paid only for its reader, the flight recorder).
// Turning it on starts a new session: CPU time a thread used before is not
// attributed to its first sample. Async-signal-safe.
void SetThreadCpuMeasured(bool measured) noexcept;

// Records a CPU sample of `weight` periods for the calling thread whose
// stack is the single frame `pc`, as the handler would: for a thread that
// ends with timer expirations the kernel had not signalled yet
// (thread_start.h). Does nothing while no handler is installed.
// Async-signal-safe.
void RecordThreadEndSample(uintptr_t pc, uint32_t weight) noexcept;

// How many expirations of the calling thread's own CPU timer (the
// kThreadTimerTag kind) its signals carried so far. Async-signal-safe.
uint64_t ThreadTimerExpirationsSignalled() noexcept;

// Used by the installer (signal_install.cc); the handler itself lives in
// signal_handler.cc, the only file of the two that runs in signal context.
void SetHandlerTarget(HandlerTarget* target) noexcept;
int HandlersInFlight() noexcept;
// In a forked child: handlers the parent's other threads were running never
// return there.
void ForgetHandlersInFlight() noexcept;
void (*CpuSignalHandlerEntry())(int, siginfo_t*, void*);

}  // namespace inprof::internal

#endif  // INPROF_AGENT_CPU_SIGNAL_HANDLER_H_
