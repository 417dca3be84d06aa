// Baselines: what a typical request of each endpoint does, so that a slow
// request's capture can be diffed against "a normal request of the same
// endpoint" (issue 14 item 5): /debug/pprof/captures/ID?baseline=1.
//
// Two pieces:
//
//   TypicalRequestQueue  the hand-off from the requests' own threads.
//                        RequestLatency offers it every request that ended
//                        under its threshold; it keeps at most one per label
//                        set per second (and 64 a second in all), chosen
//                        with an atomic load or two on the path of all the
//                        others (no lock, no clock read).
//   BaselineReservoir    per endpoint, the own samples of its last K typical
//                        requests (taken from the flight recorder's history
//                        as a capture's are), bounded in requests, endpoints
//                        and bytes; built into a profile normalized to one
//                        request.
//
// The flight recorder moves requests from the queue into the reservoir (on
// its capture thread) and builds a baseline's profile when one is asked for
// (flight_recorder.h).
#ifndef INPROF_AGENT_FLIGHT_BASELINES_H_
#define INPROF_AGENT_FLIGHT_BASELINES_H_

#include <array>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "agent/cpu/raw_sample.h"
#include "agent/flight/capture_profile.h"
#include "agent/labels/label_registry.h"
#include "agent/labels/request_observer.h"
#include "agent/profile/profile.h"

namespace inprof::internal {

class Symbolizer;

// TypicalRequestQueue
//
// Requests that ended under their threshold, handed from their own threads
// to the flight recorder's thread. Rate-limited where they arrive: per label
// set, the first request to end at least kIntervalNanos after the last one
// taken is taken; the others cost one relaxed atomic load. So that requests
// with label sets of their own (a trace id each) cannot take the lock on
// every request, all label sets together are also held to one request per
// kSpacingNanos. A taken request is queued under a short mutex; with
// kMaxQueued waiting it is counted and dropped.
//
// Ownership: Global() is process-wide and never destroyed (a request may end
// on any thread at any time, also while the agent stops); tests may make
// their own. Thread safety: thread-safe.
class TypicalRequestQueue {
 public:
  static constexpr uint64_t kIntervalNanos = 1'000'000'000;
  static constexpr uint64_t kSpacingNanos = kIntervalNanos / 64;
  static constexpr size_t kMaxQueued = 32;

  static TypicalRequestQueue& Global();

  // RequestLatency's typical-request sink: Global().Offer(end).
  static void OfferToGlobal(const RequestEnd& end) noexcept;

  // Queues `end` if its label set's interval and the overall spacing have
  // passed (see above). Returns true if queued. Never blocks for long; does
  // not allocate.
  bool Offer(const RequestEnd& end) noexcept;

  // Every queued request, oldest first; the queue is then empty.
  std::vector<RequestEnd> TakeAll();

  struct Stats {
    uint64_t queued = 0;
    uint64_t queue_full = 0;  // taken by the rate, but kMaxQueued waiting
  };
  Stats stats() const;

  TypicalRequestQueue() = default;
  TypicalRequestQueue(const TypicalRequestQueue&) = delete;
  TypicalRequestQueue& operator=(const TypicalRequestQueue&) = delete;

 private:
  static constexpr size_t kSets = kMaxLabelSets + 2;  // ids 0..kSets-1

  // Per label set, and for all: the end time before which requests are not
  // taken.
  std::array<std::atomic<uint64_t>, kSets> next_ns_ = {};
  std::atomic<uint64_t> next_any_ns_{0};
  mutable std::mutex mu_;
  std::array<RequestEnd, kMaxQueued> queue_;  // guarded by mu_
  size_t queued_ = 0;                         // guarded by mu_
  Stats stats_;                               // guarded by mu_
};

// BaselineReservoir
//
// Per endpoint, the samples of its last `requests_per_endpoint` typical
// requests (a request without samples counts too: it cost less than a
// sampling period), at most one per `min_interval_ns` of their end times.
// Bounded: at most `max_endpoints` endpoints (the one fed least recently is
// dropped for a new one) and `max_bytes_per_endpoint` of samples each (the
// oldest requests are dropped until the newest fits; a request larger than
// that alone is not kept). Samples are kept without their unused stack
// slots and without their labels (a baseline is an average: one request's
// trace id means nothing in it).
//
// Ownership: owns copies of the samples. Thread safety: thread-safe.
class BaselineReservoir {
 public:
  struct Limits {
    size_t requests_per_endpoint = 8;
    size_t max_endpoints = 32;
    size_t max_bytes_per_endpoint = size_t{128} << 10;
    uint64_t min_interval_ns = TypicalRequestQueue::kIntervalNanos;
  };

