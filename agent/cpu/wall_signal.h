// Wall-clock samples ride on the CPU sampler's signal: the flight recorder's
// wall sampler (agent/flight/wall_sampler.h) sends it to a thread inside a
// request with rt_tgsigqueueinfo, si_code SI_QUEUE from this process, and
// kWallSignalTag in si_value. The handler records such a signal as a wall
// sample (RawSample.wall_nanos) instead of a CPU sample, standing for the
// time since the thread's previous one (thread_labels.h, t_wall_mark_ns):
// the signal is not realtime, so the kernel drops one sent while another
// is pending, and the time it would have carried goes to the next.
//
// SIGNAL CONTEXT. IsWallSignal() runs inside the signal handler: plain
// reads of the siginfo only.
#ifndef INPROF_AGENT_CPU_WALL_SIGNAL_H_
#define INPROF_AGENT_CPU_WALL_SIGNAL_H_

#include <signal.h>
#include <unistd.h>

#include <cstddef>
#include <cstdint>

namespace inprof::internal {

inline constexpr uint64_t kWallSignalTag = uint64_t{1} << 62;

// The wall sampler's pace (agent/flight/wall_sampler.h): every tick, at
// most this many wall signals. Here so that the CPU sampler's ring is sized
// for them too.
inline constexpr int64_t kWallTickNanos = 10'000'000;  // 100 Hz
inline constexpr size_t kMaxWallSignalsPerTick = 16;

// Whether a signal is a wall sample's. Async-signal-safe (getpid is a plain
// syscall, made only for SI_QUEUE).
inline bool IsWallSignal(const siginfo_t* info) noexcept {
  if (info == nullptr || info->si_code != SI_QUEUE ||
      info->si_pid != getpid()) {
    return false;
  }
  const uint64_t value = reinterpret_cast<uint64_t>(info->si_value.sival_ptr);
  return (value & kWallSignalTag) != 0;
}

}  // namespace inprof::internal

#endif  // INPROF_AGENT_CPU_WALL_SIGNAL_H_
