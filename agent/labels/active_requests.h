// ActiveRequests: which threads are inside a request right now, for the
// flight recorder's wall-clock sampler (agent/flight/wall_sampler.h), which
// signals only those threads. A thread takes a slot the first time it works
// for a timed request (auto-capture on) and gives it back when it exits;
// entering and leaving a request then costs two relaxed stores.
//
// Bounded: kSlots threads at once; a thread that finds no free slot is not
// wall-sampled (counted in overflows()).
//
// Ownership: one process-wide instance (Global()), constant-initialized and
// never destroyed.
// Thread safety: thread-safe and lock-free.
#ifndef INPROF_AGENT_LABELS_ACTIVE_REQUESTS_H_
#define INPROF_AGENT_LABELS_ACTIVE_REQUESTS_H_

#include <atomic>
#include <cstddef>
#include <cstdint>

namespace inprof::internal {

struct ActiveRequestSlot {
  std::atomic<uint32_t> tid{0};         // 0: free
  std::atomic<uint64_t> request_id{0};  // 0: not in a request
  // Set while the thread runs a request of its own (its outermost scope),
  // 0 while it works for an adopted one: when the request started and its
  // label set, for the flight recorder's hang watch (hung_requests.h).
  // Written before request_id; read with Snapshot().
  std::atomic<uint64_t> started_ns{0};
  std::atomic<uint64_t> label_set{0};
};

// One consistent reading of a slot's own request.
struct ActiveRequestSnapshot {
  uint32_t tid = 0;
  uint64_t request_id = 0;  // 0: none (or the slot changed while read)
  uint64_t started_ns = 0;  // 0: an adopted request
  uint64_t label_set = 0;
};

class ActiveRequests {
 public:
  static constexpr size_t kSlots = 1024;

  static ActiveRequests& Global();

  // The calling thread's slot, taken on first use; nullptr when all are
  // taken. Not async-signal-safe (the first call registers a thread-exit
  // hook).
  ActiveRequestSlot* ThisThread() noexcept;

  // The calling thread works for `request_id` (0: for none) from `now_ns`:
  // an adopted request (AdoptRequest). Entering a request also marks the
  // thread's wall time (thread_labels.h): its first wall sample stands for
  // the time since `now_ns`.
  void Enter(uint64_t request_id, uint64_t now_ns) noexcept;
  // The calling thread's own request (its outermost scope) starts.
  void EnterOwn(uint64_t request_id, uint64_t label_set,
                uint64_t now_ns) noexcept;
  void Leave() noexcept;
  // After an adoption: the thread works for `request_id` again (0: none),
  // if it has a slot. No clock read.
  void Restore(uint64_t request_id) noexcept;

  ActiveRequestSlot& slot(size_t i) { return slots_[i]; }
  // Slot i's request, its fields read consistently (request_id 0 if it
  // changed meanwhile). Lock-free.
  ActiveRequestSnapshot Snapshot(size_t i) const noexcept;
  uint64_t overflows() const {
    return overflows_.load(std::memory_order_relaxed);
  }

  constexpr ActiveRequests() = default;
  ActiveRequests(const ActiveRequests&) = delete;
  ActiveRequests& operator=(const ActiveRequests&) = delete;

 private:
  ActiveRequestSlot slots_[kSlots];
  std::atomic<uint64_t> overflows_{0};
};

}  // namespace inprof::internal

#endif  // INPROF_AGENT_LABELS_ACTIVE_REQUESTS_H_
