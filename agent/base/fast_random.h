// A per-thread pseudo-random source for sampling decisions (heap sampling
// intervals, contention sampling): xorshift64*, seeded from the clock and the
// thread's TLS address on first use. Statistical quality is what sampling
// needs; it is not for anything else.
//
// SIGNAL CONTEXT. Used inside allocation hooks and lock slow paths: no
// allocation, no locks; the state is trivial initial-exec TLS.
#ifndef INPROF_AGENT_BASE_FAST_RANDOM_H_
#define INPROF_AGENT_BASE_FAST_RANDOM_H_

#include <cstdint>

#include "agent/base/clock.h"

namespace inprof::internal {

inline __attribute__((
    tls_model("initial-exec"))) thread_local uint64_t t_random_state = 0;

// The next 64 random bits of this thread. Async-signal-safe (a signal handler
// that draws meanwhile only perturbs the sequence).
inline uint64_t NextRandom() noexcept {
  uint64_t x = t_random_state;
  if (x == 0) {
    x = MonotonicNanos() ^ reinterpret_cast<uint64_t>(&t_random_state) ^
        0x9E3779B97F4A7C15u;
    if (x == 0) x = 1;
  }
  x ^= x >> 12;
  x ^= x << 25;
  x ^= x >> 27;
  t_random_state = x;
  return x * 0x2545F4914F6CDD1Du;
}

// Uniform in (0, 1]: 53 random bits, never zero.
inline double NextUniform() noexcept {
  return static_cast<double>((NextRandom() >> 11) + 1) * 0x1.0p-53;
}

}  // namespace inprof::internal

#endif  // INPROF_AGENT_BASE_FAST_RANDOM_H_
