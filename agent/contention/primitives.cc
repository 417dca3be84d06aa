// The out-of-line halves of inprof::Mutex, SharedMutex and ConditionVariable
// (include/inprof/mutex.h): reached only when a lock is found taken, when an
// unlock has waiters to wake, or to wait on a condition. This is where waits
// are timed and handed to the contention profiler.
//
// Not a hook in the signal-handler sense: these run in ordinary thread
// context, but inside the host's locking, so they follow the same rules as
// the hooks they call (no allocation, no locks of ours).

#include <linux/futex.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include <cerrno>
#include <climits>

#include "agent/contention/contention_profiler.h"
#include "inprof/mutex.h"

namespace inprof {
namespace {

using internal::BeginContentionWait;
using internal::ChargeUnlock;
using internal::ContentionWait;
using internal::EndContentionWait;
using internal::HookBypass;
using internal::RecordMutexDelay;

// Spins before sleeping: a lock held for a few hundred nanoseconds is
// cheaper to wait for awake than through the kernel.
constexpr int kSpins = 64;

long Futex(std::atomic<uint32_t>& word, int op, uint32_t value,
           const timespec* timeout, uint32_t mask) {
  return syscall(SYS_futex, reinterpret_cast<uint32_t*>(&word), op, value,
                 timeout, nullptr, mask);
}

// The caller of the public, inline primitive: where recorded stacks start.
#define INPROF_CALLER() reinterpret_cast<uint64_t>(__builtin_return_address(0))

}  // namespace

namespace mutex_internal {

__attribute__((noinline)) void LockSlow(std::atomic<uint32_t>& state) noexcept {
  const uint64_t caller = INPROF_CALLER();
  for (int i = 0; i < kSpins; ++i) {
    uint32_t expected = 0;
    if (state.load(std::memory_order_relaxed) == 0 &&
        state.compare_exchange_weak(expected, 1, std::memory_order_acquire,
                                    std::memory_order_relaxed)) {
      return;
    }
    __builtin_ia32_pause();
  }
  // About to sleep: from here on the wait is timed (a spin is not, as in
  // Go). Drepper's "Futexes are tricky", mutex 3: mark the lock contended
  // (2) and sleep until an unlock finds 2 and wakes us.
  const int saved_errno = errno;  // a lock does not touch errno
  ContentionWait wait;
  BeginContentionWait(&state, wait);
  while (state.exchange(2, std::memory_order_acquire) != 0) {
    Futex(state, FUTEX_WAIT_PRIVATE, 2, nullptr, 0);
  }
  EndContentionWait(wait, caller);
  errno = saved_errno;
}

__attribute__((noinline)) void UnlockSlow(
    std::atomic<uint32_t>& state) noexcept {
  const uint64_t caller = INPROF_CALLER();
  const int saved_errno = errno;
  // The lock is already free; charge the waiting until now, then wake one.
  const uint64_t delay = ChargeUnlock(&state);
  Futex(state, FUTEX_WAKE_PRIVATE, 1, nullptr, 0);
  RecordMutexDelay(delay, caller);
  errno = saved_errno;
}

__attribute__((noinline)) void RwLockSlow(pthread_rwlock_t& rw,
                                          std::atomic<uint32_t>& waiters,
                                          bool exclusive) noexcept {
  const uint64_t caller = INPROF_CALLER();
  ContentionWait wait;
  BeginContentionWait(&rw, wait);
  waiters.fetch_add(1, std::memory_order_relaxed);
  {
    HookBypass bypass;  // the interposer must not count this wait again
    if (exclusive) {
      pthread_rwlock_wrlock(&rw);
    } else {
      pthread_rwlock_rdlock(&rw);
    }
  }
  waiters.fetch_sub(1, std::memory_order_relaxed);
  EndContentionWait(wait, caller);
}

__attribute__((noinline)) void RwUnlockSlow(pthread_rwlock_t& rw) noexcept {
  const uint64_t caller = INPROF_CALLER();
  const uint64_t delay = ChargeUnlock(&rw);
  {
    HookBypass bypass;
    pthread_rwlock_unlock(&rw);
  }
  RecordMutexDelay(delay, caller);
}

void CondWake(std::atomic<uint32_t>& sequence, int threads) noexcept {
  Futex(sequence, FUTEX_WAKE_PRIVATE,
        threads <= 0 ? INT_MAX : static_cast<uint32_t>(threads), nullptr, 0);
}

}  // namespace mutex_internal

__attribute__((noinline)) bool ConditionVariable::WaitUntil(
    Mutex& mutex, int64_t deadline_nanos, bool realtime) noexcept {
  const uint64_t caller = INPROF_CALLER();
  const int saved_errno = errno;
  ContentionWait wait;
  BeginContentionWait(nullptr, wait);
  // Read the sequence before unlocking: a notify after the unlock changes
  // it, and the futex then refuses to sleep.
  const uint32_t seen = sequence_.load(std::memory_order_seq_cst);
  waiters_.fetch_add(1, std::memory_order_seq_cst);
  mutex.unlock();
  timespec deadline;
  const timespec* timeout = nullptr;
  if (deadline_nanos >= 0) {
    deadline.tv_sec = deadline_nanos / 1000000000;
    deadline.tv_nsec = deadline_nanos % 1000000000;
    timeout = &deadline;
  }
  const int op =
      FUTEX_WAIT_BITSET_PRIVATE | (realtime ? FUTEX_CLOCK_REALTIME : 0);
  bool timed_out = false;
  if (Futex(sequence_, op, seen, timeout, FUTEX_BITSET_MATCH_ANY) != 0 &&
      errno == ETIMEDOUT) {
    timed_out = true;
  }
  waiters_.fetch_sub(1, std::memory_order_relaxed);
  {
    HookBypass bypass;  // relocking is part of this wait, not a second one
    mutex.lock();
  }
  EndContentionWait(wait, caller);
  errno = saved_errno;
  return !timed_out;
}

}  // namespace inprof
