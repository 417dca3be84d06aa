#include "agent/threads/thread_dumper.h"

#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <condition_variable>
#include <cstring>
#include <mutex>
#include <set>
#include <string_view>
#include <thread>

#include "agent/base/agent_thread.h"
#include "agent/base/clock.h"
#include "agent/base/futex.h"
#include "agent/base/thread_labels.h"
#include "agent/threads/thread_dump_signal.h"
#include "agent/unwind/stack_walker.h"

namespace inprof::internal {
namespace {

// Enough to have every thread of a 1,000-thread server asked at once (a
// busy thread answers only when the scheduler next runs it, so asking all
// at once overlaps those waits). 1,024 x ~560 bytes, allocated at the first
// dump and never freed: a late handler may still write into a slot.
constexpr size_t kSlots = 1024;
// An answer without frames (all agent stacks busy) is asked again.
constexpr int kMaxTries = 3;
constexpr int kCandidateOffsets[] = {2, 3, 4};  // SIGRTMAX - n

// One dump at a time, process-wide; a second one waits a bounded time.
// (A flag under a plain mutex rather than std::timed_mutex, whose
// pthread_mutex_clocklock ThreadSanitizer does not know.)
class DumpLock {
 public:
  bool TryLockFor(std::chrono::milliseconds wait) {
    std::unique_lock<std::mutex> lock(mu_);
    if (!free_.wait_for(lock, wait, [this] { return !busy_; })) return false;
    busy_ = true;
    return true;
  }
  void Lock() {
    std::unique_lock<std::mutex> lock(mu_);
    free_.wait(lock, [this] { return !busy_; });
    busy_ = true;
  }
  void Unlock() {
    {
      std::lock_guard<std::mutex> lock(mu_);
      busy_ = false;
    }
    free_.notify_one();
  }

