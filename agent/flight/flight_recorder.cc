#include "agent/flight/flight_recorder.h"

#include <algorithm>
#include <string>
#include <utility>
#include <vector>

#include "agent/base/agent_thread_start.h"
#include "agent/base/clock.h"
#include "agent/base/thread_stack.h"
#include "agent/contention/request_waits.h"
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
  // Grafana Pyroscope's keys: a capture can be found from its trace.
  if (end.has_trace) {
    request.labels.emplace_back("trace_id", end.trace_id_hex());
    request.labels.emplace_back("span_id", end.span_id_hex());
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
      history_ = std::make_shared<HistoryRing>(kHistoryBytes);
    }
    stopping_.store(false);
    SetThreadCpuMeasured(true);  // before the timers are armed
    sampler_->Subscribe(this);
    RequestWaits::Global().Drain([](const RequestWait&) {});  // stale
    RequestWaits::Global().SetEnabled(true);
    RequestLatency::Global().SetSlowRequestSink(&SlowRequestQueue::Push);
    RequestLatency::Global().SetTypicalRequestSink(
        &TypicalRequestQueue::OfferToGlobal);
    thread_ = StartAgentThread("inprof-flight", [this] { CaptureLoop(); });
    wall_ = std::make_unique<WallSampler>(sampler_);
    enabled_.store(true, std::memory_order_relaxed);
    return;
  }
  enabled_.store(false, std::memory_order_relaxed);
  wall_.reset();  // no more wall signals
  RequestLatency::Global().SetSlowRequestSink(nullptr);
  RequestLatency::Global().SetTypicalRequestSink(nullptr);
  stopping_.store(true);
  SlowRequestQueue::Global().WakeAll();
  thread_.join();
  // Hung requests still running stay captured live, as they were.
  for (const auto& [request_id, id] : live_captures_) {
    SlowRequestQueue::Global().Forget(request_id);
  }
  live_captures_.clear();
  {
    std::lock_guard<std::mutex> history_lock(history_mu_);
    process_recorder_.reset();  // an open window is abandoned
  }
  process_ = ProcessWindow{};
  sampler_->Unsubscribe(this);
  SetThreadCpuMeasured(false);
  RequestWaits::Global().SetEnabled(false);
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
  const WallSampler::Stats wall = WallSampler::Totals();
  text.Single("inprof_wall_samples_total", "counter",
              "Wall-clock samples asked of threads inside a request (each "
              "stands for the time since that thread's previous one).",
              static_cast<double>(wall.signals));
  text.Single("inprof_wall_samples_deferred_total", "counter",
              "Threads inside a request left for the next 10 ms tick, over "
              "the cap of 16 signals a tick: resolution lost, not time.",
              static_cast<double>(wall.deferred));
  text.Single("inprof_wall_samples_failed_total", "counter",
              "Wall-clock samples the kernel refused (the thread had ended).",
              static_cast<double>(wall.failed));
  text.Single("inprof_flight_baseline_requests_total", "counter",
              "Typical requests kept in their endpoints' baselines, to diff "
              "slow requests' captures against (at most one a second per "
              "endpoint).",
              static_cast<double>(baselines_.stats().kept));
}

void FlightRecorder::OnSample(const RawSample& sample) {
  std::lock_guard<std::mutex> lock(history_mu_);
  if (history_) history_->Add(sample);
  if (process_recorder_) process_recorder_->OnSample(sample);
}

void FlightRecorder::OnLost(uint64_t count) {
  std::lock_guard<std::mutex> lock(history_mu_);
  if (process_recorder_) process_recorder_->OnLost(count);
}

void FlightRecorder::WarmSymbolizer() {
  // The first symbolization reads each module's symbol table (about 180 ms
  // for the demo: BENCHMARKS.md "Auto-capture: history and time to
  // capture"): paid here, as auto-capture turns on, for every module a
  // request's stack may pass through, not by the first slow request.
  (void)symbolizer_->Build([this] { return stopping_.load(); },
                           [](Symbolizer* s) {
                             std::vector<uint64_t> starts;
                             for (const ProcessMapping& m : s->mappings()) {
                               starts.push_back(m.start);
                             }
                             for (uint64_t start : starts) {
                               if (s->cancelled()) break;
                               s->Symbolize(start);
                             }
                             return 0;
                           });
}

