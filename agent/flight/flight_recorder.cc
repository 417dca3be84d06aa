#include "agent/flight/flight_recorder.h"

#include <pthread.h>

#include <string>
#include <vector>

#include "agent/base/agent_thread.h"
#include "agent/base/clock.h"
#include "agent/flight/capture_profile.h"
#include "agent/flight/request_latency.h"
#include "agent/flight/slow_requests.h"
#include "agent/labels/label_registry.h"
#include "agent/profile/encode.h"

namespace inprof::internal {
namespace {

CaptureStore::Request RequestInfo(const RequestEnd& end) {
  CaptureStore::Request request;
  request.request_id = end.request_id;
  request.duration_nanos = static_cast<int64_t>(end.end_ns - end.start_ns);
  if (const LabelSet* set = LabelRegistry::Global().Find(end.label_set)) {
    for (const LabelPair& pair : set->pairs) {
      if (pair.key == kEndpointKey) request.endpoint = pair.value;
      request.labels.emplace_back(pair.key, pair.value);
    }
  }
  return request;
}

}  // namespace

FlightRecorder::FlightRecorder(CpuSampler* sampler,
                               SharedSymbolizer* symbolizer,
                               CaptureStore* captures)
    : sampler_(sampler), symbolizer_(symbolizer), captures_(captures) {}

FlightRecorder::~FlightRecorder() { SetEnabled(false); }

void FlightRecorder::SetEnabled(bool enabled) {
  std::lock_guard<std::mutex> lock(mu_);
  const bool running = thread_.joinable();
  if (enabled == running) return;
  if (enabled) {
    {
      std::lock_guard<std::mutex> history_lock(history_mu_);
      history_ = std::make_shared<HistoryRing>(kHistorySamples);
    }
    stopping_.store(false);
    sampler_->Subscribe(this);
    RequestLatency::Global().SetSlowRequestSink(&SlowRequestQueue::Push);
    thread_ = std::thread([this] { CaptureLoop(); });
    wall_ = std::make_unique<WallSampler>(sampler_);
    return;
  }
  wall_.reset();  // no more wall signals
  RequestLatency::Global().SetSlowRequestSink(nullptr);
  stopping_.store(true);
  SlowRequestQueue::Global().WakeAll();
  thread_.join();
  sampler_->Unsubscribe(this);
  std::lock_guard<std::mutex> history_lock(history_mu_);
  history_.reset();
}

FlightRecorder::Stats FlightRecorder::stats() const {
  Stats stats;
  stats.captures = captures_made_.load();
  stats.partial = partial_.load();
  std::lock_guard<std::mutex> lock(history_mu_);
  if (history_) stats.history_samples = history_->kept();
  return stats;
}

void FlightRecorder::WriteMetrics(PrometheusText& text) const {
  const Stats mine = stats();
  const SlowRequestQueue::Stats queue = SlowRequestQueue::Global().stats();
  text.Single("inprof_slow_request_captures_total", "counter",
              "Slow requests captured (/debug/pprof/captures).",
              static_cast<double>(mine.captures));
  text.Family("inprof_slow_requests_dropped_total", "counter",
              "Slow requests not captured: over the captures-per-second "
              "rate, or with the capture queue full.");
  text.Sample("inprof_slow_requests_dropped_total", {{"reason", "rate"}},
              static_cast<double>(queue.over_rate));
  text.Sample("inprof_slow_requests_dropped_total", {{"reason", "queue"}},
              static_cast<double>(queue.queue_full));
  text.Single("inprof_flight_history_samples_total", "counter",
              "CPU samples of threads inside a request kept in the flight "
              "recorder's history since auto-capture was last turned on.",
              static_cast<double>(mine.history_samples));
}

void FlightRecorder::OnSample(const RawSample& sample) {
  std::lock_guard<std::mutex> lock(history_mu_);
  if (history_) history_->Add(sample);
}

void FlightRecorder::OnLost(uint64_t) {}

void FlightRecorder::CaptureLoop() {
  MarkAgentThread();
  pthread_setname_np(pthread_self(), "inprof-flight");
  while (!stopping_.load()) {
    std::optional<RequestEnd> end =
        SlowRequestQueue::Global().Pop(std::chrono::milliseconds(200));
    if (end && !stopping_.load()) Capture(*end);
  }
}

void FlightRecorder::Capture(const RequestEnd& end) {
  // Samples still in the sampler's ring belong to the request too.
  sampler_->Drain();
  std::shared_ptr<HistoryRing> history;
  {
    std::lock_guard<std::mutex> lock(history_mu_);
    history = history_;
  }
  if (!history) return;
  HistoryRing::Window window =
      history->ForRequest(end.request_id, end.start_ns);

  CaptureStore::Info info;
  info.profile = "request";
  info.request = RequestInfo(end);
  const int64_t duration = info.request->duration_nanos;
  info.unix_nanos =
      UnixNanos() - static_cast<int64_t>(MonotonicNanos() - end.start_ns);
  RequestCaptureInfo profile_info;
  profile_info.hz = sampler_->hz();
  profile_info.start_unix_nanos = info.unix_nanos;
  profile_info.duration_nanos = duration;
  const int64_t threshold = RequestLatency::Global().settings().ThresholdNanos(
      info.request->endpoint);
  profile_info.comments = {
      "inprof slow request: endpoint=" + info.request->endpoint +
          " request_id=" + std::to_string(end.request_id) +
          " duration_ms=" + std::to_string(duration / 1'000'000) +
          " threshold_ms=" + std::to_string(threshold / 1'000'000),
      "CPU and wall-clock samples of the request's own thread and of "
      "threads that adopted it (inprof::AdoptRequest), from its start: " +
          std::to_string(window.samples.size()) + " samples",
  };
  if (window.history_starts_ns != 0) {
    partial_.fetch_add(1);
    profile_info.comments.push_back(
        "history did not reach back to the request's start: its first " +
        std::to_string((window.history_starts_ns - end.start_ns) / 1'000'000) +
        " ms are missing");
  }
  StatusOr<std::string> bytes =
      symbolizer_->Build([this] { return stopping_.load(); },
                         [&](Symbolizer* s) {
                           return SerializeProfile(BuildRequestCapture(
                               window.samples, profile_info, s));
                         });
  if (!bytes.ok()) return;  // stopping
  captures_->Add(std::move(info), std::move(bytes).value());
  captures_made_.fetch_add(1);
}

}  // namespace inprof::internal
