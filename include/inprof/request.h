// -----------------------------------------------------------------------------
// File: inprof/request.h
// -----------------------------------------------------------------------------
//
// Request labels: wrap a request handler in one RequestScope and every
// profile (CPU, heap, allocs, mutex, block) knows which endpoint each of its
// samples belongs to, as the pprof label `endpoint`:
//
//   void HandleGetUser(const Request& request) {
//     inprof::RequestScope scope("GET /users");
//     ...
//   }
//
//   go tool pprof -tagfocus=endpoint=/users
//   http://127.0.0.1:6060/debug/pprof/profile
//
// More labels ride along with the endpoint:
//
//   inprof::RequestScope scope("GET /users", {{"tenant", "acme"}});
//
// A nested scope adds labels, or overrides those of the same key, until it
// ends; then the outer labels are back. Work handed to another thread keeps
// its request:
//
//   inprof::RequestHandle request = inprof::CurrentRequest();   // cheap copy
//   pool.Submit([request] {
//     inprof::AdoptRequest adopt(request);  // this thread works for it now
//     ...
//   });
//
// Label sets are interned once in a process-wide registry of at most
// kMaxLabelSets distinct sets; past it, new sets are shown as the single
// label endpoint="inprof.LabelSetsFull". Endpoints are meant to be routes
// ("GET /users/:id"), never raw URLs: one label set per distinct value.
// Keys and values longer than kMaxLabelBytes are cut to that length; a
// scope's set keeps at most kMaxLabelsPerSet labels (more: the overflow set).
//
// Cost: entering and leaving a scope whose labels were seen before is a hash
// and a lookup, no allocation and no lock: about 13 ns, 25 ns with an extra
// label or nested (BENCHMARKS.md, "Request labels"). The first use of
// a new set takes a lock and allocates it.
//
// Scopes work whether or not an Agent runs: labels are recorded only by
// samplers that are on, and cost nothing more when none is.
//
#ifndef INPROF_REQUEST_H_
#define INPROF_REQUEST_H_

#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <string_view>

#include "inprof/export.h"

namespace inprof {

// One extra label of a RequestScope. Copied into the registry at once; the
// strings need not outlive the scope's construction.
struct Label {
  std::string_view key;
  std::string_view value;
};

// Distinct label sets the process may have; later new sets share the
// overflow set.
inline constexpr size_t kMaxLabelSets = 4096;
// Labels in one set (the endpoint included).
inline constexpr size_t kMaxLabelsPerSet = 16;
// Bytes kept of one key or value.
inline constexpr size_t kMaxLabelBytes = 256;

// RequestHandle
//
// The request a thread is working for: its labels and its identity. A small
// value, cheap to copy and to hand to another thread; empty (`!valid()`)
// outside any request.
//
// Thread safety: thread-compatible (a value type).
class INPROF_EXPORT RequestHandle {
 public:
  RequestHandle() = default;

  // True when taken inside a RequestScope (or an AdoptRequest).
  bool valid() const { return request_id_ != 0; }
  // A process-unique number for the request, 0 when not valid. Nested
  // scopes keep their outer request's id.
  uint64_t request_id() const { return request_id_; }

  // The calling thread's current request (empty outside any). Lock-free.
  static RequestHandle Current() noexcept;

 private:
  friend class RequestScope;
  friend class AdoptRequest;
  RequestHandle(uint64_t label_set, uint64_t request_id)
      : label_set_(label_set), request_id_(request_id) {}

  uint64_t label_set_ = 0;
  uint64_t request_id_ = 0;
};

// The calling thread's current request (empty outside any). Lock-free.
inline RequestHandle CurrentRequest() noexcept {
  return RequestHandle::Current();
}

// Attaches a W3C Trace Context header value, `traceparent`
// ("00-<32 hex trace id>-<16 hex span id>-<2 hex flags>"), to the calling
// thread's current request, the one its outermost RequestScope started: a
// slow request's capture then carries the labels trace_id and span_id
// (Grafana Pyroscope's keys), so a trace leads to the request's profile.
//
//   inprof::RequestScope scope("GET /users/:id");
//   inprof::SetRequestTraceParent(request.header("traceparent"));
//
// The ids stay with the request, not in its label set: no limit on how many
// requests carry them, and profiles are not split by them. A later call
// replaces them; they end with the request.
//
// Returns true when attached; false, changing nothing, when `traceparent` is
// not valid per the spec (lowercase hex, ids not all zero, version not ff)
// or the thread is not inside a RequestScope of its own (outside any, or
// only adopting another thread's request). Lock-free, no allocation.
INPROF_EXPORT bool SetRequestTraceParent(std::string_view traceparent) noexcept;

// RequestScope
//
// RAII: from construction to destruction the calling thread's samples carry
// `endpoint` (label key "endpoint") and `labels`. An outermost scope starts a
// new request (a new request_id); a nested one keeps the request and adds or
// overrides labels. Scopes must end in the reverse order of their start on
// the thread that made them (as any stack object does).
//
// Thread safety: one thread (the one it was made on); not copyable or
// movable.
class INPROF_EXPORT RequestScope {
 public:
  explicit RequestScope(std::string_view endpoint) noexcept;
  RequestScope(std::string_view endpoint,
               std::initializer_list<Label> labels) noexcept;
  ~RequestScope();

  RequestScope(const RequestScope&) = delete;
  RequestScope& operator=(const RequestScope&) = delete;

 private:
  RequestHandle outer_;
};

// AdoptRequest
//
// RAII: the calling thread works for `request` (labels and identity) until
// destruction, then goes back to what it worked for before. Adopting an
// empty handle clears the labels for the region.
//
// Thread safety: one thread (the one it was made on); not copyable or
// movable.
class INPROF_EXPORT AdoptRequest {
 public:
  explicit AdoptRequest(const RequestHandle& request) noexcept;
  ~AdoptRequest();

  AdoptRequest(const AdoptRequest&) = delete;
  AdoptRequest& operator=(const AdoptRequest&) = delete;

 private:
  RequestHandle outer_;
};

}  // namespace inprof

#endif  // INPROF_REQUEST_H_
