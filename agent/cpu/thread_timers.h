// ThreadTimers keeps one POSIX timer per thread of the process, each on that
// thread's own CPU-time clock and delivered to that thread
// (SIGEV_THREAD_ID), as Go does since 1.18 (ARCHITECTURE.md decision 2). A
// process-wide setitimer would land signals on whichever thread the kernel
// picks and bias the profile (golang/go#14434). A thread blocked in read()
// or sleep() burns no CPU time, so its timer never fires there: the agent
// cannot make the host see EINTR.
//
// One more timer runs on the process's CPU clock while profiling, armed
// first, for the threads not reached yet (thread_coverage.h says why).
//
// Threads are found in /proc/self/task, so threads that existed before the
// agent started and threads created later are both covered; Sync() is called
// periodically while profiling to pick up new threads and forget dead ones.
// Creation failures (e.g. the pending-signal quota, ClickHouse #86760) are
// counted and the thread simply goes unsampled.
//
// Ownership: owns its timers; the destructor deletes them.
// Thread safety: not thread-safe; the CpuSampler calls it under its mutex.
#ifndef INPROF_AGENT_CPU_THREAD_TIMERS_H_
#define INPROF_AGENT_CPU_THREAD_TIMERS_H_

#include <sys/types.h>
#include <time.h>

#include <cstddef>
#include <cstdint>
#include <unordered_map>

namespace inprof::internal {

class ThreadTimers {
 public:
  // Timers will send `signo` every 1/hz seconds of each thread's CPU time.
  ThreadTimers(int signo, int hz);
  ThreadTimers(const ThreadTimers&) = delete;
  ThreadTimers& operator=(const ThreadTimers&) = delete;
  ~ThreadTimers();

  // Arms the process timer, deletes the timers of threads that exited and
  // arms a timer on up to `max_new` threads that have none; false if more
  // remain (call again soon). Bounded so that the caller's lock is not held
  // for seconds when thousands of threads compete for the CPU with it.
  // Not async-signal-safe.
  bool Sync(size_t max_new = SIZE_MAX);

  // Deletes every timer. Not async-signal-safe.
  void DisarmAll();

  size_t armed() const { return timers_.size(); }
  uint64_t create_failures() const { return create_failures_; }
  uint64_t threads_seen() const { return threads_seen_; }

 private:
  bool Arm(pid_t tid);
  void ArmProcessTimer();
  itimerspec Period(int64_t first_ns) const;

  const int signo_;
  const int64_t period_ns_;
  std::unordered_map<pid_t, timer_t> timers_;
  timer_t process_timer_{};
  bool process_timer_armed_ = false;
  uint64_t create_failures_ = 0;
  uint64_t threads_seen_ = 0;
  uint64_t random_state_;
};

}  // namespace inprof::internal

#endif  // INPROF_AGENT_CPU_THREAD_TIMERS_H_
