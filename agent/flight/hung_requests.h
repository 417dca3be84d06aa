// HungRequestWatch: finds requests still running at a multiple of their
// endpoint's threshold (AutoCaptureSettings::hang_multiple), so that the
// flight recorder captures a hang while it lasts instead of only when (if
// ever) it ends. Each request is reported once.
//
// It reads the ActiveRequests slots (agent/labels/active_requests.h): only a
// request's own thread (its outermost scope) carries its start, so a request
// is found as long as that thread is in it.
//
// Ownership: a value owned by the flight recorder's capture thread.
// Thread safety: thread-compatible (one thread scans).
#ifndef INPROF_AGENT_FLIGHT_HUNG_REQUESTS_H_
#define INPROF_AGENT_FLIGHT_HUNG_REQUESTS_H_

#include <cstdint>
#include <vector>

#include "agent/flight/autocapture_settings.h"
#include "agent/labels/request_observer.h"

namespace inprof::internal {

class HungRequestWatch {
 public:
  // The requests running at `now_ns` for hang_multiple x their threshold or
  // longer, not reported by an earlier Scan, as RequestEnds ending now.
  std::vector<RequestEnd> Scan(uint64_t now_ns,
                               const AutoCaptureSettings& settings);

 private:
  std::vector<uint64_t> reported_;  // request ids, of requests still running
};

}  // namespace inprof::internal

#endif  // INPROF_AGENT_FLIGHT_HUNG_REQUESTS_H_
