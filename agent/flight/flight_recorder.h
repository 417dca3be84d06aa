// FlightRecorder: while auto-capture is on, keeps the recent CPU samples of
// threads inside a request (HistoryRing), and turns each slow request
// (SlowRequestQueue, fed by RequestLatency) into a capture of its own
// samples from its start: a CPU profile of that request, its threads and
// the pool threads that adopted it, stored in the agent's CaptureStore with
// its endpoint, labels and duration (/debug/pprof/captures).
//
// CPU samples come from the agent's CpuSampler, subscribed to for as long as
// auto-capture is on (every thread's CPU timer runs, as during a profile).
// Wall-clock samples of blocked time come next (issue 14).
//
// Ownership: borrows the sampler, the symbolizer and the store, which
// outlive it. Thread safety: SetEnabled and stats are thread-safe; one
// capture thread of its own, started and joined by SetEnabled.
#ifndef INPROF_AGENT_FLIGHT_FLIGHT_RECORDER_H_
#define INPROF_AGENT_FLIGHT_FLIGHT_RECORDER_H_

#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <thread>

#include "agent/base/prometheus_text.h"
#include "agent/capture/capture_store.h"
#include "agent/cpu/cpu_sampler.h"
#include "agent/flight/history.h"
#include "agent/flight/wall_sampler.h"
#include "agent/labels/request_observer.h"
#include "agent/sources/shared_symbolizer.h"

namespace inprof::internal {

class FlightRecorder : private CpuSampleSink {
 public:
  // RawSamples of history kept while on (about 1 KiB each): 41 s of one
  // busy thread's samples at 100 Hz.
  static constexpr size_t kHistorySamples = 4096;

  FlightRecorder(CpuSampler* sampler, SharedSymbolizer* symbolizer,
                 CaptureStore* captures);
  FlightRecorder(const FlightRecorder&) = delete;
  FlightRecorder& operator=(const FlightRecorder&) = delete;
  ~FlightRecorder() override;

  // On: history kept, slow requests captured. Off: history freed, the
  // capture thread joined. Idempotent.
  void SetEnabled(bool enabled);

  struct Stats {
    uint64_t captures = 0;         // stored
    uint64_t history_samples = 0;  // kept since last enabled
    uint64_t partial = 0;          // captures whose start was overwritten
  };
  Stats stats() const;

  // inprof_slow_request_captures_total, inprof_slow_requests_dropped_total
  // {reason}, inprof_flight_history_samples_total.
  void WriteMetrics(PrometheusText& text) const;

  // The capture of `end` from `window` (exposed for tests).
  void Capture(const RequestEnd& end);

 private:
  void OnSample(const RawSample& sample) override;
  void OnLost(uint64_t count) override;
  void CaptureLoop();

  CpuSampler* const sampler_;
  SharedSymbolizer* const symbolizer_;
  CaptureStore* const captures_;

  std::mutex mu_;                         // SetEnabled
  std::shared_ptr<HistoryRing> history_;  // guarded by history_mu_
  mutable std::mutex history_mu_;
  std::atomic<bool> stopping_{false};
  std::thread thread_;
  std::unique_ptr<WallSampler> wall_;  // while enabled; guarded by mu_
  std::atomic<uint64_t> captures_made_{0};
  std::atomic<uint64_t> partial_{0};
};

}  // namespace inprof::internal

#endif  // INPROF_AGENT_FLIGHT_FLIGHT_RECORDER_H_
