// WaitBoard pairs the two ends of a contended lock, so that the mutex profile
// can charge waiting to the critical section that caused it (Go's semantics,
// pprof-spec.md §2.11): a thread that finds a lock taken registers on the
// board under the lock's address before it blocks; the thread that unlocks
// looks the address up and is charged the time every registered waiter spent
// waiting since the previous charge. Summed over unlocks, the charges equal
// the waiters' total waiting time (1 s held with 5 waiters → 5 s), each unlock
// getting the part that fell into its own critical section.
//
// The board is a fixed, direct-mapped array indexed by a hash of the lock's
// address, in static storage (zero-initialized: usable before any
// constructor runs and after every destructor). A waiter whose slot is held
// by another lock's waiters is not registered; its time then reaches the
// mutex profile through the waiter itself (see Register()).
//
// Thread safety: all functions are thread-safe, lock-free for the unlocking
// fast path (one relaxed load); a slot's bookkeeping is guarded by a
// per-slot spin flag held for a few instructions.
#ifndef INPROF_AGENT_CONTENTION_WAIT_BOARD_H_
#define INPROF_AGENT_CONTENTION_WAIT_BOARD_H_

// SIGNAL CONTEXT. Runs inside lock and unlock of any code in the process,
// including allocators that lock: no allocation, no locks but the slot's own
// spin flag, no stdio. See agent/unwind/unwind.h for the rules.

#include <atomic>
#include <cstdint>

namespace inprof::internal {

struct WaitSlot {
  std::atomic<uintptr_t> lock;  // the lock waited on; 0 when free
  std::atomic<uint32_t> guard;  // spin flag for the fields below
  uint32_t waiters;             // registered waiters of `lock`
  uint64_t charged_sum;         // sum of each waiter's "charged up to" time
  uint64_t last_charge;         // time of the last charge (0: none yet)
};

class WaitBoard {
 public:
  static constexpr uint32_t kSlots = 1u << 13;

  // Registers a waiter of `lock` that started waiting at `start_nanos`.
  // Returns its slot, to be passed to Unregister(), or nullptr when the slot
  // belongs to another lock's waiters.
  static WaitSlot* Register(const void* lock, uint64_t start_nanos) noexcept;

  // Removes a waiter registered at `start_nanos` (it holds the lock now, or
  // gave up).
  static void Unregister(WaitSlot* slot, uint64_t start_nanos) noexcept;

  // Called by the thread about to unlock `lock`: the waiting time of its
  // registered waiters since the last charge, in nanoseconds; 0 (after one
  // relaxed load) when nobody waits.
  static uint64_t Charge(const void* lock, uint64_t now_nanos) noexcept {
    WaitSlot& slot = SlotFor(lock);
    if (slot.lock.load(std::memory_order_relaxed) !=
        reinterpret_cast<uintptr_t>(lock)) {
      return 0;
    }
    return ChargeSlow(slot, lock, now_nanos);
  }

  // In a forked child, forgets every waiter: they were the parent's other
  // threads, which the child does not have (and one may have held a slot's
  // guard at the fork). Only in the child, before it has more than one
  // thread.
  static void ForgetAllAfterFork() noexcept;

  // True if `lock` has registered waiters (a hint: it may change at once).
  static bool HasWaiters(const void* lock) noexcept {
    return SlotFor(lock).lock.load(std::memory_order_relaxed) ==
           reinterpret_cast<uintptr_t>(lock);
  }

 private:
  static WaitSlot& SlotFor(const void* lock) noexcept {
    uint64_t h = (reinterpret_cast<uint64_t>(lock) >> 3) * 0x9E3779B97F4A7C15u;
    return slots_[h >> (64 - 13)];
  }
  static uint64_t ChargeSlow(WaitSlot& slot, const void* lock,
                             uint64_t now_nanos) noexcept;

  static WaitSlot slots_[kSlots];
};

}  // namespace inprof::internal

#endif  // INPROF_AGENT_CONTENTION_WAIT_BOARD_H_
