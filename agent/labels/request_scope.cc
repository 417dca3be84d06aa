// inprof::RequestScope, inprof::AdoptRequest and inprof::RequestHandle
// (include/inprof/request.h): they set the thread's request record
// (agent/base/thread_labels.h) that every sampler reads. Also
// inprof::SetRequestTraceParent, whose ids only the request's end reports
// (RequestEnd): samplers never read them.
#include <atomic>
#include <cstring>
#include <optional>
#include <span>

#include "agent/base/clock.h"
#include "agent/base/thread_labels.h"
#include "agent/labels/active_requests.h"
#include "agent/labels/label_registry.h"
#include "agent/labels/request_observer.h"
#include "agent/labels/trace_parent.h"
#include "inprof/request.h"

namespace inprof {
namespace {

using internal::CurrentLabelSet;
using internal::CurrentRequestId;
using internal::SetCurrentLabelSet;
using internal::SetCurrentRequestId;

// Request ids are handed to threads in blocks, so that a new request costs
// no shared write.
constexpr uint64_t kIdBlock = 1024;
std::atomic<uint64_t> g_next_id_block{1};
inline
    __attribute__((tls_model("initial-exec"))) thread_local uint64_t t_next_id =
        0;
inline
    __attribute__((tls_model("initial-exec"))) thread_local uint64_t t_id_end =
        0;

uint64_t NewRequestId() noexcept {
  if (t_next_id == t_id_end) {
    t_next_id = g_next_id_block.fetch_add(kIdBlock, std::memory_order_relaxed);
    t_id_end = t_next_id + kIdBlock;
  }
  return t_next_id++;
}

std::atomic<internal::RequestObserver> g_observer{nullptr};

// The request this thread's outermost scope started last; only that thread
// may attach a trace context to it (SetRequestTraceParent).
inline
    __attribute__((tls_model("initial-exec"))) thread_local uint64_t t_own_id =
        0;
// The trace context of request t_trace_id. Keyed by the request instead of
// cleared at each scope's end: a new request has a new id, so it never sees
// an old request's ids, and a scope with no trace pays nothing to end.
inline __attribute__((
    tls_model("initial-exec"))) thread_local uint64_t t_trace_id = 0;
inline __attribute__((
    tls_model("initial-exec"))) thread_local internal::TraceParent t_trace;

void Enter(const RequestHandle& outer, uint64_t outer_label_set,
           std::string_view endpoint, std::span<const Label> labels) noexcept {
  SetCurrentLabelSet(internal::LabelRegistry::Global().Derive(
      outer_label_set, endpoint, labels));
  if (outer.valid()) return;
  const uint64_t id = NewRequestId();
  SetCurrentRequestId(id);
  t_own_id = id;
  if (g_observer.load(std::memory_order_relaxed) == nullptr) {
    internal::t_request_start_ns = 0;
    return;
  }
  internal::t_request_start_ns = internal::MonotonicNanos();
  // Wall-clock samples find the thread through its slot.
  internal::ActiveRequests::Global().EnterOwn(id, CurrentLabelSet(),
                                              internal::t_request_start_ns);
}

// An outermost scope ends: its observer, if it was timed, hears of it.
void Leave(const RequestHandle& outer) noexcept {
  if (outer.valid() || internal::t_request_start_ns == 0) return;
  internal::RequestEnd end;
  end.label_set = CurrentLabelSet();
  end.request_id = CurrentRequestId();
  end.start_ns = internal::t_request_start_ns;
  internal::t_request_start_ns = 0;
  if (t_trace_id == end.request_id) {
    end.has_trace = true;
    std::memcpy(end.trace_id, t_trace.trace_id, sizeof(end.trace_id));
    std::memcpy(end.span_id, t_trace.span_id, sizeof(end.span_id));
    t_trace_id = 0;
  }
  internal::ActiveRequests::Global().Leave();
  if (internal::RequestObserver observer =
          g_observer.load(std::memory_order_acquire)) {
    end.end_ns = internal::MonotonicNanos();
    observer(end);
  }
}

}  // namespace

namespace internal {

void SetRequestObserver(RequestObserver observer) noexcept {
  g_observer.store(observer, std::memory_order_release);
}

RequestObserver CurrentRequestObserver() noexcept {
  return g_observer.load(std::memory_order_acquire);
}

}  // namespace internal

bool SetRequestTraceParent(std::string_view traceparent) noexcept {
  const uint64_t id = CurrentRequestId();
  if (id == 0 || id != t_own_id) return false;
  const std::optional<internal::TraceParent> parsed =
      internal::ParseTraceParent(traceparent);
  if (!parsed) return false;
  t_trace = *parsed;
  t_trace_id = id;
  return true;
}

RequestHandle RequestHandle::Current() noexcept {
  return RequestHandle(CurrentLabelSet(), CurrentRequestId());
}

RequestScope::RequestScope(std::string_view endpoint) noexcept
    : outer_(RequestHandle::Current()) {
  Enter(outer_, outer_.label_set_, endpoint, {});
}

RequestScope::RequestScope(std::string_view endpoint,
                           std::initializer_list<Label> labels) noexcept
    : outer_(RequestHandle::Current()) {
  Enter(outer_, outer_.label_set_, endpoint,
        std::span<const Label>(labels.begin(), labels.size()));
}

RequestScope::~RequestScope() {
  Leave(outer_);
  SetCurrentLabelSet(outer_.label_set_);
  SetCurrentRequestId(outer_.request_id_);
}

AdoptRequest::AdoptRequest(const RequestHandle& request) noexcept
    : outer_(RequestHandle::Current()) {
  SetCurrentLabelSet(request.label_set_);
  SetCurrentRequestId(request.request_id_);
  // While requests are timed, the adopting thread's wall time is the
  // request's too.
  if (request.valid() &&
      g_observer.load(std::memory_order_relaxed) != nullptr) {
    internal::ActiveRequests::Global().Enter(request.request_id_,
                                             internal::MonotonicNanos());
  }
}

AdoptRequest::~AdoptRequest() {
  SetCurrentLabelSet(outer_.label_set_);
  SetCurrentRequestId(outer_.request_id_);
  internal::ActiveRequests::Global().Restore(outer_.request_id_);
}

}  // namespace inprof
