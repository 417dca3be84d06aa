#include "agent/flight/request_latency.h"

#include <cstdio>
#include <map>
#include <new>
#include <vector>

#include "agent/base/agent_thread.h"

namespace inprof::internal {
namespace {

size_t BucketOf(uint64_t nanos) {
  for (size_t i = 0; i < RequestLatency::kBucketSeconds.size(); ++i) {
    if (static_cast<double>(nanos) <= RequestLatency::kBucketSeconds[i] * 1e9) {
      return i;
    }
  }
  return RequestLatency::kBucketSeconds.size();  // +Inf
}

}  // namespace

RequestLatency& RequestLatency::Global() {
  static RequestLatency* const latency = new RequestLatency();
  return *latency;
}

void RequestLatency::Configure(const AutoCaptureSettings& settings) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    settings_ = settings;
    generation_.fetch_add(1, std::memory_order_acq_rel);
  }
  SetRequestObserver(settings.enabled ? &RequestLatency::OnRequestEnd
                                      : nullptr);
}

AutoCaptureSettings RequestLatency::settings() const {
  std::lock_guard<std::mutex> lock(mu_);
  return settings_;
}

RequestLatency::Histogram* RequestLatency::HistogramFor(uint64_t label_set) {
  if (label_set >= kSets) return nullptr;
  Histogram* histogram = histograms_[label_set].load(std::memory_order_acquire);
  if (histogram != nullptr) return histogram;
  AgentCodeScope agent_code;  // our lock is not the host's contention
  std::lock_guard<std::mutex> lock(mu_);
  histogram = histograms_[label_set].load(std::memory_order_relaxed);
  if (histogram == nullptr) {
    histogram = new (std::nothrow) Histogram();
    histograms_[label_set].store(histogram, std::memory_order_release);
  }
  return histogram;
}

int64_t RequestLatency::ThresholdFor(uint64_t label_set, Histogram& histogram) {
  if (histogram.generation.load(std::memory_order_acquire) ==
      generation_.load(std::memory_order_acquire)) {
    return histogram.threshold_ns.load(std::memory_order_relaxed);
  }
  AgentCodeScope agent_code;
  std::lock_guard<std::mutex> lock(mu_);
  const int64_t threshold = settings_.ThresholdNanos(EndpointOf(label_set));
  histogram.threshold_ns.store(threshold, std::memory_order_relaxed);
  histogram.generation.store(generation_.load(std::memory_order_relaxed),
                             std::memory_order_release);
  return threshold;
}

void RequestLatency::OnRequestEnd(const RequestEnd& end) noexcept {
  RequestLatency& self = Global();
  Histogram* histogram = self.HistogramFor(end.label_set);
  if (histogram == nullptr) return;
  const uint64_t nanos = end.end_ns - end.start_ns;
  histogram->buckets[BucketOf(nanos)].fetch_add(1, std::memory_order_relaxed);
  histogram->sum_ns.fetch_add(nanos, std::memory_order_relaxed);
  const int64_t threshold = self.ThresholdFor(end.label_set, *histogram);
  if (threshold > 0 && nanos <= static_cast<uint64_t>(threshold)) {
    // A typical request: a candidate for its endpoint's baseline.
    RequestObserver typical =
        self.typical_sink_.load(std::memory_order_acquire);
    if (typical != nullptr) typical(end);
  }
  if (threshold <= 0 || nanos <= static_cast<uint64_t>(threshold)) return;
  histogram->slow.fetch_add(1, std::memory_order_relaxed);
  if (RequestObserver sink = self.slow_sink_.load(std::memory_order_acquire)) {
    sink(end);
  }
}

void RequestLatency::WriteMetrics(PrometheusText& text) const {
  struct Sum {
    uint64_t buckets[kBucketSeconds.size() + 1] = {};
    uint64_t count = 0, sum_ns = 0, slow = 0;
  };
  std::map<std::string, Sum> by_endpoint;
  for (size_t id = 0; id < kSets; ++id) {
    const Histogram* h = histograms_[id].load(std::memory_order_acquire);
    if (h == nullptr) continue;
    Sum& sum = by_endpoint[std::string(EndpointOf(id))];
    for (size_t i = 0; i <= kBucketSeconds.size(); ++i) {
      const uint64_t n = h->buckets[i].load(std::memory_order_relaxed);
      sum.buckets[i] += n;
      sum.count += n;
    }
    sum.sum_ns += h->sum_ns.load(std::memory_order_relaxed);
    sum.slow += h->slow.load(std::memory_order_relaxed);
  }
  constexpr std::string_view kDuration = "inprof_request_duration_seconds";
  text.Family(kDuration, "histogram",
              "Duration of requests (outermost inprof::RequestScope), by "
              "endpoint; recorded while auto-capture is on.");
  for (const auto& [endpoint, sum] : by_endpoint) {
    uint64_t cumulative = 0;
    for (size_t i = 0; i < kBucketSeconds.size(); ++i) {
      cumulative += sum.buckets[i];
      char le[32];
      std::snprintf(le, sizeof(le), "%g", kBucketSeconds[i]);
      text.Sample(kDuration, "_bucket", {{"endpoint", endpoint}, {"le", le}},
                  static_cast<double>(cumulative));
    }
    text.Sample(kDuration, "_bucket", {{"endpoint", endpoint}, {"le", "+Inf"}},
                static_cast<double>(sum.count));
    text.Sample(kDuration, "_sum", {{"endpoint", endpoint}},
                static_cast<double>(sum.sum_ns) / 1e9);
    text.Sample(kDuration, "_count", {{"endpoint", endpoint}},
                static_cast<double>(sum.count));
  }
  text.Family("inprof_slow_requests_total", "counter",
              "Requests over their endpoint's auto-capture threshold.");
  for (const auto& [endpoint, sum] : by_endpoint) {
    text.Sample("inprof_slow_requests_total", {{"endpoint", endpoint}},
                static_cast<double>(sum.slow));
  }
}

}  // namespace inprof::internal
