// WallSampler: wall-clock samples of threads inside a request, so that the
// time a slow request spent blocked (asleep, waiting for a lock or for I/O)
// has stacks in its capture. Every tick (10 ms) it sends the CPU sampler's
// signal, tagged as a wall sample (agent/cpu/wall_signal.h), to at most
// kMaxPerTick of the threads that ActiveRequests lists as inside a request,
// in turn; each sample stands for the wall time since that thread's last
// one. No timer is armed per request or per thread (LESSONS.md: ~5 µs a
// pair). Threads over the per-tick cap wait for the next tick, and their
// next sample covers the gap: time is not lost, only resolution; so for a
// signal the kernel drops because another is pending (wall_signal.h).
//
// A signal interrupts a blocked system call: with SA_RESTART most resume
// (read, write, futex waits, accept); poll, epoll_wait, select and
// nanosleep return EINTR, as they do for any signal (README).
//
// Ownership: borrows the CPU sampler, which must outlive it. Thread safety:
// thread-safe; one thread of its own between construction and destruction.
#ifndef INPROF_AGENT_FLIGHT_WALL_SAMPLER_H_
#define INPROF_AGENT_FLIGHT_WALL_SAMPLER_H_

#include <sys/types.h>

#include <atomic>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <mutex>
#include <thread>

#include "agent/cpu/cpu_sampler.h"
#include "agent/cpu/wall_signal.h"

namespace inprof::internal {

// Asks thread `tid` of process `pid` (this one; `uid` its user) for a wall
// sample with `signo`, the CPU sampler's signal: it stands for the time
// since the thread's previous one (wall_signal.h). False if the kernel
// refused (the thread is gone); true also when the signal was merged into
// one already pending.
bool SendWallSignal(int signo, pid_t pid, uid_t uid, uint32_t tid);

class WallSampler {
 public:
  static constexpr int64_t kTickNanos = kWallTickNanos;  // 100 Hz
  static constexpr size_t kMaxPerTick = kMaxWallSignalsPerTick;

  explicit WallSampler(CpuSampler* sampler);
  WallSampler(const WallSampler&) = delete;
  WallSampler& operator=(const WallSampler&) = delete;
  ~WallSampler();

  // Since the process started, over every sampler (one per time
  // auto-capture was turned on).
  struct Stats {
    uint64_t signals = 0;   // wall samples asked for
    uint64_t deferred = 0;  // threads over the per-tick cap (next tick)
    uint64_t failed = 0;    // signals the kernel refused (thread gone)
  };
  static Stats Totals();

 private:
  void Loop();
  void Tick();

  CpuSampler* const sampler_;
  const int signo_;
  std::mutex mu_;
  std::condition_variable wake_;
  bool stopping_ = false;  // guarded by mu_
  size_t cursor_ = 0;      // the slot the next tick starts at
  std::thread thread_;
};

}  // namespace inprof::internal

#endif  // INPROF_AGENT_FLIGHT_WALL_SAMPLER_H_
