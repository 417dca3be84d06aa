// Helpers shared by the end-to-end tests: an agent on a free port, and
// functions that burn CPU under names the tests look for in profiles.
#ifndef INPROF_TESTS_E2E_BUSY_WORK_H_
#define INPROF_TESTS_E2E_BUSY_WORK_H_

#include <atomic>
#include <cstdint>

#include "inprof/agent.h"

namespace inprof::e2e {

// An agent on 127.0.0.1 and any free port.
inline StatusOr<Agent> StartAgentOnAnyPort() {
  Options options;
  options.port = 0;
  return Agent::Start(options);
}

// Burn CPU until `stop`, each in its own recognizable leaf function.
__attribute__((noinline)) inline uint64_t HotAlpha(
    const std::atomic<bool>& stop) {
  uint64_t x = 1;
  while (!stop.load(std::memory_order_relaxed)) {
    for (int i = 0; i < 30000; ++i) x = x * 6364136223846793005u + 1;
  }
  return x;
}

__attribute__((noinline)) inline uint64_t HotBeta(
    const std::atomic<bool>& stop) {
  uint64_t x = 3;
  while (!stop.load(std::memory_order_relaxed)) {
    for (int i = 0; i < 10000; ++i) x ^= x << 7, x ^= x >> 9;
  }
  return x;
}

}  // namespace inprof::e2e

#endif  // INPROF_TESTS_E2E_BUSY_WORK_H_