void FlightRecorder::CaptureLoop() {
  WarmSymbolizer();
  while (!stopping_.load()) {
    std::optional<RequestEnd> end = SlowRequestQueue::Global().Pop(NextWait());
    if (end && !stopping_.load()) {
      Capture(*end);
      ReleaseUnusedStack();  // symbolizing ran deep (thread_stack.h)
    }
    if (!stopping_.load()) FinishProcessProfileIfDue();
    DrainWaits();
    if (!stopping_.load()) CaptureHungRequests();
    if (!stopping_.load()) TakeTypicalRequests();
  }
}

void FlightRecorder::Configure(const AutoCaptureSettings& settings) {
  SlowRequestQueue::Global().SetRate(settings.captures_per_second,
                                     settings.Burst());
  captures_->SetRequestLimits(static_cast<size_t>(settings.max_captures),
                              static_cast<size_t>(settings.max_bytes));
  process_profile_ms_.store(settings.process_profile_ms);
  SetEnabled(settings.enabled);
}

void FlightRecorder::DrainWaits() {
  std::shared_ptr<HistoryRing> history;
  {
    std::lock_guard<std::mutex> lock(history_mu_);
    history = history_;
  }
  if (!history) return;
  RequestWaits::Global().Drain([&](const RequestWait& wait) {
    RawSample sample;  // about 1 KiB: on this thread's stack, not a hook's
    sample.timestamp_ns = wait.timestamp_ns;
    sample.label_set = wait.label_set;
    sample.request_id = wait.request_id;
    sample.tid = wait.tid;
    sample.weight = 0;
    sample.depth = wait.depth;
    sample.truncated = 0;
    sample.agent_thread = 0;
    sample.wall_nanos = 0;
    sample.cpu_nanos = 0;
    sample.wait_count = wait.count;
    sample.wait_nanos = wait.delay_nanos;
    std::copy(wait.pcs, wait.pcs + wait.depth, sample.pcs);
    history->Add(sample);
  });
}

void FlightRecorder::CaptureHungRequests() {
  SlowRequestQueue& queue = SlowRequestQueue::Global();
  for (const RequestEnd& hung :
       hung_.Scan(MonotonicNanos(), RequestLatency::Global().settings())) {
    // A hang spends a token as a slow request does; its end then completes
    // the capture whatever the rate.
    if (!queue.TakeToken(hung.end_ns)) continue;
    if (!queue.Await(hung.request_id)) continue;
    Capture(hung, /*live=*/true);
  }
}

void FlightRecorder::Capture(const RequestEnd& end, bool live) {
  // Samples still in the sampler's ring belong to the request too.
  sampler_->Drain();
  DrainWaits();
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
  info.request->running = live;
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
      std::string(live ? "inprof hung request, still running (captured live; "
                         "completed in place when it ends): "
                       : "inprof slow request: ") +
          "endpoint=" + info.request->endpoint +
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
  const std::string endpoint = info.request->endpoint;
  const uint64_t id = StoreCapture(end.request_id, live, std::move(info),
                                   std::move(bytes).value());
  if (!live && id != 0) StartProcessProfile(id, end, endpoint);
}

