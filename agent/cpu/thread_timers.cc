#include "agent/cpu/thread_timers.h"

#include <dirent.h>
#include <signal.h>

#include <cstdlib>
#include <cstring>
#include <unordered_set>

#include "agent/cpu/thread_coverage.h"
#include "agent/cpu/thread_start.h"

namespace inprof::internal {
namespace {

// Linux encodes "the CPU clock of thread tid" as a negative clockid
// (include/linux/posix-timers.h: MAKE_THREAD_CPUCLOCK(tid, CPUCLOCK_SCHED)),
// the same value pthread_getcpuclockid() returns for a pthread_t. Computing it
// from a tid lets us reach threads we did not create.
clockid_t ThreadCpuClock(pid_t tid) {
  constexpr clockid_t kCpuClockSched = 2;
  constexpr clockid_t kCpuClockPerThread = 4;
  return static_cast<clockid_t>((~static_cast<unsigned>(tid)) << 3) |
         kCpuClockSched | kCpuClockPerThread;
}

// The threads listed by `dir` (/proc/self/task), read from its start.
std::unordered_set<pid_t> ListThreads(DIR* dir) {
  std::unordered_set<pid_t> tids;
  if (dir == nullptr) return tids;
  rewinddir(dir);  // procfs lists the threads alive now
  while (dirent* entry = readdir(dir)) {
    char* end = nullptr;
    long tid = std::strtol(entry->d_name, &end, 10);
    if (end != entry->d_name && *end == '\0' && tid > 0) {
      tids.insert(static_cast<pid_t>(tid));
    }
  }
  return tids;
}

}  // namespace

ThreadTimers::ThreadTimers(int signo, int hz)
    : signo_((InitThreadCoverage(), signo)),
      period_ns_(1000000000 / hz),
      random_state_(static_cast<uint64_t>(getpid()) * 0x9E3779B97F4A7C15u |
                    1u) {}

ThreadTimers::~ThreadTimers() { DisarmAll(); }

itimerspec ThreadTimers::Period(int64_t first_ns) const {
  return TimerSpec(first_ns, period_ns_);
}

void ThreadTimers::RunProcessTimer(bool run) {
  if (run == process_timer_armed_) return;
  if (run && !process_timer_created_) {
    sigevent event;
    std::memset(&event, 0, sizeof(event));
    event.sigev_notify = SIGEV_SIGNAL;
    event.sigev_signo = signo_;
    event.sigev_value.sival_int = kProcessTimerTag;
    if (timer_create(CLOCK_PROCESS_CPUTIME_ID, &event, &process_timer_) != 0) {
      ++create_failures_;
      return;
    }
    process_timer_created_ = true;
  }
  // A zero expiry stops the timer; the period restarts it.
  const itimerspec spec = run ? Period(period_ns_) : itimerspec{};
  if (timer_settime(process_timer_, 0, &spec, nullptr) != 0) {
    if (run) ++create_failures_;
    return;
  }
  process_timer_armed_ = run;
}

bool ThreadTimers::AnyUncovered(const std::unordered_set<pid_t>& tids,
                                const std::unordered_set<pid_t>& starting) {
  for (pid_t tid : tids) {
    if (!ThreadCovered(tid) && starting.count(tid) == 0) return true;
  }
  return false;
}

bool ThreadTimers::Arm(pid_t tid) {
  // The caller claimed `tid` (so it is within the coverage bitmap).
  sigevent event = ThreadTimerEvent(signo_, tid);
  timer_t timer;
  if (timer_create(ThreadCpuClock(tid), &event, &timer) != 0) {
    ++create_failures_;  // thread already gone, or the signal quota is full
    ReleaseThreadClaim(tid);
    return false;
  }
  // A random first expiry spreads threads' samples over the period, so
  // threads started together are not sampled in lock-step and short work
  // still has a fair chance to be seen (LESSONS.md, ClickHouse).
  random_state_ ^= random_state_ << 13;
  random_state_ ^= random_state_ >> 7;
  random_state_ ^= random_state_ << 17;
  int64_t first = 1 + static_cast<int64_t>(random_state_ % period_ns_);
  itimerspec spec = Period(first);
  if (timer_settime(timer, 0, &spec, nullptr) != 0) {
    timer_delete(timer);
    ++create_failures_;
    ReleaseThreadClaim(tid);
    return false;
  }
  timers_.emplace(tid, timer);
  SetThreadCovered(tid, true);
  return true;
}

bool ThreadTimers::Sync(size_t max_new) {
  // At a profile's start, first the one timer that samples every thread at
  // once; the per-thread timers follow, which can take seconds with
  // thousands of threads (listing them too: a collector starved by them
  // took seconds to read /proc/self/task, and the profile's first seconds
  // went unsampled).
  if (timers_.empty()) RunProcessTimer(true);
  // Before the scan: a thread starting meanwhile is either listed or arms
  // itself, and the claims settle which.
  StartThreadArming(signo_, period_ns_);
  arming_threads_at_start_ = true;
  // Opened once per profile: opening /proc/self/task was most of the
  // collector's CPU time (~100 us a scan, 10 scans a second).
  if (task_dir_ == nullptr) task_dir_ = opendir("/proc/self/task");
  std::unordered_set<pid_t> live = ListThreads(task_dir_);
  settled_ = false;
  const bool same_threads = live == last_live_;
  // Later, while any thread has no timer of its own.
  if (AnyUncovered(live, {})) RunProcessTimer(true);
  for (auto it = timers_.begin(); it != timers_.end();) {
    if (live.count(it->first) == 0) {
      SetThreadCovered(it->first, false);
      timer_delete(it->second);
      ReleaseThreadClaim(it->first);
      it = timers_.erase(it);
    } else {
      ++it;
    }
  }
  size_t armed = 0;
  // A thread we see for the first time may be one about to arm its own
  // timer (thread_start.h): beating it to the claim would cost it its
  // start-time arming, and its last expirations. Meanwhile the process
  // timer samples it.
  const bool starting = ThreadsStarting();
  std::unordered_set<pid_t> seen_now;
  for (pid_t tid : live) {
    if (timers_.count(tid) != 0) continue;
    if (starting && seen_once_.count(tid) == 0) {
      seen_now.insert(tid);
      continue;
    }
    if (armed == max_new) {
      seen_now.merge(seen_once_);  // the rest of the list is not seen yet
      seen_once_ = std::move(seen_now);
      last_live_ = std::move(live);
      return false;  // the process timer keeps sampling the rest
    }
    // Claimed: the thread armed its own timer. Beyond the bitmap: the
    // process timer samples it.
    if (!TryClaimThread(tid)) continue;
    if (Arm(tid)) ++threads_seen_;
    ++armed;
  }
  // A thread left alone because it is starting arms its own timer in a
  // moment (thread_start.h); the next scan arms it if it did not.
  const bool uncovered = AnyUncovered(live, seen_now);
  // A timer deleted means a thread gone: not the same threads.
  settled_ = same_threads && armed == 0 && !uncovered && seen_now.empty();
  last_live_ = std::move(live);
  seen_once_ = std::move(seen_now);
  // Once every thread has its own timer, the process timer only adds
  // signals, each dropped on arrival (thread_coverage.h), and the kernel
  // hands them to any thread that does not block them: often a sleeping
  // one, woken for nothing (one wake-up per period of the process's CPU
  // time, ~19 us of CPU each, measured), and a sleep it cuts short sees
  // EINTR. A thread that starts later arms its own timer; one the scan
  // finds uncovered restarts the process timer.
  RunProcessTimer(uncovered);
  return true;
}

void ThreadTimers::DisarmAll() {
  if (arming_threads_at_start_) StopThreadArming();
  arming_threads_at_start_ = false;
  if (process_timer_created_) timer_delete(process_timer_);
  process_timer_created_ = false;
  if (task_dir_ != nullptr) closedir(task_dir_);
  task_dir_ = nullptr;
  process_timer_armed_ = false;
  for (auto& [tid, timer] : timers_) {
    SetThreadCovered(tid, false);
    timer_delete(timer);
    ReleaseThreadClaim(tid);
  }
  timers_.clear();
  seen_once_.clear();
  last_live_.clear();
  settled_ = false;
}

size_t ThreadTimers::armed() const {
  return timers_.size() + GetThreadStartStats().live;
}

uint64_t ThreadTimers::create_failures() const {
  return create_failures_ + GetThreadStartStats().failures;
}

}  // namespace inprof::internal
