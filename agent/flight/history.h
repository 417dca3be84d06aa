// HistoryRing: the recent CPU samples of threads inside a request (their
// RawSample.request_id is set), so that a request found slow when it ends
// can still be given its own samples from its first moment (the flight
// recorder keeps history; a trigger would fire too late: LESSONS.md).
// Samples outside any request are not kept. A request ending under its
// threshold costs nothing here: its samples are overwritten in turn.
//
// Memory: `capacity` RawSamples (about 1 KiB each), allocated at
// construction, only while auto-capture is on.
//
// Thread safety: thread-safe (one mutex; Add runs on the sampler's
// collector thread, ForRequest on the capture thread).
#ifndef INPROF_AGENT_FLIGHT_HISTORY_H_
#define INPROF_AGENT_FLIGHT_HISTORY_H_

#include <cstddef>
#include <cstdint>
#include <mutex>
#include <vector>

#include "agent/cpu/raw_sample.h"

namespace inprof::internal {

class HistoryRing {
 public:
  explicit HistoryRing(size_t capacity) : samples_(capacity) {}

  // Keeps `sample` if it belongs to a request, overwriting the oldest.
  void Add(const RawSample& sample);

  struct Window {
    std::vector<RawSample> samples;  // of the request, oldest first
    // The oldest sample still held when the request's start is older: its
    // first samples may have been overwritten (0: history reaches back).
    uint64_t history_starts_ns = 0;
  };
  // The samples of request `request_id` taken at or after `since_ns`.
  Window ForRequest(uint64_t request_id, uint64_t since_ns) const;

  uint64_t kept() const;  // samples added since construction
  size_t capacity() const { return samples_.size(); }

 private:
  mutable std::mutex mu_;
  std::vector<RawSample> samples_;  // guarded by mu_; a ring
  size_t next_ = 0;                 // guarded by mu_: the slot to write
  uint64_t kept_ = 0;               // guarded by mu_
};

}  // namespace inprof::internal

#endif  // INPROF_AGENT_FLIGHT_HISTORY_H_
