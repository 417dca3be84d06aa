// SlowRequestQueue: slow requests handed from their own threads to the
// flight recorder's capture thread, rate-limited where they arrive: a storm
// of a thousand slow requests must not become a storm of profiling work.
// Over the rate (or with the queue full) a slow request is counted and
// dropped at once, on the thread that ended it.
//
// Ownership: one process-wide instance (Global()), never destroyed: a
// request may end on any thread at any time, also while the agent stops.
// Thread safety: thread-safe.
#ifndef INPROF_AGENT_FLIGHT_SLOW_REQUESTS_H_
#define INPROF_AGENT_FLIGHT_SLOW_REQUESTS_H_

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <mutex>
#include <optional>

#include "agent/labels/request_observer.h"

namespace inprof::internal {

class SlowRequestQueue {
 public:
  // Captures per second in the long run, and at most this many at once.
  static constexpr double kPerSecond = 2;
  static constexpr double kBurst = 4;
  static constexpr size_t kMaxQueued = 16;

  static SlowRequestQueue& Global();

  // RequestLatency's slow-request sink. Never blocks for long (a short
  // mutex); drops what is over the rate or does not fit.
  static void Push(const RequestEnd& end) noexcept;

  // The oldest queued request, waiting up to `timeout`; nullopt if none.
  std::optional<RequestEnd> Pop(std::chrono::milliseconds timeout);

  // Wakes a Pop waiting now (the recorder is stopping).
  void WakeAll();

  struct Stats {
    uint64_t accepted = 0;
    uint64_t over_rate = 0;   // dropped: more than kPerSecond
    uint64_t queue_full = 0;  // dropped: kMaxQueued waiting
  };
  Stats stats() const;

  SlowRequestQueue() = default;
  SlowRequestQueue(const SlowRequestQueue&) = delete;
  SlowRequestQueue& operator=(const SlowRequestQueue&) = delete;

 private:
  void Add(const RequestEnd& end);

  mutable std::mutex mu_;
  std::condition_variable ready_;
  std::deque<RequestEnd> queue_;  // guarded by mu_
  double tokens_ = kBurst;        // guarded by mu_
  uint64_t refilled_ns_ = 0;      // guarded by mu_
  Stats stats_;                   // guarded by mu_
};

}  // namespace inprof::internal

#endif  // INPROF_AGENT_FLIGHT_SLOW_REQUESTS_H_