 private:
  std::mutex mu_;
  std::condition_variable free_;
  bool busy_ = false;  // guarded by mu_
};

DumpLock g_dump_mu;
ThreadDumpSlot* g_slots = nullptr;  // guarded by g_dump_mu
std::atomic<uint32_t> g_answers{0};
ThreadDumpTarget g_target;  // guarded by g_dump_mu
uint64_t g_generation = 0;  // guarded by g_dump_mu
int g_signo = 0;            // guarded by g_dump_mu; 0: not installed
// Threads found blocking the signal: read (status) rather than asked, so
// that a thread that never unblocks holds at most one of our signals
// pending. Guarded by g_dump_mu.
std::set<pid_t>* g_blockers = nullptr;

bool HostHandles(const struct sigaction& action) {
  if (action.sa_flags & SA_SIGINFO) return action.sa_sigaction != nullptr;
  return action.sa_handler != SIG_DFL;  // SIG_IGN: the host chose it
}

bool OursInPlace(int signo) {
  struct sigaction current;
  if (sigaction(signo, nullptr, &current) != 0) return false;
  return (current.sa_flags & SA_SIGINFO) != 0 &&
         current.sa_sigaction == ThreadDumpHandlerEntry();
}

// Installs the handler on the first free candidate, once per process;
// afterwards checks it is still ours. Returns "" or the problem.
std::string EnsureHandler(int avoid_signo) {
  if (g_signo != 0) {
    if (OursInPlace(g_signo)) return "";
    return "the host replaced inprof's handler of signal " +
           std::to_string(g_signo) +
           " (the thread-dump signal); thread stacks are unavailable";
  }
  // Not installed yet: each dump looks again, the host may have let go.
  std::string taken;
  for (int offset : kCandidateOffsets) {
    const int signo = SIGRTMAX - offset;
    if (signo == (avoid_signo != 0 ? avoid_signo : SIGPROF)) continue;
    struct sigaction previous;
    if (sigaction(signo, nullptr, &previous) != 0) continue;
    if (HostHandles(previous)) {
      taken += (taken.empty() ? "" : ", ") + std::to_string(signo);
      continue;
    }
    struct sigaction action;
    std::memset(&action, 0, sizeof(action));
    action.sa_sigaction = ThreadDumpHandlerEntry();
    action.sa_flags = SA_SIGINFO | SA_RESTART;
    sigemptyset(&action.sa_mask);
    sigaddset(&action.sa_mask, signo);
    if (sigaction(signo, &action, nullptr) != 0) continue;
    g_signo = signo;
    return "";
  }
  return "no free signal for thread dumps: signals " + taken +
         " have handlers of the host's, which inprof does not replace";
}

// The fields of /proc/self/task/TID/status a dump needs.
struct TaskStatus {
  bool ok = false;
  std::string name;
  char state = '?';
  std::string state_name;
  uint64_t blocked = 0;  // SigBlk
};

std::string_view Field(std::string_view text, std::string_view key) {
  size_t at = 0;
  while (at < text.size()) {
    size_t end = text.find('\n', at);
    if (end == std::string_view::npos) end = text.size();
    std::string_view line = text.substr(at, end - at);
    if (line.starts_with(key)) {
      line.remove_prefix(key.size());
      while (!line.empty() && (line.front() == '\t' || line.front() == ' ')) {
        line.remove_prefix(1);
      }
      return line;
    }
    at = end + 1;
  }
  return {};
}

// Reads /proc/self/task/TID/<file> into `buf`; returns the bytes read.
size_t ReadTaskFile(pid_t tid, const char* file, char* buf, size_t size) {
  char path[64];
  std::snprintf(path, sizeof(path), "/proc/self/task/%d/%s", tid, file);
  const int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return 0;
  size_t used = 0;
  for (;;) {
    const ssize_t n = read(fd, buf + used, size - used);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    used += static_cast<size_t>(n);
    if (used == size) break;
  }
  close(fd);
  return used;
}

// The kernel's words for a state letter (fs/proc/array.c).
const char* StateName(char state) {
  switch (state) {
    case 'R':
      return "running";
    case 'S':
      return "sleeping";
    case 'D':
      return "disk sleep";
    case 'T':
      return "stopped";
    case 't':
      return "tracing stop";
    case 'X':
      return "dead";
    case 'Z':
      return "zombie";
    case 'P':
      return "parked";
    case 'I':
      return "idle";
  }
  return "unknown";
}

// Name and state from /proc/self/task/TID/stat: half of status's cost
// (fewer fields to format), which matters with 1,000 threads. No SigBlk
// there for real-time signals: status is read only for threads that did
// not answer, or were found blocking before.
TaskStatus ReadTaskStat(pid_t tid) {
  TaskStatus status;
  char buf[1024];
  const std::string_view text(buf, ReadTaskFile(tid, "stat", buf, sizeof(buf)));
  // "tid (comm) S ...": comm may hold spaces and parentheses.
  const size_t open_paren = text.find('(');
  const size_t close_paren = text.rfind(')');
  if (open_paren == std::string_view::npos ||
      close_paren == std::string_view::npos || close_paren < open_paren ||
      close_paren + 2 >= text.size()) {
    return status;
  }
  status.name =
      std::string(text.substr(open_paren + 1, close_paren - open_paren - 1));
  status.state = text[close_paren + 2];
  status.state_name = StateName(status.state);
  status.ok = true;
  return status;
}

TaskStatus ReadTaskStatus(pid_t tid) {
  TaskStatus status;
  char buf[4096];
  const std::string_view text(buf,
                              ReadTaskFile(tid, "status", buf, sizeof(buf)));
  status.name = std::string(Field(text, "Name:"));
  std::string_view state = Field(text, "State:");
  if (!state.empty()) {
    status.state = state.front();
    const size_t open_paren = state.find('(');
    const size_t close_paren = state.find(')');
    if (open_paren != std::string_view::npos &&
        close_paren != std::string_view::npos && close_paren > open_paren) {
      status.state_name = std::string(
          state.substr(open_paren + 1, close_paren - open_paren - 1));
    }
  }
  const std::string blocked(Field(text, "SigBlk:"));
  status.blocked = std::strtoull(blocked.c_str(), nullptr, 16);
  status.ok = !status.name.empty() || status.state != '?';
  return status;
}

// The thread's CPU clock (Linux's encoding of a per-thread CPUCLOCK_SCHED,
// as glibc's pthread_getcpuclockid makes it), or -1.
int64_t ThreadCpuNanos(pid_t tid) {
  const clockid_t clock = static_cast<clockid_t>((~tid << 3) | 6);
  timespec ts;
  if (clock_gettime(clock, &ts) != 0) return -1;
  return static_cast<int64_t>(ts.tv_sec) * 1000000000 + ts.tv_nsec;
}

std::vector<pid_t> ListTasks() {
  std::vector<pid_t> tids;
  DIR* dir = opendir("/proc/self/task");
  if (dir == nullptr) return tids;
  while (dirent* entry = readdir(dir)) {
    const int tid = std::atoi(entry->d_name);
    if (tid > 0) tids.push_back(tid);
  }
  closedir(dir);
  std::sort(tids.begin(), tids.end());
  return tids;
}

// Waits up to `limit` for handlers still running (they read g_target).
bool HandlersDrained(std::chrono::milliseconds limit) {
  const auto end = std::chrono::steady_clock::now() + limit;
  while (ThreadDumpHandlersInFlight() != 0) {
    if (std::chrono::steady_clock::now() >= end) return false;
    std::this_thread::sleep_for(std::chrono::microseconds(100));
  }
  return true;
}

uint64_t SignalBit() { return uint64_t{1} << (g_signo - 1); }

std::string BlockedReason() {
  return "blocks the dump signal " + std::to_string(g_signo) +
         " (SigBlk): not asked";
}

std::string StoppedReason(const std::string& state_name) {
  return "stopped (" + state_name +
         "): a stopped thread cannot run the signal handler";
}

std::string Millis(std::chrono::milliseconds ms) {
  return std::to_string(ms.count()) + " ms";
}

// One thread asked and not yet answered.
struct Outstanding {
  size_t slot;
  size_t record;
  uint64_t generation;
  uint64_t sent_ns;
};

// The collection itself, under g_dump_mu.
class Collection {
 public:
  // `threads`: how many records the dump will have.
  Collection(const ThreadDumperOptions& options, ThreadDump& dump,
             size_t threads)
      : options_(options),
        dump_(dump),
        deadline_(dump.monotonic_nanos + Nanos(options.deadline)),
        tries_(threads, 0) {}