  BaselineReservoir() : BaselineReservoir(Limits{}) {}
  explicit BaselineReservoir(Limits limits) : limits_(limits) {}
  BaselineReservoir(const BaselineReservoir&) = delete;
  BaselineReservoir& operator=(const BaselineReservoir&) = delete;

  // Keeps typical request `end` of `endpoint` with `samples`, its own (as
  // HistoryRing::ForRequest returns them). Returns false, keeping nothing,
  // when it ended within min_interval_ns of the endpoint's last kept
  // request or is larger than max_bytes_per_endpoint alone.
  bool Add(const std::string& endpoint, const RequestEnd& end,
           const std::vector<RawSample>& samples);

  // True once `endpoint` has at least one typical request.
  bool Has(std::string_view endpoint) const;

  // The typical requests of one endpoint, all their samples together.
  struct Snapshot {
    size_t requests = 0;
    uint64_t first_start_ns = 0;     // MonotonicNanos of the oldest's start
    uint64_t last_end_ns = 0;        // and of the newest's end
    uint64_t total_duration_ns = 0;  // summed over the requests
    std::vector<RawSample> samples;  // label_set 0
  };
  // nullopt when `endpoint` has no typical request yet.
  std::optional<Snapshot> Get(std::string_view endpoint) const;

  struct Stats {
    uint64_t kept = 0;
    uint64_t too_soon = 0;   // within min_interval_ns of the last kept
    uint64_t too_large = 0;  // over max_bytes_per_endpoint alone
    size_t endpoints = 0;
    size_t bytes = 0;  // of samples, all endpoints
  };
  Stats stats() const;

 private:
  // A RawSample without its unused stack slots: every field before `pcs`
  // copied whole (as HistoryRing keeps them, so that a field added there is
  // kept without a change here), then its `depth` program counters.
  struct Compact {
    std::array<unsigned char, offsetof(RawSample, pcs)> head;
    std::vector<uint64_t> pcs;
  };
  struct Request {
    uint64_t start_ns = 0;
    uint64_t end_ns = 0;
    size_t bytes = 0;
    std::vector<Compact> samples;
  };
  struct Endpoint {
    std::deque<Request> requests;  // oldest first
    size_t bytes = 0;
    uint64_t last_end_ns = 0;  // of the newest kept
  };

  static Request Compacted(const RequestEnd& end,
                           const std::vector<RawSample>& samples);
  void EvictEndpointLocked();

  const Limits limits_;
  mutable std::mutex mu_;
  std::map<std::string, Endpoint, std::less<>> endpoints_;  // guarded by mu_
  Stats stats_;                                             // guarded by mu_
};

// What a baseline's profile says about itself.
struct BaselineProfileInfo {
  std::string endpoint;
  int hz = 100;                 // the CPU sampling rate
  int64_t threshold_nanos = 0;  // the endpoint's, for the comments
};

// The profile of `snapshot`, shaped as a request's capture
// (BuildRequestCapture: samples/count, cpu/nanoseconds, wall/nanoseconds)
// and normalized to one request: every value divided by
// snapshot.requests, rounded to the nearest integer (a stack seen less than
// once per request keeps its nanoseconds but may read 0 samples); samples
// whose values all round to 0 are left out. Its duration is the requests'
// mean, its comments say how many requests over what period.
Profile BuildBaselineProfile(const BaselineReservoir::Snapshot& snapshot,
                             const BaselineProfileInfo& info,
                             Symbolizer* symbolizer);

}  // namespace inprof::internal

#endif  // INPROF_AGENT_FLIGHT_BASELINES_H_
