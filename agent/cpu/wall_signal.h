// Wall-clock samples ride on the CPU sampler's signal: the flight recorder's
// wall sampler (agent/flight/wall_sampler.h) sends it to a thread inside a
// request with rt_tgsigqueueinfo, si_code SI_QUEUE from this process, and
// the time the sample stands for in si_value, tagged with kWallSignalTag.
// The handler records such a signal as a wall sample (RawSample.wall_nanos)
// instead of a CPU sample.
//
// SIGNAL CONTEXT. WallSignalNanos() runs inside the signal handler: plain
// reads of the siginfo only.
#ifndef INPROF_AGENT_CPU_WALL_SIGNAL_H_
#define INPROF_AGENT_CPU_WALL_SIGNAL_H_

#include <signal.h>
#include <unistd.h>

#include <cstdint>

namespace inprof::internal {

inline constexpr uint64_t kWallSignalTag = uint64_t{1} << 62;

// The wall time a signal stands for, or 0 if it is not a wall sample's.
// Async-signal-safe (getpid is a plain syscall, made only for SI_QUEUE).
inline uint64_t WallSignalNanos(const siginfo_t* info) noexcept {
  if (info == nullptr || info->si_code != SI_QUEUE ||
      info->si_pid != getpid()) {
    return 0;
  }
  const uint64_t value = reinterpret_cast<uint64_t>(info->si_value.sival_ptr);
  if ((value & kWallSignalTag) == 0) return 0;
  return value & ~kWallSignalTag;
}

}  // namespace inprof::internal

#endif  // INPROF_AGENT_CPU_WALL_SIGNAL_H_
