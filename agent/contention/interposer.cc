// The pthread interposer: definitions of pthread_mutex_lock/timedlock/
// clocklock/unlock, pthread_rwlock_rdlock/wrlock (and their timed and clock
// forms)/unlock, and pthread_cond_wait/timedwait/clockwait that sit in front
// of the C library's, so that std::mutex, std::shared_mutex,
// std::condition_variable and locks inside third-party code show up in the
// contention profiles. Built twice: as the object library
// inprof::contention_interposer (linked into the program) and as
// libinprof_contention.so (LD_PRELOAD).
//
// It only forwards. Until an agent starts and plugs its hooks into
// inprof_contention_interposer_v1 (interposer_abi.h), every call goes
// straight to the real function; with hooks, a lock first tries the real
// trylock, and only a lock found taken is timed. So it is safe during start-
// up, before any constructor ran (the real mutex and rwlock functions are
// glibc's own __pthread_* entry points until dlsym(RTLD_NEXT) resolved the
// next definition, which may be a sanitizer's or another interposer's), at
// exit, and in a process whose agent never starts.
//
// Rules (as for the hooks it calls): no allocation, no locks, errno
// preserved; the only lazy dlsym is for the timed and condition functions
// when they are called before this library's constructor ran.

#include <dlfcn.h>
#include <errno.h>
#include <pthread.h>
#include <time.h>

#include <atomic>
#include <cstdint>

#include "agent/contention/interposer_abi.h"

#ifndef INPROF_INTERPOSER_HOW
#define INPROF_INTERPOSER_HOW "linked"
#endif

#define INPROF_INTERPOSE extern "C" __attribute__((visibility("default")))

extern "C" {

__attribute__((visibility("default"), used))
InprofContentionInterposer inprof_contention_interposer_v1 = {
    inprof::internal::kInterposerAbi, INPROF_INTERPOSER_HOW, {nullptr}};

// glibc's own entry points of the same functions, usable before dlsym is.
// Since glibc 2.34 they are compatibility symbols, so they are named with
// their version (x86_64's base version).
int inprof_glibc_mutex_lock(pthread_mutex_t* mutex);
int inprof_glibc_mutex_unlock(pthread_mutex_t* mutex);
int inprof_glibc_rwlock_rdlock(pthread_rwlock_t* rwlock);
int inprof_glibc_rwlock_wrlock(pthread_rwlock_t* rwlock);
int inprof_glibc_rwlock_unlock(pthread_rwlock_t* rwlock);
__asm__(".symver inprof_glibc_mutex_lock,__pthread_mutex_lock@GLIBC_2.2.5");
__asm__(".symver inprof_glibc_mutex_unlock,__pthread_mutex_unlock@GLIBC_2.2.5");
__asm__(
    ".symver inprof_glibc_rwlock_rdlock,__pthread_rwlock_rdlock@GLIBC_2.2.5");
__asm__(
    ".symver inprof_glibc_rwlock_wrlock,__pthread_rwlock_wrlock@GLIBC_2.2.5");
__asm__(
    ".symver inprof_glibc_rwlock_unlock,__pthread_rwlock_unlock@GLIBC_2.2.5");

}  // extern "C"

namespace {

using MutexFn = int (*)(pthread_mutex_t*);
using MutexTimedFn = int (*)(pthread_mutex_t*, const timespec*);
using MutexClockFn = int (*)(pthread_mutex_t*, clockid_t, const timespec*);
using RwFn = int (*)(pthread_rwlock_t*);
using RwTimedFn = int (*)(pthread_rwlock_t*, const timespec*);
using RwClockFn = int (*)(pthread_rwlock_t*, clockid_t, const timespec*);
using CondFn = int (*)(pthread_cond_t*, pthread_mutex_t*);
using CondTimedFn = int (*)(pthread_cond_t*, pthread_mutex_t*, const timespec*);
using CondClockFn = int (*)(pthread_cond_t*, pthread_mutex_t*, clockid_t,
                            const timespec*);

// The next definition of one function, resolved once.
template <typename Fn>
class Next {
 public:
  constexpr Next(const char* name, Fn fallback)
      : name_(name), fallback_(fallback) {}

  Fn get() {
    Fn fn = fn_.load(std::memory_order_acquire);
    return fn != nullptr ? fn : Resolve();
  }

  Fn Resolve() {
    // dlsym may need the very function being resolved (an allocator that
    // locks): glibc's own entry point serves meanwhile, where one exists.
    if (fallback_ != nullptr && resolving_.exchange(true)) return fallback_;
    Fn fn = reinterpret_cast<Fn>(dlsym(RTLD_NEXT, name_));
    if (fn == nullptr) fn = fallback_;
    fn_.store(fn, std::memory_order_release);
    return fn;
  }

