// The end of every outermost request, for whoever times them (the flight
// recorder, agent/flight/). While no observer is set, RequestScope reads no
// clock: timing costs two clock reads per request (BENCHMARKS.md), paid only
// while auto-capture is on.
#ifndef INPROF_AGENT_LABELS_REQUEST_OBSERVER_H_
#define INPROF_AGENT_LABELS_REQUEST_OBSERVER_H_

#include <cstdint>
#include <string>

#include "agent/labels/trace_parent.h"

namespace inprof::internal {

struct RequestEnd {
  uint64_t label_set = 0;  // the request's own (outermost scope's) set
  uint64_t request_id = 0;
  uint64_t start_ns = 0;  // MonotonicNanos at entry
  uint64_t end_ns = 0;    // MonotonicNanos at exit
  // The request's W3C trace context (inprof::SetRequestTraceParent), kept
  // here and not in its label set: ids are unique per request, and the label
  // registry interns every set forever.
  bool has_trace = false;
  uint8_t trace_id[16] = {};
  uint8_t span_id[8] = {};

  // As Grafana Pyroscope's labels trace_id and span_id want them: lowercase
  // hex, 32 and 16 characters. Meaningful only when has_trace.
  std::string trace_id_hex() const { return LowerHex(trace_id, 16); }
  std::string span_id_hex() const { return LowerHex(span_id, 8); }
};

// Called on the request's own thread as its outermost RequestScope ends:
// must be fast, must not block, must not throw.
using RequestObserver = void (*)(const RequestEnd& end) noexcept;

// Sets the observer (nullptr: none). Requests that started while none was
// set are not reported. The observer must stay callable for the life of the
// process: a request ending on another thread may still call the previous
// one just after this returns.
void SetRequestObserver(RequestObserver observer) noexcept;

// The current observer, or nullptr. Lock-free.
RequestObserver CurrentRequestObserver() noexcept;

}  // namespace inprof::internal

#endif  // INPROF_AGENT_LABELS_REQUEST_OBSERVER_H_
