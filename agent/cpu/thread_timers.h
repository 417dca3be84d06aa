// ThreadTimers keeps one POSIX timer per thread of the process, each on that
// thread's own CPU-time clock and delivered to that thread
// (SIGEV_THREAD_ID), as Go does since 1.18 (ARCHITECTURE.md decision 2). A
// process-wide setitimer would land signals on whichever thread the kernel
// picks and bias the profile (golang/go#14434). A thread blocked in read()
// or sleep() burns no CPU time, so its timer never fires there: the agent
// cannot make the host see EINTR.
//
// One more timer runs on the process's CPU clock while some thread has no
// timer of its own yet, armed first, for the threads not reached yet
// (thread_coverage.h says why). It stops once every thread has its own:
// the kernel gives its signals to any thread, often a sleeping one.
//
// Threads created while profiling arm their own timer as they start
// (thread_start.h): Sync() starts and DisarmAll() stops that. The scan of
// /proc/self/task is the safety net for the others (threads that existed
// before the profile started, or whose start-time arming failed); Sync() is
// called periodically while profiling to pick them up and forget dead ones.
// A thread is armed by whoever claims it first (thread_coverage.h), so the
// scan never arms, nor deletes, a timer a thread owns.
// Creation failures (e.g. the pending-signal quota, ClickHouse #86760) are
// counted and the thread simply goes unsampled.
//
// Ownership: owns its timers and, while profiling, a descriptor of
// /proc/self/task; DisarmAll() and the destructor release them.
// Thread safety: not thread-safe; the CpuSampler calls it under its mutex.
#ifndef INPROF_AGENT_CPU_THREAD_TIMERS_H_
#define INPROF_AGENT_CPU_THREAD_TIMERS_H_

#include <dirent.h>
#include <sys/types.h>
#include <time.h>

#include <cstddef>
#include <cstdint>
#include <unordered_map>
#include <unordered_set>

namespace inprof::internal {

class ThreadTimers {
 public:
  // Timers will send `signo` every 1/hz seconds of each thread's CPU time.
  ThreadTimers(int signo, int hz);
  ThreadTimers(const ThreadTimers&) = delete;
  ThreadTimers& operator=(const ThreadTimers&) = delete;
  ~ThreadTimers();

  // Deletes the timers of threads that exited and arms a timer on up to
  // `max_new` threads that have none, with the process timer running
  // meanwhile; false if more remain (call again soon). On true the process
  // timer runs only if some thread is still without a timer. Bounded so
  // that the caller's lock is not held for seconds when thousands of threads
  // compete for the CPU with it. Not async-signal-safe.
  bool Sync(size_t max_new = SIZE_MAX);

  // Deletes every timer, the threads' own included. Not async-signal-safe.
  void DisarmAll();

  // Whether the last Sync() found nothing to do and nothing changed: the
  // same threads as the one before, none armed, none left for later, none
  // without a timer. The caller may then scan less often.
  bool settled() const { return settled_; }

  // Timers of the scan's and of threads armed at their start.
  size_t armed() const;
  uint64_t create_failures() const;
  uint64_t threads_seen() const { return threads_seen_; }

 private:
  bool Arm(pid_t tid);
  // Starts or stops the process timer (created on first start).
  void RunProcessTimer(bool run);
  // Whether a thread of `tids` not in `starting` has no timer.
  static bool AnyUncovered(const std::unordered_set<pid_t>& tids,
                           const std::unordered_set<pid_t>& starting);
  itimerspec Period(int64_t first_ns) const;

  const int signo_;
  const int64_t period_ns_;
  std::unordered_map<pid_t, timer_t> timers_;
  // Threads first seen by the previous scan while threads were starting
  // (ThreadsStarting()): armed if still unclaimed at this one.
  std::unordered_set<pid_t> seen_once_;
  // The threads the last scan listed, and what it concluded (settled()).
  std::unordered_set<pid_t> last_live_;
  bool settled_ = false;
  DIR* task_dir_ = nullptr;  // /proc/self/task while profiling
  timer_t process_timer_{};
  bool process_timer_created_ = false;
  bool process_timer_armed_ = false;  // running
  bool arming_threads_at_start_ = false;
  uint64_t create_failures_ = 0;
  uint64_t threads_seen_ = 0;
  uint64_t random_state_;
};

}  // namespace inprof::internal

#endif  // INPROF_AGENT_CPU_THREAD_TIMERS_H_