 private:
  const char* name_;
  Fn fallback_;
  std::atomic<Fn> fn_{nullptr};
  std::atomic<bool> resolving_{false};
};

constinit Next<MutexFn> next_mutex_lock("pthread_mutex_lock",
                                        inprof_glibc_mutex_lock);
constinit Next<MutexFn> next_mutex_unlock("pthread_mutex_unlock",
                                          inprof_glibc_mutex_unlock);
constinit Next<MutexTimedFn> next_mutex_timedlock("pthread_mutex_timedlock",
                                                  nullptr);
constinit Next<MutexClockFn> next_mutex_clocklock("pthread_mutex_clocklock",
                                                  nullptr);
constinit Next<RwFn> next_rdlock("pthread_rwlock_rdlock",
                                 inprof_glibc_rwlock_rdlock);
constinit Next<RwFn> next_wrlock("pthread_rwlock_wrlock",
                                 inprof_glibc_rwlock_wrlock);
constinit Next<RwFn> next_rwunlock("pthread_rwlock_unlock",
                                   inprof_glibc_rwlock_unlock);
constinit Next<RwTimedFn> next_timedrdlock("pthread_rwlock_timedrdlock",
                                           nullptr);
constinit Next<RwTimedFn> next_timedwrlock("pthread_rwlock_timedwrlock",
                                           nullptr);
constinit Next<RwClockFn> next_clockrdlock("pthread_rwlock_clockrdlock",
                                           nullptr);
constinit Next<RwClockFn> next_clockwrlock("pthread_rwlock_clockwrlock",
                                           nullptr);
constinit Next<CondFn> next_cond_wait("pthread_cond_wait", nullptr);
constinit Next<CondTimedFn> next_cond_timedwait("pthread_cond_timedwait",
                                                nullptr);
constinit Next<CondClockFn> next_cond_clockwait("pthread_cond_clockwait",
                                                nullptr);

__attribute__((constructor(101))) void ResolveAll() {
  next_mutex_lock.Resolve();
  next_mutex_unlock.Resolve();
  next_mutex_timedlock.Resolve();
  next_mutex_clocklock.Resolve();
  next_rdlock.Resolve();
  next_wrlock.Resolve();
  next_rwunlock.Resolve();
  next_timedrdlock.Resolve();
  next_timedwrlock.Resolve();
  next_clockrdlock.Resolve();
  next_clockwrlock.Resolve();
  next_cond_wait.Resolve();
  next_cond_timedwait.Resolve();
  next_cond_clockwait.Resolve();
}

// Tries before a lock() is timed as a wait (about a microsecond).
constexpr int kSpins = 32;

const InprofContentionHooks* Hooks() {
  return inprof_contention_interposer_v1.hooks.load(std::memory_order_acquire);
}

// A lock call: `try_lock()` first; only if the lock is taken is `lock()`
// timed as a wait on `object`.
template <typename TryLock, typename Lock>
__attribute__((always_inline)) inline int TimedLock(const void* object,
                                                    uint64_t caller,
                                                    TryLock try_lock,
                                                    Lock lock) {
  const InprofContentionHooks* hooks = Hooks();
  if (hooks == nullptr) return lock();
  // A lock released within a microsecond is taken without being timed: a
  // thread about to sleep is what the profiles are about, and timing every
  // brief collision would cost more than it tells (Go and glibc's adaptive
  // mutexes spin the same way before sleeping).
  for (int spins = 0;; ++spins) {
    const int tried = try_lock();
    if (tried != EBUSY) return tried;  // 0, or an error lock() would give
    if (spins == kSpins) break;
    __builtin_ia32_pause();
  }
  const int saved_errno = errno;
  InprofWaitToken token;
  hooks->begin_wait(object, &token);
  const int result = lock();
  hooks->end_wait(&token, caller);
  errno = saved_errno;
  return result;
}

// An unlock: charge the waiters' delay first, record it after.
template <typename Unlock>
__attribute__((always_inline)) inline int ChargedUnlock(const void* object,
                                                        uint64_t caller,
                                                        Unlock unlock) {
  const InprofContentionHooks* hooks = Hooks();
  if (hooks == nullptr) return unlock();
  const uint64_t delay = hooks->charge_unlock(object);
  const int result = unlock();
  if (delay != 0) {
    const int saved_errno = errno;
    hooks->record_mutex_delay(delay, caller);
    errno = saved_errno;
  }
  return result;
}

// A condition wait: always a wait, timed as a whole.
template <typename Wait>
__attribute__((always_inline)) inline int TimedCondWait(uint64_t caller,
                                                        Wait wait) {
  const InprofContentionHooks* hooks = Hooks();
  if (hooks == nullptr) return wait();
  const int saved_errno = errno;
  InprofWaitToken token;
  hooks->begin_wait(nullptr, &token);
  const int result = wait();
  hooks->end_wait(&token, caller);
  errno = saved_errno;
  return result;
}

}  // namespace

#define INPROF_CALLER() reinterpret_cast<uint64_t>(__builtin_return_address(0))

