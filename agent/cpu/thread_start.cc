#include "agent/cpu/thread_start.h"

// The pthread_create definition and the timers of threads armed at their
// start (thread_start.h says what and why).
//
// Which pthread_create comes next. Resolved once, in a constructor (and
// lazily, with dlsym, only if a thread is created before it ran: never in a
// signal handler). In front of us may be:
//  - nothing: we are the first definition (agent linked into the program,
//    or preloaded). dlsym(RTLD_NEXT) finds a sanitizer runtime's interceptor
//    if one is loaded as a shared library after us (GCC's libasan/libtsan),
//    else the C library's.
//  - a sanitizer's interceptor that forwards to us (the agent is a shared
//    library loaded after libasan.so, or the runtime is linked into the
//    program and we are preloaded): dlsym(RTLD_NEXT) from here then gives
//    the C library's, and the sanitizer still sees every thread.
//  - our own definition overrides the interceptor (clang's static sanitizer
//    runtimes define pthread_create as a weak alias of
//    __interceptor_pthread_create in the program itself, and the agent is
//    linked there too): then we call the interceptor by that name, or the
//    sanitizer would never see the thread. Only when dlsym(RTLD_DEFAULT)
//    finds our own definition first: otherwise the interceptor is in front
//    of us and forwards to us, and calling it would recurse.
// dlsym(RTLD_NEXT, "pthread_create") gives the default version
// (pthread_create@GLIBC_2.34 on glibc >= 2.34), which is what programs built
// today call; programs built against an older glibc call the
// GLIBC_2.2.5 version, the same function in glibc. Nothing resolves only
// in a program without a dynamic linker, which cannot interpose anyway;
// pthread_create then fails with EAGAIN.
//
// Costs: not profiling, one relaxed load and the forwarding call; profiling,
// a 72-byte malloc for the trampoline's record (freed by the thread), and in
// the new thread a few system calls to arm its timer and one to delete it
// (~5 µs together, LESSONS.md), measured by
// tests/bench/thread_start_benchmark.cc.
//
// Nothing here runs in a signal handler. RecordThreadEndSample (the CPU
// sampler's) follows the handler's rules, so that a key destructor on any
// thread may call it.

#include <dlfcn.h>
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <cstring>

#include "agent/cpu/signal_handler.h"
#include "agent/cpu/thread_coverage.h"

using CreateFn = int (*)(pthread_t*, const pthread_attr_t*, void* (*)(void*),
                         void*);

extern "C" {

// The body of our pthread_create; a hidden name, so that its address is
// ours even where the exported name is preempted.
__attribute__((visibility("hidden"))) int inprof_pthread_create(
    pthread_t* thread, const pthread_attr_t* attr, void* (*start)(void*),
    void* arg);

// The definition programs and libraries call (<pthread.h>'s declaration).
__attribute__((visibility("default"))) int pthread_create(
    pthread_t* thread, const pthread_attr_t* attr, void* (*start)(void*),
    void* arg) noexcept __attribute__((alias("inprof_pthread_create")));

}  // extern "C"

