// FlightRecorder: while auto-capture is on, keeps the recent CPU samples of
// threads inside a request (HistoryRing), and turns each slow request
// (SlowRequestQueue, fed by RequestLatency) into a capture of its own
// samples from its start: a CPU profile of that request, its threads and
// the pool threads that adopted it, stored in the agent's CaptureStore with
// its endpoint, labels and duration (/debug/pprof/captures).
//
// CPU samples come from the agent's CpuSampler, subscribed to for as long as
// auto-capture is on (every thread's CPU timer runs, as during a profile);
// wall-clock samples from its WallSampler; a request's waits (block events)
// from the contention hooks through RequestWaits. A request still running
// at hang_multiple x its threshold is captured live (HungRequestWatch) and
// completed in place when it ends.
//
// It also keeps, per endpoint, a baseline of typical requests' own samples
// (baselines.h), to diff a capture against.
//
// Ownership: borrows the sampler, the symbolizer and the store, which
// outlive it. Thread safety: SetEnabled, stats and the baseline accessors
// are thread-safe; one
// capture thread of its own, started and joined by SetEnabled.
#ifndef INPROF_AGENT_FLIGHT_FLIGHT_RECORDER_H_
#define INPROF_AGENT_FLIGHT_FLIGHT_RECORDER_H_

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <unordered_map>

#include "agent/base/prometheus_text.h"
#include "agent/capture/capture_store.h"
#include "agent/cpu/cpu_profile.h"
#include "agent/cpu/cpu_sampler.h"
#include "agent/flight/autocapture_settings.h"
#include "agent/flight/baselines.h"
#include "agent/flight/history.h"
#include "agent/flight/hung_requests.h"
#include "agent/flight/wall_sampler.h"
#include "agent/labels/request_observer.h"
#include "agent/sources/shared_symbolizer.h"

namespace inprof::internal {

class FlightRecorder : private CpuSampleSink {
 public:
  // Bytes of history kept while on (HistoryRing: 100-200 bytes a sample,
  // 23 s of 64 concurrent requests on 2 cores; BENCHMARKS.md "Auto-capture:
  // history and time to capture").
  static constexpr size_t kHistoryBytes = size_t{4} << 20;

  FlightRecorder(CpuSampler* sampler, SharedSymbolizer* symbolizer,
                 CaptureStore* captures);
  FlightRecorder(const FlightRecorder&) = delete;
  FlightRecorder& operator=(const FlightRecorder&) = delete;
  ~FlightRecorder() override;

  // On: history kept, slow requests captured. Off: history freed, the
  // capture thread joined. Idempotent.
  void SetEnabled(bool enabled);
  bool enabled() const { return enabled_.load(std::memory_order_relaxed); }

  struct Stats {
    uint64_t captures = 0;         // stored
    uint64_t history_samples = 0;  // kept since last enabled
    uint64_t partial = 0;          // captures whose start was overwritten
  };
  Stats stats() const;

  // inprof_slow_request_captures_total, inprof_slow_requests_dropped_total
  // {reason}, inprof_flight_history_samples_total, inprof_wall_samples_*.
  void WriteMetrics(PrometheusText& text) const;

  // Applies `settings`: on or off, the captures' rate and limits.
  void Configure(const AutoCaptureSettings& settings);

  // The capture of request `end` from the history (exposed for tests).
  // `live`: a hung request still running (end.end_ns is now); its capture
  // is completed in place when its end is captured.
  void Capture(const RequestEnd& end, bool live = false);

  // Baselines of typical requests (baselines.h), fed while on and kept when
  // turned off (captures outlive it too). True once `endpoint` has one.
  bool HasBaseline(std::string_view endpoint) const;
  // The baseline of `endpoint` as gzipped profile.proto, normalized to one
  // request (BuildBaselineProfile). kNotFound when it has none yet;
  // kUnavailable when the agent is stopping. Thread-safe.
  [[nodiscard]] StatusOr<std::string> BaselineProfile(
      const std::string& endpoint);

 private:
  void OnSample(const RawSample& sample) override;
  void OnLost(uint64_t count) override;
  void CaptureLoop();
  void WarmSymbolizer();
  // Moves the requests' waits (RequestWaits) into the history.
  void DrainWaits();
  // Captures, live, the requests HungRequestWatch finds (capture thread).
  void CaptureHungRequests();
  // Stores a capture and returns its id (0 if none was stored).
  uint64_t StoreCapture(uint64_t request_id, bool live, CaptureStore::Info info,
                        std::string bytes);
  // process_profile_ms: starts recording every thread's CPU samples for
  // capture `id` of request `end` (unless one such window is open), and
  // attaches the profile once its window is over (capture thread).
  void StartProcessProfile(uint64_t id, const RequestEnd& end,
                           const std::string& endpoint);
  void FinishProcessProfileIfDue();
  // How long the capture thread may wait before the open window ends.
  std::chrono::milliseconds NextWait() const;
  // Moves typical requests from TypicalRequestQueue into baselines_, with
  // their own samples from the history (capture thread).
  void TakeTypicalRequests();

  CpuSampler* const sampler_;
  SharedSymbolizer* const symbolizer_;
  CaptureStore* const captures_;

  std::mutex mu_;                         // SetEnabled
  std::shared_ptr<HistoryRing> history_;  // guarded by history_mu_
  mutable std::mutex history_mu_;
  std::atomic<bool> stopping_{false};
  std::thread thread_;
  std::unique_ptr<WallSampler> wall_;  // while enabled; guarded by mu_
  std::atomic<bool> enabled_{false};   // written under mu_
  std::atomic<uint64_t> captures_made_{0};
  std::atomic<uint64_t> partial_{0};
  HungRequestWatch hung_;  // capture thread only
  // Requests captured live, by request id: their capture ids (capture
  // thread only, and SetEnabled(false) after joining it).
  std::unordered_map<uint64_t, uint64_t> live_captures_;
  BaselineReservoir baselines_;  // thread-safe

  // The whole-process CPU profile after a capture (process_profile_ms).
  std::atomic<int> process_profile_ms_{0};                // Configure
  std::unique_ptr<CpuProfileRecorder> process_recorder_;  // history_mu_
  struct ProcessWindow {                                  // capture thread only
    uint64_t capture_id = 0;                              // 0: no window open
    int window_ms = 0;
    uint64_t start_ns = 0;
    uint64_t deadline_ns = 0;
    int64_t start_unix_nanos = 0;
    std::string about;  // the comment naming the request
  };
  ProcessWindow process_;
};

}  // namespace inprof::internal

#endif  // INPROF_AGENT_FLIGHT_FLIGHT_RECORDER_H_
