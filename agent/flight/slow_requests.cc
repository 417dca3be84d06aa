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

bool SlowRequestQueue::TakeTokenLocked(uint64_t now_ns) {
  // A token bucket on the requests' own end times.
  if (refilled_ns_ != 0 && now_ns > refilled_ns_) {
    tokens_ =
        std::min(burst_, tokens_ + per_second_ * (now_ns - refilled_ns_) / 1e9);
  }
  refilled_ns_ = std::max(refilled_ns_, now_ns);
  if (tokens_ < 1) {
    ++stats_.over_rate;
    return false;
  }
  tokens_ -= 1;
  return true;
}

void SlowRequestQueue::Add(const RequestEnd& end) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto awaited = std::find(awaited_.begin(), awaited_.end(), end.request_id);
    if (awaited != awaited_.end()) {
      awaited_.erase(awaited);  // its token was spent on its live capture
    } else if (queue_.size() >= kMaxQueued) {
      ++stats_.queue_full;
      return;
    } else if (!TakeTokenLocked(end.end_ns)) {
      return;
    }
    ++stats_.accepted;
    queue_.push_back(end);
  }
  ready_.notify_one();
}

void SlowRequestQueue::SetRate(double per_second, double burst) {
  std::lock_guard<std::mutex> lock(mu_);
  per_second_ = per_second;
  burst_ = burst;
  tokens_ = std::min(tokens_, burst_);
}

bool SlowRequestQueue::TakeToken(uint64_t now_ns) {
  std::lock_guard<std::mutex> lock(mu_);
  if (!TakeTokenLocked(now_ns)) return false;
  ++stats_.accepted;
  return true;
}

bool SlowRequestQueue::Await(uint64_t request_id) {
  std::lock_guard<std::mutex> lock(mu_);
  if (awaited_.size() >= kMaxAwaited) return false;
  awaited_.push_back(request_id);
  return true;
}

void SlowRequestQueue::Forget(uint64_t request_id) {
  std::lock_guard<std::mutex> lock(mu_);
  awaited_.erase(std::remove(awaited_.begin(), awaited_.end(), request_id),
                 awaited_.end());
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
