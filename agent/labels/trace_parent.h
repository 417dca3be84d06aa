// The W3C Trace Context `traceparent` header
// (https://www.w3.org/TR/trace-context/#traceparent-header), parsed into the
// binary ids that inprof::SetRequestTraceParent keeps per request and the
// flight recorder shows as the labels trace_id / span_id (Grafana
// Pyroscope's keys).
//
//   traceparent = version "-" trace-id "-" parent-id "-" trace-flags
//   e.g.          00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01
//
// Thread safety: pure functions, thread-safe.
#ifndef INPROF_AGENT_LABELS_TRACE_PARENT_H_
#define INPROF_AGENT_LABELS_TRACE_PARENT_H_

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace inprof::internal {

struct TraceParent {
  uint8_t trace_id[16] = {};
  uint8_t span_id[8] = {};  // the spec's parent-id: the caller's span
  uint8_t flags = 0;        // bit 0: sampled
};

// Parses `header` as the spec's "Processing Model" says a vendor must: two
// lowercase hex digits of version other than "ff"; 32 lowercase hex of
// trace-id, 16 of parent-id, neither all zeros; 2 of flags. Version 00 is
// exactly 55 characters; a later version may carry more after a "-", which
// is ignored. Surrounding spaces and tabs (HTTP's OWS) are ignored. Returns
// nullopt for anything else. No allocation.
std::optional<TraceParent> ParseTraceParent(std::string_view header) noexcept;

// `bytes` as lowercase hex, two digits a byte (how the header writes ids).
std::string LowerHex(const uint8_t* bytes, size_t size);

}  // namespace inprof::internal

#endif  // INPROF_AGENT_LABELS_TRACE_PARENT_H_