INPROF_INTERPOSE int pthread_mutex_lock(pthread_mutex_t* m) {
  return TimedLock(
      m, INPROF_CALLER(), [m] { return pthread_mutex_trylock(m); },
      [m] { return next_mutex_lock.get()(m); });
}

INPROF_INTERPOSE int pthread_mutex_timedlock(pthread_mutex_t* m,
                                             const timespec* deadline) {
  return TimedLock(
      m, INPROF_CALLER(), [m] { return pthread_mutex_trylock(m); },
      [m, deadline] { return next_mutex_timedlock.get()(m, deadline); });
}

INPROF_INTERPOSE int pthread_mutex_clocklock(pthread_mutex_t* m,
                                             clockid_t clock,
                                             const timespec* deadline) {
  return TimedLock(
      m, INPROF_CALLER(), [m] { return pthread_mutex_trylock(m); },
      [m, clock, deadline] {
        return next_mutex_clocklock.get()(m, clock, deadline);
      });
}

INPROF_INTERPOSE int pthread_mutex_unlock(pthread_mutex_t* m) {
  // glibc's lock word: 0 free, 1 locked without sleepers; anything else (2,
  // or a PI mutex's owner) may have a thread asleep that this unlock wakes.
  // Only such an unlock is charged, as Go charges the waiting to the unlock
  // that wakes a waiter: the others cost one load here.
  const auto word = static_cast<unsigned>(
      __atomic_load_n(&m->__data.__lock, __ATOMIC_RELAXED));
  if (word <= 1) return next_mutex_unlock.get()(m);
  return ChargedUnlock(m, INPROF_CALLER(),
                       [m] { return next_mutex_unlock.get()(m); });
}

INPROF_INTERPOSE int pthread_rwlock_rdlock(pthread_rwlock_t* rw) {
  return TimedLock(
      rw, INPROF_CALLER(), [rw] { return pthread_rwlock_tryrdlock(rw); },
      [rw] { return next_rdlock.get()(rw); });
}

INPROF_INTERPOSE int pthread_rwlock_wrlock(pthread_rwlock_t* rw) {
  return TimedLock(
      rw, INPROF_CALLER(), [rw] { return pthread_rwlock_trywrlock(rw); },
      [rw] { return next_wrlock.get()(rw); });
}

INPROF_INTERPOSE int pthread_rwlock_timedrdlock(pthread_rwlock_t* rw,
                                                const timespec* deadline) {
  return TimedLock(
      rw, INPROF_CALLER(), [rw] { return pthread_rwlock_tryrdlock(rw); },
      [rw, deadline] { return next_timedrdlock.get()(rw, deadline); });
}

INPROF_INTERPOSE int pthread_rwlock_timedwrlock(pthread_rwlock_t* rw,
                                                const timespec* deadline) {
  return TimedLock(
      rw, INPROF_CALLER(), [rw] { return pthread_rwlock_trywrlock(rw); },
      [rw, deadline] { return next_timedwrlock.get()(rw, deadline); });
}

INPROF_INTERPOSE int pthread_rwlock_clockrdlock(pthread_rwlock_t* rw,
                                                clockid_t clock,
                                                const timespec* deadline) {
  return TimedLock(
      rw, INPROF_CALLER(), [rw] { return pthread_rwlock_tryrdlock(rw); },
      [rw, clock, deadline] {
        return next_clockrdlock.get()(rw, clock, deadline);
      });
}

INPROF_INTERPOSE int pthread_rwlock_clockwrlock(pthread_rwlock_t* rw,
                                                clockid_t clock,
                                                const timespec* deadline) {
  return TimedLock(
      rw, INPROF_CALLER(), [rw] { return pthread_rwlock_trywrlock(rw); },
      [rw, clock, deadline] {
        return next_clockwrlock.get()(rw, clock, deadline);
      });
}

INPROF_INTERPOSE int pthread_rwlock_unlock(pthread_rwlock_t* rw) {
  return ChargedUnlock(rw, INPROF_CALLER(),
                       [rw] { return next_rwunlock.get()(rw); });
}

INPROF_INTERPOSE int pthread_cond_wait(pthread_cond_t* c, pthread_mutex_t* m) {
  return TimedCondWait(INPROF_CALLER(),
                       [c, m] { return next_cond_wait.get()(c, m); });
}

INPROF_INTERPOSE int pthread_cond_timedwait(pthread_cond_t* c,
                                            pthread_mutex_t* m,
                                            const timespec* deadline) {
  return TimedCondWait(INPROF_CALLER(), [c, m, deadline] {
    return next_cond_timedwait.get()(c, m, deadline);
  });
}

INPROF_INTERPOSE int pthread_cond_clockwait(pthread_cond_t* c,
                                            pthread_mutex_t* m, clockid_t clock,
                                            const timespec* deadline) {
  return TimedCondWait(INPROF_CALLER(), [c, m, clock, deadline] {
    return next_cond_clockwait.get()(c, m, clock, deadline);
  });
}
