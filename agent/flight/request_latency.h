// RequestLatency: per endpoint, how long requests take and how many were
// slow, while auto-capture is on. It is the request observer
// (agent/labels/request_observer.h): each outermost RequestScope's end lands
// in a latency histogram of its label set and is judged against its
// endpoint's threshold. /metrics shows the histograms by endpoint
// (inprof_request_duration_seconds) and the slow counts
// (inprof_slow_requests_total); the flight recorder captures slow requests.
//
// Ownership: one process-wide instance (Global()), never destroyed: a
// request may end on any thread at any time, also while the agent stops.
// Histograms are allocated per label set on first use, bounded by the label
// registry's cap.
// Thread safety: thread-safe; OnRequestEnd is lock-free once a set's
// histogram exists and its threshold is known.
#ifndef INPROF_AGENT_FLIGHT_REQUEST_LATENCY_H_
#define INPROF_AGENT_FLIGHT_REQUEST_LATENCY_H_

#include <array>
#include <atomic>
#include <cstdint>
#include <mutex>
#include <string>

#include "agent/base/prometheus_text.h"
#include "agent/flight/autocapture_settings.h"
#include "agent/labels/label_registry.h"
#include "agent/labels/request_observer.h"

namespace inprof::internal {

class RequestLatency {
 public:
  // Upper bounds of the histogram's buckets, in seconds (+Inf implied).
  static constexpr std::array<double, 14> kBucketSeconds = {
      0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05,
      0.1,    0.25,  0.5,    1,     2.5,  5,     10};

  static RequestLatency& Global();

  // Installs `settings`: times requests (sets the observer) while enabled;
  // thresholds apply to requests that end from now on.
  void Configure(const AutoCaptureSettings& settings);
  AutoCaptureSettings settings() const;

  // The request observer. Lock-free but for a set's first request.
  static void OnRequestEnd(const RequestEnd& end) noexcept;

  // Called with each slow request's end (on its own thread, after it was
  // counted); nullptr: none. Must not block.
  void SetSlowRequestSink(RequestObserver sink) noexcept {
    slow_sink_.store(sink, std::memory_order_release);
  }

  // Called with each request's end that was under its threshold (one > 0),
  // on its own thread (baselines.h); nullptr: none. It is on every typical
  // request's path: must cost next to nothing, and not block.
  void SetTypicalRequestSink(RequestObserver sink) noexcept {
    typical_sink_.store(sink, std::memory_order_release);
  }

  // inprof_request_duration_seconds{endpoint} and
  // inprof_slow_requests_total{endpoint}: sets of one endpoint summed.
  void WriteMetrics(PrometheusText& text) const;

  RequestLatency() = default;
  RequestLatency(const RequestLatency&) = delete;
  RequestLatency& operator=(const RequestLatency&) = delete;

 private:
  struct Histogram {
    // Not cumulative; the count is their sum.
    std::atomic<uint64_t> buckets[kBucketSeconds.size() + 1] = {};
    std::atomic<uint64_t> sum_ns{0};
    std::atomic<uint64_t> slow{0};
    // The set's threshold under settings generation `generation`.
    std::atomic<uint64_t> generation{0};
    std::atomic<int64_t> threshold_ns{0};
  };

  Histogram* HistogramFor(uint64_t label_set);
  int64_t ThresholdFor(uint64_t label_set, Histogram& histogram);

  static constexpr size_t kSets = kMaxLabelSets + 2;  // ids 0..kSets-1
  std::atomic<Histogram*> histograms_[kSets] = {};
  std::atomic<uint64_t> generation_{1};
  std::atomic<RequestObserver> slow_sink_{nullptr};
  std::atomic<RequestObserver> typical_sink_{nullptr};
  mutable std::mutex mu_;         // settings_, histogram allocation
  AutoCaptureSettings settings_;  // guarded by mu_
};

}  // namespace inprof::internal

#endif  // INPROF_AGENT_FLIGHT_REQUEST_LATENCY_H_
