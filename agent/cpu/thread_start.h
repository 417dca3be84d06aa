// Threads armed from their first instant (ARCHITECTURE.md decision 2, issue
// 15 item 3). The agent library defines pthread_create (thread_start.cc), so
// linking inprof::agent, or preloading a library that carries it, is enough:
// no opt-in target. While no CPU profile runs, the definition only forwards
// to the next one (a sanitizer's or the C library's), at the cost of one
// atomic load. While one runs, the new thread starts in a trampoline that
// arms a timer on its own CPU clock (SIGEV_THREAD_ID, random first expiry,
// as ThreadTimers does) before the user's start routine; a thread-specific
// key's destructor deletes it when the thread ends, however it ends
// (return, pthread_exit, cancellation). Thousands of short threads thus
// leave no dead timers behind, and each is sampled by its own clock from
// its first instruction instead of from the next /proc/self/task scan.
//
// The kernel checks CPU timers at the scheduler tick, so a thread that ends
// soon after an expiry often ends before it is signalled: 20 ms threads
// lost 40% of their samples that way. At its end, a thread compares the
// expirations its CPU time crossed with those its signals carried, and
// records the difference as one sample on its start routine (where it was
// exactly is not known any more; that frame was on its stack all along).
//
// Ownership of the timers: a timer armed at thread start belongs to its
// thread, and is recorded in a fixed lock-free table (tid and kernel timer
// id in one word) so that StopThreadArming() can delete the timers of
// threads still running. Either side deletes a timer only after taking its
// word out of the table with a compare-and-swap, so no timer is deleted
// twice. The claims' bitmap (thread_coverage.h) keeps ThreadTimers' scan
// from arming a second timer on such a thread; the scan remains the safety
// net for threads created before the agent, created while no profile ran,
// or whose arming failed (the pending-signal quota, a full table).
//
// The timers are created with the raw system calls, whose ids are plain
// ints: deleting one needs no C-library state, so any thread may.
//
// Thread safety: all functions are thread-safe. One ThreadTimers (the one
// CPU sampler whose handler is installed) drives Start/StopThreadArming.
#ifndef INPROF_AGENT_CPU_THREAD_START_H_
#define INPROF_AGENT_CPU_THREAD_START_H_

#include <signal.h>
#include <sys/types.h>
#include <time.h>

#include <cstdint>

namespace inprof::internal {

// The sigevent of a per-thread CPU timer that sends `signo`, tagged
// kThreadTimerTag, to thread `tid`; and a timer's first expiry and period.
// Shared with ThreadTimers.
sigevent ThreadTimerEvent(int signo, pid_t tid);
itimerspec TimerSpec(int64_t first_ns, int64_t period_ns);

// From now on, threads created through pthread_create arm a timer sending
// `signo` every `period_ns` of their CPU time. Idempotent while active.
// Not async-signal-safe.
void StartThreadArming(int signo, int64_t period_ns);

// Threads created from now on are not armed, and the timers of threads
// still running are deleted (their signals already pending are not: the
// handler copes, LESSONS.md). Not async-signal-safe.
void StopThreadArming();

// True while threads created through our pthread_create have not yet
// started running (and so not yet armed their timer): the scan leaves
// threads it sees for the first time alone then, not to beat them to it.
bool ThreadsStarting();

struct ThreadStartStats {
  uint64_t started = 0;   // threads started through the trampoline, ever
  uint64_t armed = 0;     // threads that armed their own timer, ever
  uint64_t live = 0;      // such timers not deleted yet
  uint64_t failures = 0;  // timer_create/settime failed or the table was full
  // Timer expirations threads crossed but ended before the kernel signalled
  // them, recorded at their end as samples on their start routine.
  uint64_t end_samples = 0;
};
ThreadStartStats GetThreadStartStats();

}  // namespace inprof::internal

#endif  // INPROF_AGENT_CPU_THREAD_START_H_