namespace inprof::internal {
namespace {

std::atomic<CreateFn> g_next{nullptr};

CreateFn ResolveNext() {
  void* const self = reinterpret_cast<void*>(&inprof_pthread_create);
  void* found = nullptr;
  if (dlsym(RTLD_DEFAULT, "pthread_create") == self) {
    for (const char* name :
         {"__interceptor_pthread_create", "___interceptor_pthread_create"}) {
      found = dlsym(RTLD_DEFAULT, name);
      if (found != nullptr) break;
    }
  }
  if (found == nullptr) found = dlsym(RTLD_NEXT, "pthread_create");
  CreateFn next = found != nullptr && found != self
                      ? reinterpret_cast<CreateFn>(found)
                      : nullptr;
  g_next.store(next, std::memory_order_release);
  return next;
}

__attribute__((constructor(101))) void ResolveAtLoad() { ResolveNext(); }

CreateFn Next() {
  CreateFn next = g_next.load(std::memory_order_acquire);
  return next != nullptr ? next : ResolveNext();
}

// The session threads arm timers for: 0 while no profile runs.
std::atomic<uint64_t> g_session{0};
std::atomic<uint64_t> g_sessions_started{0};
std::atomic<int> g_signo{SIGPROF};
std::atomic<int64_t> g_period_ns{10'000'000};

std::atomic<uint64_t> g_started{0};
std::atomic<uint64_t> g_armed{0};
std::atomic<int64_t> g_live{0};
std::atomic<uint64_t> g_failures{0};
std::atomic<uint64_t> g_end_samples{0};
// Threads created through the trampoline that have not run it yet.
std::atomic<int64_t> g_starting{0};

// The timers of threads armed at their start, one word each:
// tid << 32 | kernel timer id (0 for a free slot: tids are never 0).
// 16,384 slots (128 KiB of zero pages until used) for threads alive at
// once; past that, a thread is left to the scan.
constexpr size_t kSlots = 16384;
constexpr size_t kProbes = 64;
constinit std::atomic<uint64_t> g_slots[kSlots] = {};

size_t HomeSlot(pid_t tid) {
  return (static_cast<uint32_t>(tid) * 2654435761u) % kSlots;
}

uint64_t SlotWord(pid_t tid, int timer_id) {
  return (static_cast<uint64_t>(static_cast<uint32_t>(tid)) << 32) |
         static_cast<uint32_t>(timer_id);
}

// Deletes a timer whose word the caller took out of the table.
void DeleteTaken(uint64_t word) {
  const auto tid = static_cast<pid_t>(word >> 32);
  const auto timer_id = static_cast<int>(static_cast<uint32_t>(word));
  SetThreadCovered(tid, false);
  syscall(SYS_timer_delete, timer_id);
  ReleaseThreadClaim(tid);
  g_live.fetch_sub(1, std::memory_order_relaxed);
}

// Takes `word` out of slot `index` and deletes its timer, unless somebody
// (StopThreadArming) took it first.
void DeleteIfStill(size_t index, uint64_t word) {
  uint64_t expected = word;
  if (g_slots[index].compare_exchange_strong(expected, 0,
                                             std::memory_order_acq_rel)) {
    DeleteTaken(word);
  }
}

int64_t RandomFirstExpiry(pid_t tid, int64_t period_ns) {
  timespec now{};
  clock_gettime(CLOCK_MONOTONIC, &now);
  uint64_t x = (static_cast<uint64_t>(tid) * 0x9E3779B97F4A7C15u) ^
               static_cast<uint64_t>(now.tv_nsec) ^ 1u;
  x ^= x << 13;
  x ^= x >> 7;
  x ^= x << 17;
  return 1 + static_cast<int64_t>(x % static_cast<uint64_t>(period_ns));
}

// What a thread started through our trampoline carries: the start routine
// and, once armed, its timer. Allocated by pthread_create, freed at the
// thread's start if it armed no timer, else by the key's destructor.
struct ThreadRecord {
  void* (*start)(void*);
  void* arg;
  uint64_t session;
  size_t slot;
  int timer_id;
  // For the expirations owed at the end (OwedExpirations).
  int64_t cpu_at_arm_ns;
  int64_t first_expiry_ns;
  int64_t period_ns;
  uint64_t signalled_at_arm;
};

// The key whose destructor deletes a thread's own timer as the thread ends
// (its value: the thread's ThreadRecord). glibc runs key destructors however
// a thread ends: returning, pthread_exit or cancellation. (A C++ object in
// the trampoline's frame would not do: glibc's forced unwind stops at the
// frame start_thread called, the trampoline's own, without running its
// cleanups.)
pthread_key_t g_key;
bool g_key_created = false;

int64_t ThreadCpuNanos() {
  timespec now{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &now);
  return now.tv_sec * int64_t{1'000'000'000} + now.tv_nsec;
}

// The expirations the thread's CPU time crossed that no signal carried.
// CPU timers are checked at the scheduler tick, so a thread that ends
// within a tick or so of an expiry loses it; measured before this: 0.6 to
// 0.9 of a period per thread, 40% of the CPU time of 20 ms threads.
// Signals pending when this runs were delivered already (we are in user
// mode), unless the thread blocks the signal: then it chose not to be
// sampled (as the process timer would not), and nothing is owed.
uint32_t OwedExpirations(const ThreadRecord& record) {
  sigset_t blocked;
  if (pthread_sigmask(SIG_BLOCK, nullptr, &blocked) != 0 ||
      sigismember(&blocked, g_signo.load(std::memory_order_relaxed)) == 1) {
    return 0;
  }
  const int64_t used = ThreadCpuNanos() - record.cpu_at_arm_ns;
  if (used < record.first_expiry_ns) return 0;
  const int64_t crossed =
      1 + (used - record.first_expiry_ns) / record.period_ns;
  const auto signalled = static_cast<int64_t>(
      ThreadTimerExpirationsSignalled() - record.signalled_at_arm);
  return crossed > signalled ? static_cast<uint32_t>(crossed - signalled) : 0;
}

void DeleteOwnTimer(void* value) {
  auto* record = static_cast<ThreadRecord*>(value);
  const int saved_errno = errno;
  const auto tid = static_cast<pid_t>(syscall(SYS_gettid));
  const uint64_t word = SlotWord(tid, record->timer_id);
  uint64_t expected = word;
  if (g_slots[record->slot].compare_exchange_strong(
          expected, 0, std::memory_order_acq_rel)) {
    const uint32_t owed = OwedExpirations(*record);
    DeleteTaken(word);
    if (owed != 0) {
      // Where the thread was when the expiry passed is not known any more:
      // the sample goes to its start routine, a frame that was on its
      // stack all along (and is the user's, not the agent's).
      RecordThreadEndSample(reinterpret_cast<uintptr_t>(record->start), owed);
      g_end_samples.fetch_add(owed, std::memory_order_relaxed);
    }
  }
  std::free(record);
  errno = saved_errno;
}

void FailToArm(pid_t tid, int timer_id) {
  if (timer_id >= 0) syscall(SYS_timer_delete, timer_id);
  ReleaseThreadClaim(tid);
  g_failures.fetch_add(1, std::memory_order_relaxed);
}

// Arms the calling thread's own timer, at its start; true if the key now
// owns `record`.
bool ArmOwnTimer(ThreadRecord* record) {
  const uint64_t session = record->session;
  if (g_session.load(std::memory_order_acquire) != session) return false;
  const auto tid = static_cast<pid_t>(syscall(SYS_gettid));
  // Claimed already: the scan armed this tid first. Beyond the bitmap: the
  // process timer samples it.
  if (!TryClaimThread(tid)) return false;
  sigevent event =
      ThreadTimerEvent(g_signo.load(std::memory_order_relaxed), tid);
  int timer_id = -1;
  if (syscall(SYS_timer_create, CLOCK_THREAD_CPUTIME_ID, &event, &timer_id) !=
      0) {
    FailToArm(tid, -1);  // the pending-signal quota, most likely
    return false;
  }
  const int64_t period = g_period_ns.load(std::memory_order_relaxed);
  const int64_t first = RandomFirstExpiry(tid, period);
  const itimerspec spec = TimerSpec(first, period);
  record->cpu_at_arm_ns = ThreadCpuNanos();
  record->first_expiry_ns = first;
  record->period_ns = period;
  record->signalled_at_arm = ThreadTimerExpirationsSignalled();
  if (syscall(SYS_timer_settime, timer_id, 0, &spec, nullptr) != 0) {
    FailToArm(tid, timer_id);
    return false;
  }
  // Covered before it is published: whoever takes the word back out
  // uncovers it, so the bit is never left set without a timer.
  SetThreadCovered(tid, true);
  g_live.fetch_add(1, std::memory_order_relaxed);
  const uint64_t word = SlotWord(tid, timer_id);
  const size_t home = HomeSlot(tid);
  size_t slot = kSlots;
  for (size_t probe = 0; probe < kProbes; ++probe) {
    const size_t index = (home + probe) % kSlots;
    uint64_t expected = 0;
    if (g_slots[index].compare_exchange_strong(expected, word,
                                               std::memory_order_acq_rel)) {
      slot = index;
      break;
    }
  }
  if (slot == kSlots) {  // table full: leave the thread to the scan
    g_live.fetch_sub(1, std::memory_order_relaxed);
    SetThreadCovered(tid, false);
    FailToArm(tid, timer_id);
    return false;
  }
  record->slot = slot;
  record->timer_id = timer_id;
  if (pthread_setspecific(g_key, record) != 0) {
    DeleteIfStill(slot, word);  // unless the sweep took it already
    g_failures.fetch_add(1, std::memory_order_relaxed);
    return false;
  }
  g_armed.fetch_add(1, std::memory_order_relaxed);
  // The profile stopped while we armed: StopThreadArming's sweep may have
  // missed our word; take it back ourselves.
  if (g_session.load(std::memory_order_seq_cst) != session) {
    DeleteIfStill(slot, word);
  }
  return true;
}

void* RunWithOwnTimer(void* raw) {
  auto* record = static_cast<ThreadRecord*>(raw);
  void* (*const start)(void*) = record->start;
  void* const arg = record->arg;
  g_started.fetch_add(1, std::memory_order_relaxed);
  const int saved_errno = errno;
  if (!ArmOwnTimer(record)) std::free(record);
  g_starting.fetch_sub(1, std::memory_order_release);
  errno = saved_errno;
  return start(arg);
}

// A forked child has only the forking thread, and no timers: the parent's
// words are forgotten, never deleted (their ids are not the child's).
void ForgetAfterFork() {
  g_session.store(0, std::memory_order_seq_cst);
  for (std::atomic<uint64_t>& slot : g_slots) {
    slot.store(0, std::memory_order_relaxed);
  }
  g_live.store(0, std::memory_order_relaxed);
  g_starting.store(0, std::memory_order_relaxed);
}

}  // namespace

sigevent ThreadTimerEvent(int signo, pid_t tid) {
  sigevent event;
  std::memset(&event, 0, sizeof(event));
  event.sigev_notify = SIGEV_THREAD_ID;
  event.sigev_signo = signo;
  event.sigev_value.sival_int = kThreadTimerTag;
  event._sigev_un._tid = tid;
  return event;
}

itimerspec TimerSpec(int64_t first_ns, int64_t period_ns) {
  itimerspec spec;
  spec.it_interval.tv_sec = period_ns / 1'000'000'000;
  spec.it_interval.tv_nsec = period_ns % 1'000'000'000;
  spec.it_value.tv_sec = first_ns / 1'000'000'000;
  spec.it_value.tv_nsec = first_ns % 1'000'000'000;
  return spec;
}

void StartThreadArming(int signo, int64_t period_ns) {
  static pthread_once_t at_fork_once = PTHREAD_ONCE_INIT;
  pthread_once(&at_fork_once, [] {
    pthread_atfork(nullptr, nullptr, ForgetAfterFork);
    g_key_created = pthread_key_create(&g_key, DeleteOwnTimer) == 0;
  });
  if (!g_key_created) return;  // all 1,024 keys taken: the scan only
  if (g_session.load(std::memory_order_acquire) != 0) return;
  InitThreadCoverage();
  g_signo.store(signo, std::memory_order_relaxed);
  g_period_ns.store(period_ns, std::memory_order_relaxed);
  g_session.store(g_sessions_started.fetch_add(1) + 1,
                  std::memory_order_seq_cst);
}

void StopThreadArming() {
  g_session.store(0, std::memory_order_seq_cst);
  for (std::atomic<uint64_t>& slot : g_slots) {
    uint64_t word = slot.load(std::memory_order_acquire);
    if (word != 0 &&
        slot.compare_exchange_strong(word, 0, std::memory_order_acq_rel)) {
      DeleteTaken(word);
    }
  }
}

bool ThreadsStarting() {
  return g_starting.load(std::memory_order_acquire) > 0;
}

ThreadStartStats GetThreadStartStats() {
  ThreadStartStats stats;
  stats.started = g_started.load(std::memory_order_relaxed);
  stats.armed = g_armed.load(std::memory_order_relaxed);
  const int64_t live = g_live.load(std::memory_order_relaxed);
  stats.live = live > 0 ? static_cast<uint64_t>(live) : 0;
  stats.failures = g_failures.load(std::memory_order_relaxed);
  stats.end_samples = g_end_samples.load(std::memory_order_relaxed);
  return stats;
}

}  // namespace inprof::internal

extern "C" int inprof_pthread_create(pthread_t* thread,
                                     const pthread_attr_t* attr,
                                     void* (*start)(void*), void* arg) {
  using namespace inprof::internal;
  const CreateFn next = Next();
  if (next == nullptr) return EAGAIN;
  const uint64_t session = g_session.load(std::memory_order_relaxed);
  if (session == 0) return next(thread, attr, start, arg);
  const int saved_errno = errno;
  auto* record = static_cast<ThreadRecord*>(std::malloc(sizeof(ThreadRecord)));
  errno = saved_errno;
  if (record == nullptr) return next(thread, attr, start, arg);
  *record = ThreadRecord{start, arg, session, 0, -1, 0, 0, 0, 0};
  g_starting.fetch_add(1, std::memory_order_relaxed);
  const int result = next(thread, attr, RunWithOwnTimer, record);
  if (result != 0) {
    g_starting.fetch_sub(1, std::memory_order_relaxed);
    const int errno_after = errno;
    std::free(record);
    errno = errno_after;
  }
  return result;
}