  // Asks the thread of `record` now if a slot is free, else later (in
  // AskRestAndWait): threads are asked while the rest are still being
  // listed, so that their answers overlap the listing.
  void Ask(size_t record) {
    const uint64_t now = MonotonicNanos();
    if (now < deadline_) {
      const size_t slot = FreeSlot(next_free_);
      if (slot != kSlots) {
        next_free_ = slot + 1;
        if (Send(slot, record, now) || !retry_later_) return;
        retry_later_ = false;
      }
    }
    pending_.push_back(record);
  }

  // Asks the threads not asked yet and waits for every answer, within the
  // per-thread timeout and the dump's deadline.
  void AskRestAndWait() {
    std::vector<size_t>& pending = pending_;
    std::reverse(pending.begin(), pending.end());  // asked in tid order
    const uint64_t deadline = deadline_;
    const uint64_t timeout = Nanos(options_.per_thread_timeout);
    size_t& next_free = next_free_;
    for (;;) {
      const uint64_t now = MonotonicNanos();
      // Ask as many as there are free slots.
      while (!pending.empty() && now < deadline) {
        const size_t slot = FreeSlot(next_free);
        if (slot == kSlots) break;
        next_free = slot + 1;
        const size_t record = pending.back();
        if (Send(slot, record, now))
          pending.pop_back();
        else if (retry_later_) {
          retry_later_ = false;
          break;  // the kernel's signal queue is full: harvest first
        } else {
          pending.pop_back();
        }
      }
      Harvest(now, timeout, pending);
      if (outstanding_.empty() && (pending.empty() || now >= deadline)) {
        break;
      }
      if (now >= deadline + timeout) break;  // handlers stuck mid-answer
      const uint32_t seen = g_answers.load(std::memory_order_acquire);
      if (answers_seen_ == seen) {
        timespec wait{0, 2000000};  // 2 ms: a wake may be skipped
        FutexWait(g_answers, seen, wait);
      }
      answers_seen_ = g_answers.load(std::memory_order_acquire);
    }
    for (size_t record : pending) {
      ThreadRecord& r = dump_.threads[record];
      r.status = ThreadStackStatus::kNotAsked;
      r.reason = "not asked: the dump's " + Millis(options_.deadline) +
                 " deadline passed first";
    }
    for (const Outstanding& o : outstanding_) {
      uint64_t armed = SlotState(o.generation, kSlotArmed);
      g_slots[o.slot].state.compare_exchange_strong(
          armed, SlotState(o.generation, kSlotIdle), std::memory_order_relaxed);
      ThreadRecord& r = dump_.threads[o.record];
      r.status = ThreadStackStatus::kNoAnswer;
      r.reason = "answer not finished within the dump's deadline";
    }
  }