std::chrono::milliseconds FlightRecorder::NextWait() const {
  // Hangs are looked for every 100 ms at least.
  constexpr std::chrono::milliseconds kMax(100);
  if (process_.capture_id == 0) return kMax;
  const uint64_t now = MonotonicNanos();
  if (now >= process_.deadline_ns) return std::chrono::milliseconds(0);
  return std::min<std::chrono::milliseconds>(
      kMax, std::chrono::milliseconds((process_.deadline_ns - now + 999'999) /
                                      1'000'000));
}

void FlightRecorder::StartProcessProfile(uint64_t id, const RequestEnd& end,
                                         const std::string& endpoint) {
  const int window_ms = process_profile_ms_.load();
  // One window at a time: a storm of slow requests is not a storm of
  // process profiles (the captures' own rate limit applies first).
  if (window_ms <= 0 || process_.capture_id != 0) return;
  const uint64_t now = MonotonicNanos();
  {
    std::lock_guard<std::mutex> lock(history_mu_);
    process_recorder_ = std::make_unique<CpuProfileRecorder>(now);
  }
  process_.capture_id = id;
  process_.window_ms = window_ms;
  process_.start_ns = now;
  process_.deadline_ns = now + static_cast<uint64_t>(window_ms) * 1'000'000;
  process_.start_unix_nanos = UnixNanos();
  process_.about = "inprof whole-process CPU profile of the " +
                   std::to_string(window_ms) + " ms after slow request " +
                   std::to_string(end.request_id) + " (endpoint=" + endpoint +
                   ", capture " + std::to_string(id) +
                   ") ended: every thread, in a request or not";
}

void FlightRecorder::FinishProcessProfileIfDue() {
  if (process_.capture_id == 0 || MonotonicNanos() < process_.deadline_ns) {
    return;
  }
  sampler_->Drain();  // the window's last samples
  std::unique_ptr<CpuProfileRecorder> recorder;
  {
    std::lock_guard<std::mutex> lock(history_mu_);
    recorder = std::move(process_recorder_);
  }
  const ProcessWindow window = std::exchange(process_, ProcessWindow{});
  if (!recorder) return;
  CpuProfileInfo info;
  info.hz = sampler_->hz();
  info.start_unix_nanos = window.start_unix_nanos;
  info.duration_nanos =
      static_cast<int64_t>(MonotonicNanos() - window.start_ns);
  info.comments = {window.about,
                   "lost samples: " + std::to_string(recorder->lost()) +
                       " (reported as " + kLostSamplesFrame + ")"};
  StatusOr<std::string> bytes = symbolizer_->Build(
      [this] { return stopping_.load(); },
      [&](Symbolizer* s) {
        return SerializeProfile(BuildCpuProfile(*recorder, info, s));
      });
  if (!bytes.ok()) return;  // stopping
  captures_->AttachProcessProfile(window.capture_id, window.window_ms,
                                  std::move(bytes).value());
}

uint64_t FlightRecorder::StoreCapture(uint64_t request_id, bool live,
                                      CaptureStore::Info info,
                                      std::string bytes) {
  auto previous = live_captures_.find(request_id);
  if (live) {
    const uint64_t id = captures_->Add(std::move(info), std::move(bytes));
    live_captures_[request_id] = id;
    captures_made_.fetch_add(1);
    return id;
  }
  // A hung request that ended: its live capture completed in place (unless
  // evicted meanwhile: then stored anew).
  if (previous != live_captures_.end()) {
    const uint64_t id = previous->second;
    live_captures_.erase(previous);
    if (captures_->Replace(id, info, bytes)) return id;
  }
  const uint64_t id = captures_->Add(std::move(info), std::move(bytes));
  captures_made_.fetch_add(1);
  return id;
}

void FlightRecorder::TakeTypicalRequests() {
  std::vector<RequestEnd> ends = TypicalRequestQueue::Global().TakeAll();
  if (ends.empty()) return;
  sampler_->Drain();  // their last samples may still be in the ring
  DrainWaits();
  std::shared_ptr<HistoryRing> history;
  {
    std::lock_guard<std::mutex> lock(history_mu_);
    history = history_;
  }
  if (!history) return;
  for (const RequestEnd& end : ends) {
    HistoryRing::Window window =
        history->ForRequest(end.request_id, end.start_ns);
    // A request whose first samples were overwritten would make a typical
    // request look cheaper than it is.
    if (window.history_starts_ns != 0) continue;
    baselines_.Add(RequestInfo(end).endpoint, end, window.samples);
  }
}

bool FlightRecorder::HasBaseline(std::string_view endpoint) const {
  return baselines_.Has(endpoint);
}

StatusOr<std::string> FlightRecorder::BaselineProfile(
    const std::string& endpoint) {
  std::optional<BaselineReservoir::Snapshot> snapshot =
      baselines_.Get(endpoint);
  if (!snapshot) {
    return NotFoundError("no baseline yet for endpoint \"" + endpoint +
                         "\": typical requests are sampled at most one a "
                         "second while auto-capture is on");
  }
  BaselineProfileInfo info;
  info.endpoint = endpoint;
  info.hz = sampler_->hz();
  info.threshold_nanos =
      RequestLatency::Global().settings().ThresholdNanos(endpoint);
  return symbolizer_->Build(
      [] { return false; },
      [&](Symbolizer* s) {
        return SerializeProfile(BuildBaselineProfile(*snapshot, info, s));
      });
}

}  // namespace inprof::internal
