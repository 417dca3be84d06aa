#include "agent/flight/slow_requests.h"

#include <algorithm>

#include "agent/base/agent_thread.h"

namespace inprof::internal {

SlowRequestQueue& SlowRequestQueue::Global() {
  static SlowRequestQueue* const queue = new SlowRequestQueue();
  return *queue;
}

void SlowRequestQueue::Push(const RequestEnd& end) noexcept {
  AgentCodeScope agent_code;  // our lock is not the host's contention
  Global().Add(end);
}

void SlowRequestQueue::Add(const RequestEnd& end) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    // A token bucket on the requests' own end times.
    if (refilled_ns_ != 0 && end.end_ns > refilled_ns_) {
      tokens_ = std::min(
          kBurst, tokens_ + kPerSecond * (end.end_ns - refilled_ns_) / 1e9);
    }
    refilled_ns_ = std::max(refilled_ns_, end.end_ns);
    if (tokens_ < 1) {
      ++stats_.over_rate;
      return;
    }
    if (queue_.size() >= kMaxQueued) {
      ++stats_.queue_full;
      return;
    }
    tokens_ -= 1;
    ++stats_.accepted;
    queue_.push_back(end);
  }
  ready_.notify_one();
}

std::optional<RequestEnd> SlowRequestQueue::Pop(
    std::chrono::milliseconds timeout) {
  std::unique_lock<std::mutex> lock(mu_);
  if (queue_.empty()) ready_.wait_for(lock, timeout);
  if (queue_.empty()) return std::nullopt;
  RequestEnd end = queue_.front();
  queue_.pop_front();
  return end;
}

void SlowRequestQueue::WakeAll() { ready_.notify_all(); }

SlowRequestQueue::Stats SlowRequestQueue::stats() const {
  std::lock_guard<std::mutex> lock(mu_);
  return stats_;
}

}  // namespace inprof::internal
