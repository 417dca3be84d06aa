// The two clocks the agent reads: CLOCK_MONOTONIC for sample timestamps and
// durations, CLOCK_REALTIME for a profile's time_nanos.
//
// SIGNAL CONTEXT. Both are async-signal-safe (clock_gettime, usually the
// vDSO) and used inside the signal handler and allocation hooks.
#ifndef INPROF_AGENT_BASE_CLOCK_H_
#define INPROF_AGENT_BASE_CLOCK_H_

#include <time.h>

#include <cstdint>

namespace inprof::internal {

inline uint64_t MonotonicNanos() noexcept {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<uint64_t>(ts.tv_sec) * 1000000000u +
         static_cast<uint64_t>(ts.tv_nsec);
}

inline int64_t UnixNanos() noexcept {
  timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return static_cast<int64_t>(ts.tv_sec) * 1000000000 + ts.tv_nsec;
}

}  // namespace inprof::internal

#endif  // INPROF_AGENT_BASE_CLOCK_H_
