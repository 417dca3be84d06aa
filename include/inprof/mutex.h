// -----------------------------------------------------------------------------
// File: inprof/mutex.h
// -----------------------------------------------------------------------------
//
// Drop-in locks whose contention shows up in the agent's /debug/pprof/mutex
// and /debug/pprof/block profiles (Go's semantics):
//
//   - block: where threads waited for a lock or a condition, and how long;
//   - mutex: whose critical sections made others wait, and how long in all
//     (the stack that unlocked, charged with its waiters' waiting time).
//
// Example:
//
//   inprof::Mutex mu;
//   inprof::ConditionVariable ready_cv;
//   {
//     std::unique_lock<inprof::Mutex> lock(mu);
//     ready_cv.wait(lock, [&] { return ready; });
//   }
//   inprof::SharedMutex table_mu;
//   std::shared_lock<inprof::SharedMutex> read(table_mu);
//
// The uncontended paths are inline and cost what std::mutex's do; only a
// thread that finds the lock taken enters the library, where the wait is
// timed and, at the configured rates, sampled with its stack. Without a
// running agent they are plain locks. For std::mutex and locks inside
// third-party code, link or preload the pthread interposer (README,
// "Contention profiles").
//
#ifndef INPROF_MUTEX_H_
#define INPROF_MUTEX_H_

#include <pthread.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <type_traits>
#include <utility>

#include "inprof/export.h"

// ThreadSanitizer learns what Mutex does through its annotations (GCC
// defines __SANITIZE_THREAD__, Clang answers __has_feature).
#if defined(__SANITIZE_THREAD__)
#define INPROF_MUTEX_TSAN 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define INPROF_MUTEX_TSAN 1
#endif
#endif

#if defined(INPROF_MUTEX_TSAN)
#include <sanitizer/tsan_interface.h>
#define INPROF_TSAN_MUTEX(call) call
#else
#define INPROF_TSAN_MUTEX(call) static_cast<void>(0)
#endif

namespace inprof {

namespace mutex_internal {
// The library's side of the primitives below; not for direct use.
INPROF_EXPORT void LockSlow(std::atomic<uint32_t>& state) noexcept;
INPROF_EXPORT void UnlockSlow(std::atomic<uint32_t>& state) noexcept;
INPROF_EXPORT void RwLockSlow(pthread_rwlock_t& rw,
                              std::atomic<uint32_t>& waiters,
                              bool exclusive) noexcept;
INPROF_EXPORT void RwUnlockSlow(pthread_rwlock_t& rw) noexcept;
INPROF_EXPORT void CondWake(std::atomic<uint32_t>& sequence,
                            int threads) noexcept;

// Placed after a slow-path call, so that the call is never compiled into a
// jump (a sibling call) when the lock or unlock ends the caller's function:
// the caller's frame then stays in the profile's stack.
inline void KeepCallerFrame() noexcept { asm volatile("" ::: "memory"); }
}  // namespace mutex_internal

// Mutex
//
// A non-recursive mutex with std::mutex's interface (lock, try_lock,
// unlock), so std::lock_guard, std::unique_lock and std::scoped_lock work.
// Three states in one word, as in glibc's own: unlocked, locked, locked with
// waiters; a waiter sleeps in the kernel (futex) after a short spin.
//
// Ownership: no resources; destroy it unlocked.
// Thread safety: thread-safe (that is its purpose).
class Mutex {
 public:
  constexpr Mutex() noexcept = default;
  Mutex(const Mutex&) = delete;
  Mutex& operator=(const Mutex&) = delete;

  void lock() noexcept {
    INPROF_TSAN_MUTEX(__tsan_mutex_pre_lock(this, 0));
    uint32_t expected = 0;
    if (!state_.compare_exchange_strong(expected, 1, std::memory_order_acquire,
                                        std::memory_order_relaxed))
        [[unlikely]] {
      mutex_internal::LockSlow(state_);
      mutex_internal::KeepCallerFrame();
    }
    INPROF_TSAN_MUTEX(__tsan_mutex_post_lock(this, 0, 0));
  }

