// The two futex operations the agent's wake-ups use, on a 4-byte atomic: a
// waiter sleeps until the word is no longer the value it saw (or a timeout),
// a waker bumps the word and wakes it. A signal handler may wake (a raw
// system call; errno is the caller's to keep), where a condition variable
// could not be notified.
//
// Thread safety: both async-signal-safe.
#ifndef INPROF_AGENT_BASE_FUTEX_H_
#define INPROF_AGENT_BASE_FUTEX_H_

#include <linux/futex.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include <atomic>
#include <cstdint>

namespace inprof::internal {

static_assert(sizeof(std::atomic<uint32_t>) == sizeof(uint32_t) &&
              std::atomic<uint32_t>::is_always_lock_free);

// Sleeps while `word` holds `seen`, at most `timeout`: returns at once if
// it already changed, and on a wake, a signal or the timeout.
inline void FutexWait(std::atomic<uint32_t>& word, uint32_t seen,
                      const timespec& timeout) noexcept {
  syscall(SYS_futex, reinterpret_cast<uint32_t*>(&word), FUTEX_WAIT_PRIVATE,
          seen, &timeout, nullptr, 0);
}

// Wakes one thread sleeping in FutexWait() on `word`.
inline void FutexWake(std::atomic<uint32_t>& word) noexcept {
  syscall(SYS_futex, reinterpret_cast<uint32_t*>(&word), FUTEX_WAKE_PRIVATE, 1,
          nullptr, nullptr, 0);
}

}  // namespace inprof::internal

#endif  // INPROF_AGENT_BASE_FUTEX_H_
