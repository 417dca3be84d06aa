// inprof::RequestScope, inprof::AdoptRequest and inprof::RequestHandle
// (include/inprof/request.h): they set the thread's request record
// (agent/base/thread_labels.h) that every sampler reads.
#include <atomic>
#include <span>

#include "agent/base/clock.h"
#include "agent/base/thread_labels.h"
#include "agent/labels/active_requests.h"
#include "agent/labels/label_registry.h"
#include "agent/labels/request_observer.h"
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

void Enter(const RequestHandle& outer, uint64_t outer_label_set,
           std::string_view endpoint, std::span<const Label> labels) noexcept {
  SetCurrentLabelSet(internal::LabelRegistry::Global().Derive(
      outer_label_set, endpoint, labels));
  if (outer.valid()) return;
  const uint64_t id = NewRequestId();
  SetCurrentRequestId(id);
  if (g_observer.load(std::memory_order_relaxed) == nullptr) {
    internal::t_request_start_ns = 0;
    return;
  }
  internal::t_request_start_ns = internal::MonotonicNanos();
  // Wall-clock samples find the thread through its slot.
  internal::ActiveRequests::Global().Enter(id, internal::t_request_start_ns);
}

// An outermost scope ends: its observer, if it was timed, hears of it.
void Leave(const RequestHandle& outer) noexcept {
  if (outer.valid() || internal::t_request_start_ns == 0) return;
  internal::RequestEnd end;
  end.label_set = CurrentLabelSet();
  end.request_id = CurrentRequestId();
  end.start_ns = internal::t_request_start_ns;
  internal::t_request_start_ns = 0;
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