 private:
  static uint64_t Nanos(std::chrono::milliseconds ms) {
    return static_cast<uint64_t>(ms.count()) * 1000000;
  }

  // A slot no handler can still be writing, from `from` on; kSlots if none.
  size_t FreeSlot(size_t from) {
    for (size_t i = 0; i < kSlots; ++i) {
      const size_t slot = (from + i) % kSlots;
      const ThreadDumpPhase phase =
          SlotPhase(g_slots[slot].state.load(std::memory_order_acquire));
      if ((phase == kSlotIdle || phase == kSlotDone) && !in_use_[slot]) {
        return slot;
      }
    }
    return kSlots;
  }

  // False when the thread is settled without an answer (gone, failed) or,
  // with retry_later_ set, when the kernel's queue is full.
  bool Send(size_t slot_index, size_t record, uint64_t now) {
    ThreadDumpSlot& slot = g_slots[slot_index];
    ThreadRecord& r = dump_.threads[record];
    const uint64_t generation = ++g_generation;
    uint64_t current = slot.state.load(std::memory_order_acquire);
    slot.tid.store(static_cast<uint32_t>(r.tid), std::memory_order_relaxed);
    if (!slot.state.compare_exchange_strong(
            current, SlotState(generation, kSlotArmed),
            std::memory_order_release, std::memory_order_relaxed)) {
      retry_later_ = true;  // a stuck handler took it meanwhile
      return false;
    }
    siginfo_t info;
    std::memset(&info, 0, sizeof(info));
    info.si_signo = g_signo;
    info.si_code = SI_QUEUE;
    info.si_pid = getpid();
    info.si_uid = getuid();
    info.si_value.sival_ptr =
        reinterpret_cast<void*>(ThreadDumpSignalValue(slot_index, generation));
    if (syscall(SYS_rt_tgsigqueueinfo, info.si_pid, r.tid, g_signo, &info) ==
        0) {
      outstanding_.push_back({slot_index, record, generation, now});
      in_use_[slot_index] = true;
      return true;
    }
    const int error = errno;
    uint64_t armed = SlotState(generation, kSlotArmed);
    slot.state.compare_exchange_strong(armed, SlotState(generation, kSlotIdle),
                                       std::memory_order_relaxed);
    if (error == EAGAIN && !outstanding_.empty()) {
      retry_later_ = true;
      return false;
    }
    if (error == ESRCH) {
      r.status = ThreadStackStatus::kExited;
      r.reason = "exited before it could be asked";
    } else {
      r.status = ThreadStackStatus::kSignalFailed;
      r.reason = std::string("could not be signalled: ") + strerror(error);
    }
    return false;
  }