  bool try_lock() noexcept {
    INPROF_TSAN_MUTEX(__tsan_mutex_pre_lock(this, __tsan_mutex_try_lock));
    uint32_t expected = 0;
    const bool locked = state_.compare_exchange_strong(
        expected, 1, std::memory_order_acquire, std::memory_order_relaxed);
    INPROF_TSAN_MUTEX(__tsan_mutex_post_lock(
        this, locked ? __tsan_mutex_try_lock : __tsan_mutex_try_lock_failed,
        0));
    return locked;
  }

  void unlock() noexcept {
    INPROF_TSAN_MUTEX(__tsan_mutex_pre_unlock(this, 0));
    if (state_.exchange(0, std::memory_order_release) != 1) [[unlikely]] {
      mutex_internal::UnlockSlow(state_);  // someone waits: wake them
      mutex_internal::KeepCallerFrame();
    }
    INPROF_TSAN_MUTEX(__tsan_mutex_post_unlock(this, 0));
  }

 private:
  // 0 unlocked, 1 locked, 2 locked and a thread may be sleeping on it.
  std::atomic<uint32_t> state_{0};
};

// SharedMutex
//
// A reader-writer lock with std::shared_mutex's interface, so
// std::shared_lock, std::unique_lock and std::lock_guard work. Built on
// pthread_rwlock_t (readers preferred, as std::shared_mutex on glibc); a
// blocked reader or writer is timed and sampled like a Mutex waiter.
//
// Ownership: owns its pthread_rwlock_t; destroy it unlocked.
// Thread safety: thread-safe.
class SharedMutex {
 public:
  SharedMutex() noexcept = default;
  ~SharedMutex() { pthread_rwlock_destroy(&rw_); }
  SharedMutex(const SharedMutex&) = delete;
  SharedMutex& operator=(const SharedMutex&) = delete;

  void lock() noexcept {
    if (pthread_rwlock_trywrlock(&rw_) != 0) [[unlikely]] {
      mutex_internal::RwLockSlow(rw_, waiters_, /*exclusive=*/true);
      mutex_internal::KeepCallerFrame();
    }
  }
  bool try_lock() noexcept { return pthread_rwlock_trywrlock(&rw_) == 0; }
  void unlock() noexcept { Release(); }

  void lock_shared() noexcept {
    if (pthread_rwlock_tryrdlock(&rw_) != 0) [[unlikely]] {
      mutex_internal::RwLockSlow(rw_, waiters_, /*exclusive=*/false);
      mutex_internal::KeepCallerFrame();
    }
  }
  bool try_lock_shared() noexcept {
    return pthread_rwlock_tryrdlock(&rw_) == 0;
  }
  void unlock_shared() noexcept { Release(); }

 private:
  void Release() noexcept {
    if (waiters_.load(std::memory_order_relaxed) != 0) [[unlikely]] {
      mutex_internal::RwUnlockSlow(rw_);  // charges the waiters' delay
      mutex_internal::KeepCallerFrame();
    } else {
      pthread_rwlock_unlock(&rw_);
    }
  }

  pthread_rwlock_t rw_ = PTHREAD_RWLOCK_INITIALIZER;
  std::atomic<uint32_t> waiters_{0};  // threads blocked in RwLockSlow
};

// ConditionVariable
//
// std::condition_variable for inprof::Mutex: wait, wait_for, wait_until
// (with or without a predicate), notify_one, notify_all. The time a thread
// spends waiting is in the block profile, like Go's sync.Cond.Wait.
// Spurious wake-ups are possible, as with std::condition_variable: use the
// predicate forms.
//
// Ownership: no resources; destroy it with no waiter.
// Thread safety: thread-safe.
class ConditionVariable {
 public:
  constexpr ConditionVariable() noexcept = default;
  ConditionVariable(const ConditionVariable&) = delete;
  ConditionVariable& operator=(const ConditionVariable&) = delete;

