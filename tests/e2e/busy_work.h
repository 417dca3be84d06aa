// Helpers shared by the end-to-end tests: an agent on a free port, and
// functions that burn CPU under names the tests look for in profiles.
#ifndef INPROF_TESTS_E2E_BUSY_WORK_H_
#define INPROF_TESTS_E2E_BUSY_WORK_H_

#include <atomic>
#include <chrono>
#include <cstdint>
#include <mutex>
#include <thread>
#include <vector>

#include "inprof/agent.h"
#include "inprof/mutex.h"

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

// Takes `mu` `rounds` times, holding it 1 ms each time: the frame contention
// profiles show for the lock's holder and its waiters.
__attribute__((noinline)) inline void HoldBriefly(inprof::Mutex& mu,
                                                  int rounds) {
  for (int i = 0; i < rounds; ++i) {
    std::lock_guard<inprof::Mutex> lock(mu);
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
}

// `threads` threads contending for one inprof::Mutex through HoldBriefly.
inline void Contend(int threads, int rounds) {
  inprof::Mutex mu;
  std::vector<std::thread> workers;
  for (int i = 0; i < threads; ++i) {
    workers.emplace_back([&] { HoldBriefly(mu, rounds); });
  }
  for (std::thread& t : workers) t.join();
}

}  // namespace inprof::e2e

#endif  // INPROF_TESTS_E2E_BUSY_WORK_H_
