// Which threads have a CPU timer of their own, for the signal handler.
//
// Two kinds of timers deliver the CPU-profiling signal (ARCHITECTURE.md
// decision 2): one per thread on its own CPU clock (exact attribution), and
// one on the process's CPU clock, armed first, that the kernel delivers to
// a thread of its choosing (often a sleeping one). The process timer covers
// threads the per-thread timers have not reached yet: with thousands of
// runnable threads, arming a timer on each takes the collector seconds of
// wall time, and without it the first seconds of a profile would be empty
// (issue 12, item 4). It stops once every thread has its own
// (thread_timers.h). A signal of the process timer on a thread that has its own
// timer is dropped, so no CPU time is counted twice (Go does the same
// since 1.18, runtime/signal_unix.go validSIGPROF).
//
// The coverage set is a bitmap indexed by thread id, mapped once; pages of
// ids never used stay untouched.
//
// A second bitmap says which threads have an owner for their timer: the
// thread itself (armed at its start, thread_start.h) or ThreadTimers' scan.
// Whoever claims a thread first arms it; the other leaves it alone, so no
// thread gets two timers and neither deletes the other's.
//
// Thread safety: lock-free; ThreadCovered() is async-signal-safe.
#ifndef INPROF_AGENT_CPU_THREAD_COVERAGE_H_
#define INPROF_AGENT_CPU_THREAD_COVERAGE_H_

// SIGNAL CONTEXT. ThreadCovered() runs inside the CPU signal handler; see
// agent/unwind/unwind.h for the rules.

#include <sys/types.h>

namespace inprof::internal {

// sigev_value tags of the two timer kinds.
inline constexpr int kThreadTimerTag = 0x1cf0;
inline constexpr int kProcessTimerTag = 0x1cf1;

// Maps the bitmap (idempotent). False if it could not be mapped; every
// thread is then uncovered. Not async-signal-safe.
bool InitThreadCoverage();

// False when `tid` is beyond the bitmap: such a thread must not get a timer
// of its own (the process timer samples it). Not async-signal-safe.
bool SetThreadCovered(pid_t tid, bool covered);

// Async-signal-safe.
bool ThreadCovered(pid_t tid) noexcept;

// Claims the arming of `tid`'s timer: true if nobody had, false if somebody
// has (or `tid` is beyond the bitmap). Async-signal-safe.
bool TryClaimThread(pid_t tid) noexcept;

// Gives the claim back (after the claimant deleted its timer).
// Async-signal-safe.
void ReleaseThreadClaim(pid_t tid) noexcept;

// Forgets every thread (a forked child's, or after all timers were deleted).
// Not async-signal-safe.
void ClearThreadCoverage();

}  // namespace inprof::internal

#endif  // INPROF_AGENT_CPU_THREAD_COVERAGE_H_
