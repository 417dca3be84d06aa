#include "agent/contention/request_waits.h"

// SIGNAL CONTEXT. Push() runs inside the contention hooks, on any thread,
// in the host's lock paths (see the header): no allocation, no locks.

#include <sys/syscall.h>
#include <unistd.h>

#include "agent/base/clock.h"
#include "agent/base/thread_labels.h"

namespace inprof::internal {
namespace {

constinit RequestWaits g_request_waits;

}  // namespace

RequestWaits& RequestWaits::Global() { return g_request_waits; }

bool RequestWaits::Push(const uint64_t* pcs, int depth, uint64_t count,
                        uint64_t delay_nanos) noexcept {
  const uint64_t request_id = CurrentRequestId();
  if (request_id == 0 || !enabled()) return false;
  // A slot in turn; a slot still being written or not yet drained is not
  // waited for: the wait is dropped and counted.
  Slot& slot = slots_[cursor_.fetch_add(1, std::memory_order_relaxed) % kSlots];
  uint32_t expected = kFree;
  if (!slot.state.compare_exchange_strong(expected, kWriting,
                                          std::memory_order_acquire)) {
    dropped_.fetch_add(1, std::memory_order_relaxed);
    return false;
  }
  RequestWait& wait = slot.wait;
  wait.timestamp_ns = MonotonicNanos();
  wait.request_id = request_id;
  wait.label_set = CurrentLabelSet();
  wait.tid = static_cast<uint32_t>(syscall(SYS_gettid));
  const int kept = depth < kContentionMaxDepth ? depth : kContentionMaxDepth;
  wait.depth = static_cast<uint32_t>(kept > 0 ? kept : 0);
  for (int i = 0; i < kept; ++i) wait.pcs[i] = pcs[i];
  wait.count = count;
  wait.delay_nanos = delay_nanos;
  slot.state.store(kReady, std::memory_order_release);
  return true;
}

}  // namespace inprof::internal
