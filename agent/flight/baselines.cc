#include "agent/flight/baselines.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>

#include "agent/base/agent_thread.h"
#include "agent/base/clock.h"
#include "agent/base/iso8601.h"

namespace inprof::internal {

TypicalRequestQueue& TypicalRequestQueue::Global() {
  static TypicalRequestQueue* const queue = new TypicalRequestQueue();
  return *queue;
}

void TypicalRequestQueue::OfferToGlobal(const RequestEnd& end) noexcept {
  (void)Global().Offer(end);
}

bool TypicalRequestQueue::Offer(const RequestEnd& end) noexcept {
  if (end.label_set >= kSets) return false;
  std::atomic<uint64_t>& next = next_ns_[end.label_set];
  // Every request under its threshold comes here: almost all of them stop
  // at this load. The request's own end time serves as the clock.
  uint64_t due = next.load(std::memory_order_relaxed);
  if (end.end_ns < due) return false;
  uint64_t any_due = next_any_ns_.load(std::memory_order_relaxed);
  if (end.end_ns < any_due) return false;
  // Of requests ending together, one wins. The overall slot first: a label
  // set that loses it keeps its interval and tries again next request.
  if (!next_any_ns_.compare_exchange_strong(any_due, end.end_ns + kSpacingNanos,
                                            std::memory_order_relaxed) ||
      !next.compare_exchange_strong(due, end.end_ns + kIntervalNanos,
                                    std::memory_order_relaxed)) {
    return false;
  }
  AgentCodeScope agent_code;  // our lock is not the host's contention
  std::lock_guard<std::mutex> lock(mu_);
  if (queued_ == queue_.size()) {
    ++stats_.queue_full;
    return false;
  }
  queue_[queued_++] = end;
  ++stats_.queued;
  return true;
}

std::vector<RequestEnd> TypicalRequestQueue::TakeAll() {
  std::lock_guard<std::mutex> lock(mu_);
  std::vector<RequestEnd> out(queue_.begin(), queue_.begin() + queued_);
  queued_ = 0;
  return out;
}

TypicalRequestQueue::Stats TypicalRequestQueue::stats() const {
  std::lock_guard<std::mutex> lock(mu_);
  return stats_;
}

BaselineReservoir::Request BaselineReservoir::Compacted(
    const RequestEnd& end, const std::vector<RawSample>& samples) {
  Request request;
  request.start_ns = end.start_ns;
  request.end_ns = end.end_ns;
  request.bytes = sizeof(Request);
  request.samples.reserve(samples.size());
  for (const RawSample& s : samples) {
    if (s.depth == 0) continue;
    const uint32_t depth = std::min<uint32_t>(s.depth, kMaxStackDepth);
    Compact& c = request.samples.emplace_back();
    std::memcpy(c.head.data(), &s, c.head.size());
    c.pcs.assign(s.pcs, s.pcs + depth);
    request.bytes += sizeof(Compact) + depth * sizeof(uint64_t);
  }
  return request;
}

bool BaselineReservoir::Add(const std::string& endpoint, const RequestEnd& end,
                            const std::vector<RawSample>& samples) {
  Request request = Compacted(end, samples);
  std::lock_guard<std::mutex> lock(mu_);
  if (request.bytes > limits_.max_bytes_per_endpoint) {
    ++stats_.too_large;
    return false;
  }
  auto it = endpoints_.find(endpoint);
  if (it != endpoints_.end() && !it->second.requests.empty() &&
      end.end_ns < it->second.last_end_ns + limits_.min_interval_ns) {
    ++stats_.too_soon;
    return false;
  }
  if (it == endpoints_.end()) {
    if (endpoints_.size() >= limits_.max_endpoints) EvictEndpointLocked();
    it = endpoints_.emplace(endpoint, Endpoint{}).first;
  }
  Endpoint& e = it->second;
  while (!e.requests.empty() &&
         (e.requests.size() >= limits_.requests_per_endpoint ||
          e.bytes + request.bytes > limits_.max_bytes_per_endpoint)) {
    e.bytes -= e.requests.front().bytes;
    stats_.bytes -= e.requests.front().bytes;
    e.requests.pop_front();
  }
  e.bytes += request.bytes;
  stats_.bytes += request.bytes;
  e.last_end_ns = std::max(e.last_end_ns, end.end_ns);
  e.requests.push_back(std::move(request));
  ++stats_.kept;
  return true;
}

void BaselineReservoir::EvictEndpointLocked() {
  // The endpoint fed least recently: its baseline is the stalest.
  auto stalest = endpoints_.begin();
  for (auto it = endpoints_.begin(); it != endpoints_.end(); ++it) {
    if (it->second.last_end_ns < stalest->second.last_end_ns) stalest = it;
  }
  if (stalest == endpoints_.end()) return;
  stats_.bytes -= stalest->second.bytes;
  endpoints_.erase(stalest);
}

bool BaselineReservoir::Has(std::string_view endpoint) const {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = endpoints_.find(endpoint);
  return it != endpoints_.end() && !it->second.requests.empty();
}

std::optional<BaselineReservoir::Snapshot> BaselineReservoir::Get(
    std::string_view endpoint) const {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = endpoints_.find(endpoint);
  if (it == endpoints_.end() || it->second.requests.empty()) {
    return std::nullopt;
  }
  Snapshot snapshot;
  snapshot.first_start_ns = std::numeric_limits<uint64_t>::max();
  for (const Request& request : it->second.requests) {
    ++snapshot.requests;
    snapshot.first_start_ns =
        std::min(snapshot.first_start_ns, request.start_ns);
    snapshot.last_end_ns = std::max(snapshot.last_end_ns, request.end_ns);
    snapshot.total_duration_ns += request.end_ns - request.start_ns;
    for (const Compact& c : request.samples) {
      RawSample& s = snapshot.samples.emplace_back();
      std::memcpy(&s, c.head.data(), c.head.size());
      s.label_set = 0;
      s.depth = static_cast<uint32_t>(c.pcs.size());
      std::copy(c.pcs.begin(), c.pcs.end(), s.pcs);
    }
  }
  return snapshot;
}

BaselineReservoir::Stats BaselineReservoir::stats() const {
  std::lock_guard<std::mutex> lock(mu_);
  Stats stats = stats_;
  stats.endpoints = endpoints_.size();
  return stats;
}

namespace {

// Monotonic nanoseconds to Unix nanoseconds, as of now.
int64_t UnixFromMonotonic(uint64_t monotonic_ns) {
  return UnixNanos() - static_cast<int64_t>(MonotonicNanos() - monotonic_ns);
}

std::vector<std::string> BaselineComments(
    const BaselineReservoir::Snapshot& snapshot,
    const BaselineProfileInfo& info) {
  const std::string n = std::to_string(snapshot.requests);
  const uint64_t span_ms =
      (snapshot.last_end_ns - snapshot.first_start_ns) / 1'000'000;
  return {
      "inprof baseline: endpoint=" + info.endpoint + " typical_requests=" + n +
          " threshold_ms=" + std::to_string(info.threshold_nanos / 1'000'000),
      "typical requests (under the threshold, at most one a second) from " +
          Iso8601(UnixFromMonotonic(snapshot.first_start_ns), true) + " to " +
          Iso8601(UnixFromMonotonic(snapshot.last_end_ns), true) + " (" +
          std::to_string(span_ms) + " ms)",
      "values are per request: the " + n +
          " requests' own samples summed and divided by " + n +
          " (diff a capture against it: this request vs a typical one)",
  };
}

}  // namespace

Profile BuildBaselineProfile(const BaselineReservoir::Snapshot& snapshot,
                             const BaselineProfileInfo& info,
                             Symbolizer* symbolizer) {
  const auto n = static_cast<int64_t>(std::max<size_t>(snapshot.requests, 1));
  RequestCaptureInfo capture;
  capture.hz = info.hz;
  capture.start_unix_nanos = UnixFromMonotonic(snapshot.first_start_ns);
  capture.duration_nanos = static_cast<int64_t>(snapshot.total_duration_ns) / n;
  capture.comments = BaselineComments(snapshot, info);
  Profile profile = BuildRequestCapture(snapshot.samples, capture, symbolizer);
  std::erase_if(profile.samples, [n](Sample& sample) {
    bool any = false;
    for (int64_t& v : sample.values) {
      v = std::llround(static_cast<double>(v) / static_cast<double>(n));
      any = any || v != 0;
    }
    return !any;
  });
  return profile;
}

}  // namespace inprof::internal