  // A thread that did not answer in time: why, from its status now.
  void Unanswered(ThreadRecord& r) {
    const TaskStatus status = ReadTaskStatus(r.tid);
    if (status.ok && (status.blocked & SignalBit())) {
      g_blockers->insert(r.tid);
      r.status = ThreadStackStatus::kSignalBlocked;
      r.reason = BlockedReason();
      return;
    }
    if (status.ok && (status.state == 'T' || status.state == 't')) {
      r.status = ThreadStackStatus::kStopped;
      r.reason = StoppedReason(status.state_name);
      return;
    }
    r.status = ThreadStackStatus::kNoAnswer;
    r.reason = "no answer within " + Millis(options_.per_thread_timeout) +
               " (state " + std::string(1, r.state) +
               "; a busy thread answers when the scheduler next runs it)";
  }

  void Harvest(uint64_t now, uint64_t timeout, std::vector<size_t>& pending) {
    size_t kept = 0;
    for (size_t i = 0; i < outstanding_.size(); ++i) {
      const Outstanding o = outstanding_[i];
      ThreadDumpSlot& slot = g_slots[o.slot];
      ThreadRecord& r = dump_.threads[o.record];
      const uint64_t state = slot.state.load(std::memory_order_acquire);
      if (state == SlotState(o.generation, kSlotDone)) {
        Take(slot, r, pending, o.record);
        in_use_[o.slot] = false;
        continue;
      }
      if (now >= o.sent_ns + timeout) {
        uint64_t armed = SlotState(o.generation, kSlotArmed);
        if (slot.state.compare_exchange_strong(
                armed, SlotState(o.generation, kSlotIdle),
                std::memory_order_acq_rel)) {
          Unanswered(r);
          in_use_[o.slot] = false;
          continue;
        }
        // Being written: keep waiting, up to the dump's deadline.
      }
      outstanding_[kept++] = o;
    }
    outstanding_.resize(kept);
  }

  void Take(ThreadDumpSlot& slot, ThreadRecord& r, std::vector<size_t>& pending,
            size_t record) {
    r.agent_thread = slot.agent_thread;
    r.label_set = slot.label_set;
    r.request_id = slot.request_id;
    r.request_start_ns = slot.request_start_ns;
    if (slot.no_agent_stack) {
      if (++tries_[record] < kMaxTries) {
        pending.insert(pending.begin(), record);  // asked again last
        return;
      }
      r.status = ThreadStackStatus::kNoAgentStack;
      r.reason = "answered, but every agent stack was busy each time";
      return;
    }
    const int depth = std::clamp(slot.depth, 0, kThreadDumpMaxDepth);
    r.pcs.assign(slot.pcs, slot.pcs + depth);
    r.truncated = slot.truncated;
    r.status = ThreadStackStatus::kSampled;
    r.reason.clear();
  }

