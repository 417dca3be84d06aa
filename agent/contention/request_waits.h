// RequestWaits: the block events (a thread waited on a lock, a condition
// variable, ...) of threads inside a request, handed from the contention
// hooks to the flight recorder (agent/flight/flight_recorder.h), which adds
// them to its history so that a slow request's capture also has its waits:
// how many and how long (Go's block profile's contentions/count and
// delay/nanoseconds), on the waiting stacks.
//
// HOOK CONTEXT. Push() runs inside the contention hooks, on any thread of
// the host, in its lock and unlock paths: no allocation, no locks, bounded
// stack (one slot is filled in place), lock-free. Off (the default), it
// costs one relaxed load.
//
// Ownership: one process-wide instance (Global()), constant-initialized and
// never destroyed: a hook may run on any thread at any time, also while the
// agent stops.
// Thread safety: Push from any thread; Drain from one thread at a time.
#ifndef INPROF_AGENT_CONTENTION_REQUEST_WAITS_H_
#define INPROF_AGENT_CONTENTION_REQUEST_WAITS_H_

#include <atomic>
#include <cstddef>
#include <cstdint>

#include "agent/contention/contention_table.h"

namespace inprof::internal {

struct RequestWait {
  uint64_t timestamp_ns;  // MonotonicNanos when the wait ended
  uint64_t request_id;
  uint64_t label_set;
  uint32_t tid;
  uint32_t depth;
  uint64_t count;        // unbiased events x kCountOne
  uint64_t delay_nanos;  // unbiased
  uint64_t pcs[kContentionMaxDepth];
};

class RequestWaits {
 public:
  static constexpr size_t kSlots = 256;

  static RequestWaits& Global();

  // Waits are kept only while enabled (auto-capture on).
  void SetEnabled(bool enabled) noexcept {
    enabled_.store(enabled, std::memory_order_relaxed);
  }
  bool enabled() const noexcept {
    return enabled_.load(std::memory_order_relaxed);
  }

  // Keeps a wait of the calling thread's request; false (counted) when
  // every slot is taken. Async-signal-safe and lock-free.
  bool Push(const uint64_t* pcs, int depth, uint64_t count,
            uint64_t delay_nanos) noexcept;

  // Hands each kept wait to `f` (in no particular order) and frees its slot.
  template <typename F>
  void Drain(F f) {
    for (Slot& slot : slots_) {
      if (slot.state.load(std::memory_order_acquire) != kReady) continue;
      f(static_cast<const RequestWait&>(slot.wait));
      slot.state.store(kFree, std::memory_order_release);
    }
  }

  uint64_t dropped() const noexcept {
    return dropped_.load(std::memory_order_relaxed);
  }

  constexpr RequestWaits() = default;
  RequestWaits(const RequestWaits&) = delete;
  RequestWaits& operator=(const RequestWaits&) = delete;

 private:
  enum : uint32_t { kFree = 0, kWriting = 1, kReady = 2 };
  struct Slot {
    std::atomic<uint32_t> state{kFree};
    RequestWait wait{};
  };

  std::atomic<bool> enabled_{false};
  std::atomic<uint64_t> cursor_{0};
  std::atomic<uint64_t> dropped_{0};
  Slot slots_[kSlots];
};

}  // namespace inprof::internal

#endif  // INPROF_AGENT_CONTENTION_REQUEST_WAITS_H_
