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
#include <vector>

#include "agent/labels/request_observer.h"

namespace inprof::internal {

class SlowRequestQueue {
 public:
  // Captures per second in the long run, and at most this many at once, by
  // default (AutoCaptureSettings' captures_per_second sets them).
  static constexpr double kPerSecond = 2;
  static constexpr double kBurst = 4;
  static constexpr size_t kMaxQueued = 16;
  // Requests captured live whose end is awaited, at most.
  static constexpr size_t kMaxAwaited = 64;

  static SlowRequestQueue& Global();

  // RequestLatency's slow-request sink. Never blocks for long (a short
  // mutex); drops what is over the rate or does not fit.
  static void Push(const RequestEnd& end) noexcept;

  // The oldest queued request, waiting up to `timeout`; nullopt if none.
  std::optional<RequestEnd> Pop(std::chrono::milliseconds timeout);

  // Wakes a Pop waiting now (the recorder is stopping).
  void WakeAll();

  // The rate: `per_second` captures in the long run, `burst` at once.
  void SetRate(double per_second, double burst);

  // A live capture (a hung request's, FlightRecorder) spends a token like
  // a slow request's end: false if over the rate (counted as such).
  bool TakeToken(uint64_t now_ns);

  // The end of request `request_id`, captured live, must complete its
  // capture: it is queued whatever the rate (one token was spent). False if
  // kMaxAwaited are awaited already. Forget(): no longer awaited.
  bool Await(uint64_t request_id);
  void Forget(uint64_t request_id);

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
  bool TakeTokenLocked(uint64_t now_ns);

  mutable std::mutex mu_;
  std::condition_variable ready_;
  std::deque<RequestEnd> queue_;    // guarded by mu_
  double per_second_ = kPerSecond;  // guarded by mu_
  double burst_ = kBurst;           // guarded by mu_
  double tokens_ = kBurst;          // guarded by mu_
  uint64_t refilled_ns_ = 0;        // guarded by mu_
  std::vector<uint64_t> awaited_;   // guarded by mu_; request ids
  Stats stats_;                     // guarded by mu_
};

}  // namespace inprof::internal

#endif  // INPROF_AGENT_FLIGHT_SLOW_REQUESTS_H_