  void notify_one() noexcept { Wake(1); }
  void notify_all() noexcept { Wake(0); }

  // `lock` must hold its Mutex; it holds it again on return.
  void wait(std::unique_lock<Mutex>& lock) noexcept {
    WaitUntil(*lock.mutex(), -1, false);
  }
  template <typename Predicate>
  void wait(std::unique_lock<Mutex>& lock, Predicate ready) {
    while (!ready()) wait(lock);
  }

  template <typename Clock, typename Duration>
  std::cv_status wait_until(
      std::unique_lock<Mutex>& lock,
      const std::chrono::time_point<Clock, Duration>& deadline) {
    return WaitUntilTimePoint(lock, deadline) ? std::cv_status::no_timeout
                                              : std::cv_status::timeout;
  }
  template <typename Clock, typename Duration, typename Predicate>
  bool wait_until(std::unique_lock<Mutex>& lock,
                  const std::chrono::time_point<Clock, Duration>& deadline,
                  Predicate ready) {
    while (!ready()) {
      if (wait_until(lock, deadline) == std::cv_status::timeout) {
        return ready();
      }
    }
    return true;
  }

  template <typename Rep, typename Period>
  std::cv_status wait_for(std::unique_lock<Mutex>& lock,
                          const std::chrono::duration<Rep, Period>& timeout) {
    return wait_until(lock, std::chrono::steady_clock::now() + timeout);
  }
  template <typename Rep, typename Period, typename Predicate>
  bool wait_for(std::unique_lock<Mutex>& lock,
                const std::chrono::duration<Rep, Period>& timeout,
                Predicate ready) {
    return wait_until(lock, std::chrono::steady_clock::now() + timeout,
                      std::move(ready));
  }

 private:
  // Returns false on timeout. `deadline_nanos`: CLOCK_MONOTONIC (or
  // CLOCK_REALTIME when `realtime`) nanoseconds; negative: none.
  INPROF_EXPORT bool WaitUntil(Mutex& mutex, int64_t deadline_nanos,
                               bool realtime) noexcept;
  void Wake(int threads) noexcept {
    // Sequentially consistent with the waiter's count-then-sleep: either it
    // sees the new sequence and does not sleep, or we see it counted.
    sequence_.fetch_add(1, std::memory_order_seq_cst);
    if (waiters_.load(std::memory_order_seq_cst) != 0) {
      mutex_internal::CondWake(sequence_, threads);
    }
  }

  template <typename Clock, typename Duration>
  bool WaitUntilTimePoint(
      std::unique_lock<Mutex>& lock,
      const std::chrono::time_point<Clock, Duration>& deadline) {
    using std::chrono::nanoseconds;
    if constexpr (std::is_same_v<Clock, std::chrono::system_clock>) {
      const auto nanos =
          std::chrono::duration_cast<nanoseconds>(deadline.time_since_epoch());
      return WaitUntil(*lock.mutex(), nanos.count() < 0 ? 0 : nanos.count(),
                       true);
    } else {
      // steady_clock is CLOCK_MONOTONIC; other clocks are mapped onto it.
      const auto steady =
          std::chrono::steady_clock::now() +
          std::chrono::duration_cast<nanoseconds>(deadline - Clock::now());
      const auto nanos =
          std::chrono::duration_cast<nanoseconds>(steady.time_since_epoch());
      return WaitUntil(*lock.mutex(), nanos.count() < 0 ? 0 : nanos.count(),
                       false);
    }
  }

  std::atomic<uint32_t> sequence_{0};  // bumped by every notify
  std::atomic<uint32_t> waiters_{0};
};

}  // namespace inprof

#undef INPROF_TSAN_MUTEX
#undef INPROF_MUTEX_TSAN

#endif  // INPROF_MUTEX_H_
