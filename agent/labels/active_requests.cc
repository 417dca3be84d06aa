#include "agent/labels/active_requests.h"

#include <sys/syscall.h>
#include <unistd.h>

#include "agent/base/thread_labels.h"

namespace inprof::internal {
namespace {

constinit ActiveRequests g_active;

// Gives the slot back when its thread exits.
struct SlotOwner {
  ActiveRequestSlot* slot = nullptr;
  ~SlotOwner() {
    if (slot == nullptr) return;
    slot->request_id.store(0, std::memory_order_relaxed);
    slot->tid.store(0, std::memory_order_release);
  }
};

thread_local SlotOwner t_owner;  // touched only when a slot is taken
// The same slot, read without the dynamic-TLS cost of t_owner.
__attribute__((tls_model(
    "initial-exec"))) thread_local ActiveRequestSlot* t_slot = nullptr;
__attribute__((tls_model("initial-exec"))) thread_local bool t_no_slot = false;

}  // namespace

ActiveRequests& ActiveRequests::Global() { return g_active; }

ActiveRequestSlot* ActiveRequests::ThisThread() noexcept {
  if (t_slot != nullptr) return t_slot;
  if (t_no_slot) return nullptr;
  const uint32_t tid = static_cast<uint32_t>(syscall(SYS_gettid));
  for (ActiveRequestSlot& slot : slots_) {
    uint32_t free = 0;
    if (slot.tid.load(std::memory_order_relaxed) == 0 &&
        slot.tid.compare_exchange_strong(free, tid,
                                         std::memory_order_acq_rel)) {
      t_owner.slot = &slot;
      t_slot = &slot;
      return &slot;
    }
  }
  t_no_slot = true;  // do not search again on every request
  overflows_.fetch_add(1, std::memory_order_relaxed);
  return nullptr;
}

void ActiveRequests::Enter(uint64_t request_id, uint64_t now_ns) noexcept {
  ActiveRequestSlot* slot = ThisThread();
  if (slot == nullptr) return;
  MarkWallTime(now_ns);
  slot->started_ns.store(0, std::memory_order_release);
  slot->request_id.store(request_id, std::memory_order_release);
}

void ActiveRequests::EnterOwn(uint64_t request_id, uint64_t label_set,
                              uint64_t now_ns) noexcept {
  ActiveRequestSlot* slot = ThisThread();
  if (slot == nullptr) return;
  // Release stores (plain moves on x86): a reader that sees this request's
  // start also sees the previous request's id gone (Snapshot).
  MarkWallTime(now_ns);
  slot->started_ns.store(now_ns, std::memory_order_release);
  slot->label_set.store(label_set, std::memory_order_release);
  slot->request_id.store(request_id, std::memory_order_release);
}

ActiveRequestSnapshot ActiveRequests::Snapshot(size_t i) const noexcept {
  const ActiveRequestSlot& slot = slots_[i];
  ActiveRequestSnapshot snapshot;
  snapshot.tid = slot.tid.load(std::memory_order_acquire);
  const uint64_t id = slot.request_id.load(std::memory_order_acquire);
  if (snapshot.tid == 0 || id == 0) return snapshot;
  snapshot.started_ns = slot.started_ns.load(std::memory_order_acquire);
  snapshot.label_set = slot.label_set.load(std::memory_order_acquire);
  // Fields of a later request come with its id stored after them: the id
  // read again is then no longer `id`.
  if (slot.request_id.load(std::memory_order_acquire) == id) {
    snapshot.request_id = id;
  }
  return snapshot;
}

void ActiveRequests::Restore(uint64_t request_id) noexcept {
  if (t_slot != nullptr) {
    t_slot->request_id.store(request_id, std::memory_order_release);
  }
}

void ActiveRequests::Leave() noexcept {
  if (t_slot != nullptr) t_slot->request_id.store(0, std::memory_order_release);
}

}  // namespace inprof::internal
