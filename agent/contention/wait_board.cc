#include "agent/contention/wait_board.h"

// SIGNAL CONTEXT. Everything here runs inside lock and unlock of host code.
// See agent/unwind/unwind.h for the rules.

#include <sched.h>

namespace inprof::internal {
namespace {

// The guard is held for a few instructions; a holder that was preempted is
// waited for with sched_yield rather than burning the time slice.
void Acquire(WaitSlot& slot) noexcept {
  for (int spins = 0;; ++spins) {
    if (slot.guard.load(std::memory_order_relaxed) == 0 &&
        slot.guard.exchange(1, std::memory_order_acquire) == 0) {
      return;
    }
    if (spins < 64) {
      __builtin_ia32_pause();
    } else {
      sched_yield();
    }
  }
}

void Release(WaitSlot& slot) noexcept {
  slot.guard.store(0, std::memory_order_release);
}

}  // namespace

constinit WaitSlot WaitBoard::slots_[WaitBoard::kSlots] = {};

WaitSlot* WaitBoard::Register(const void* lock, uint64_t start_nanos) noexcept {
  const auto address = reinterpret_cast<uintptr_t>(lock);
  WaitSlot& slot = SlotFor(lock);
  Acquire(slot);
  const uintptr_t owner = slot.lock.load(std::memory_order_relaxed);
  if (owner != 0 && owner != address) {
    Release(slot);
    return nullptr;
  }
  if (owner == 0) {
    slot.lock.store(address, std::memory_order_relaxed);
    slot.waiters = 0;
    slot.charged_sum = 0;
    slot.last_charge = 0;
  }
  ++slot.waiters;
  slot.charged_sum += start_nanos;
  Release(slot);
  return &slot;
}

void WaitBoard::Unregister(WaitSlot* slot, uint64_t start_nanos) noexcept {
  Acquire(*slot);
  // Every waiter present at the last charge was charged up to it.
  const uint64_t charged_to =
      start_nanos > slot->last_charge ? start_nanos : slot->last_charge;
  slot->charged_sum -= charged_to;
  if (--slot->waiters == 0) {
    slot->lock.store(0, std::memory_order_relaxed);
  }
  Release(*slot);
}

void WaitBoard::ForgetAllAfterFork() noexcept {
  for (WaitSlot& slot : slots_) {
    if (slot.lock.load(std::memory_order_relaxed) == 0 &&
        slot.guard.load(std::memory_order_relaxed) == 0) {
      continue;  // nothing to forget
    }
    slot.lock.store(0, std::memory_order_relaxed);
    slot.waiters = 0;
    slot.charged_sum = 0;
    slot.last_charge = 0;
    slot.guard.store(0, std::memory_order_relaxed);
  }
}

uint64_t WaitBoard::ChargeSlow(WaitSlot& slot, const void* lock,
                               uint64_t now_nanos) noexcept {
  Acquire(slot);
  uint64_t delay = 0;
  if (slot.lock.load(std::memory_order_relaxed) ==
          reinterpret_cast<uintptr_t>(lock) &&
      slot.waiters > 0) {
    const uint64_t charged_now = now_nanos * slot.waiters;
    // Modular arithmetic: the sum may wrap. A waiter's start read on another
    // CPU may be a hair later than this thread's now: a "negative" delay.
    delay = charged_now - slot.charged_sum;
    if (delay > (uint64_t{1} << 62)) delay = 0;
    slot.charged_sum = charged_now;
    slot.last_charge = now_nanos;
  }
  Release(slot);
  return delay;
}

}  // namespace inprof::internal