  const ThreadDumperOptions& options_;
  ThreadDump& dump_;
  const uint64_t deadline_;
  std::vector<int> tries_;  // by record
  std::vector<size_t> pending_;
  size_t next_free_ = 0;
  std::vector<Outstanding> outstanding_;
  std::vector<bool> in_use_ = std::vector<bool>(kSlots, false);
  uint32_t answers_seen_ = g_answers.load(std::memory_order_acquire);
  bool retry_later_ = false;
};

}  // namespace

ThreadDumper::ThreadDumper(StackWalker* walker, ThreadDumperOptions options)
    : walker_(walker), options_(options) {}

ThreadDumper::~ThreadDumper() {
  // Dumps withdraw the target when they end; wait for any handler that
  // loaded it before that and still runs on our walker.
  g_dump_mu.Lock();
  while (ThreadDumpHandlersInFlight() != 0) {
    std::this_thread::sleep_for(std::chrono::microseconds(100));
  }
  g_dump_mu.Unlock();
}

StatusOr<ThreadDump> ThreadDumper::Dump() {
  if (!g_dump_mu.TryLockFor(options_.wait_for_other)) {
    return UnavailableError(
        "another thread dump is still in progress; retry in a second");
  }
  struct Unlock {
    ~Unlock() { g_dump_mu.Unlock(); }
  } unlock;
  AgentCodeScope agent_code;  // our /proc reads are not the host's waits
  ThreadDump dump;
  dump.unix_nanos = UnixNanos();
  dump.monotonic_nanos = MonotonicNanos();
  const std::vector<pid_t> tids = ListTasks();
  if (tids.empty()) {
    return UnavailableError("cannot list /proc/self/task: " +
                            std::string(strerror(errno)));
  }
  dump.signal_problem = EnsureHandler(options_.avoid_signo);
  dump.signo = dump.signal_problem.empty() ? g_signo : 0;
  if (g_slots == nullptr) g_slots = new ThreadDumpSlot[kSlots];
  if (g_blockers == nullptr) g_blockers = new std::set<pid_t>();

  const pid_t self = static_cast<pid_t>(syscall(SYS_gettid));
  dump.threads.reserve(tids.size());  // records stay put while listing
  if (dump.signal_problem.empty() &&
      !HandlersDrained(std::chrono::milliseconds(200))) {
    // A handler of an earlier dump still runs (its thread was stopped in
    // it?): g_target must not change under it.
    dump.signal_problem =
        "a signal handler of an earlier dump is still running";
  }
  const bool asking = dump.signal_problem.empty();
  if (asking) {
    g_target.walker = walker_;
    g_target.pid = getpid();
    g_target.slots = g_slots;
    g_target.slot_count = kSlots;
    g_target.answers = &g_answers;
    SetThreadDumpTarget(&g_target);
  }
  Collection collection(options_, dump, tids.size());
  for (pid_t tid : tids) {
    ThreadRecord r;
    r.tid = tid;
    TaskStatus status = ReadTaskStat(tid);
    if (g_blockers->count(tid) != 0) {
      status = ReadTaskStatus(tid);
      if (!(status.blocked & SignalBit())) g_blockers->erase(tid);
    }
    r.name = status.name;
    r.state = status.state;
    r.state_name = status.state_name;
    r.cpu_nanos = ThreadCpuNanos(tid);
    if (tid == self) {
      uint64_t pcs[kThreadDumpMaxDepth];
      StackWalk walk = walker_->WalkHere(pcs, kThreadDumpMaxDepth);
      r.pcs.assign(pcs, pcs + walk.depth);
      r.truncated = walk.truncated;
      r.status = ThreadStackStatus::kSelf;
      r.agent_thread = IsAgentThread();
      r.label_set = CurrentLabelSet();
      r.request_id = CurrentRequestId();
      r.request_start_ns = t_request_start_ns;
    } else if (!status.ok || r.state == 'Z' || r.state == 'X') {
      r.status = ThreadStackStatus::kExited;
      r.reason = "exited before it could be asked";
    } else if (r.state == 'T' || r.state == 't') {
      r.status = ThreadStackStatus::kStopped;
      r.reason = StoppedReason(r.state_name);
    } else if (!dump.signal_problem.empty()) {
      r.status = ThreadStackStatus::kNotAsked;
      r.reason = "not asked: " + dump.signal_problem;
    } else if (status.blocked & SignalBit()) {
      r.status = ThreadStackStatus::kSignalBlocked;
      r.reason = BlockedReason();
    } else {
      dump.threads.push_back(std::move(r));
      collection.Ask(dump.threads.size() - 1);
      continue;
    }
    dump.threads.push_back(std::move(r));
  }
  dump.listing_nanos =
      static_cast<int64_t>(MonotonicNanos() - dump.monotonic_nanos);
  if (asking) {
    collection.AskRestAndWait();
    SetThreadDumpTarget(nullptr);
    (void)HandlersDrained(std::chrono::milliseconds(100));
  }
  dump.took_nanos =
      static_cast<int64_t>(MonotonicNanos() - dump.monotonic_nanos);
  return dump;
}

}  // namespace inprof::internal
