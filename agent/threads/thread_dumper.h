// ThreadDumper: the stacks of every thread of the process, collected
// in-process for /debug/pprof/goroutine (thread_profile.h formats them).
//
// How: list /proc/self/task; read each thread's name, kernel state and
// blocked-signal mask (/proc/self/task/TID/status) and its CPU clock; send
// each thread that can answer the dump signal (thread_dump_signal.h) with
// the number of a preallocated slot; its handler walks its own stack into
// the slot. Bounded whatever the threads do: a thread that blocks the
// signal, is stopped or exiting is not asked; one that does not answer
// within `per_thread_timeout` is given up; nothing is asked after
// `deadline`; every such thread is listed with the reason.
//
// The signal: the first of SIGRTMAX-2, SIGRTMAX-3, SIGRTMAX-4 (62, 61, 60
// on Linux) that is not the CPU profiler's and has no handler of the host's
// (sigaction is read first: a host's handler is never replaced). It is
// installed at the first dump and stays for the life of the process, since a
// late real-time signal with the default action would end the process; a
// host that replaces it later makes dumps report stacks unavailable.
//
// Example:
//
//   ThreadDumper dumper(walker, SIGPROF);
//   StatusOr<ThreadDump> dump = dumper.Dump();
//
#ifndef INPROF_AGENT_THREADS_THREAD_DUMPER_H_
#define INPROF_AGENT_THREADS_THREAD_DUMPER_H_

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

#include "inprof/status.h"

namespace inprof::internal {

class StackWalker;

// Why a thread has, or has no, stack.
enum class ThreadStackStatus {
  kSampled,        // answered the signal: pcs[0] is the interrupted pc
  kSelf,           // the dumping thread: every pc a return address
  kSignalBlocked,  // its SigBlk has the dump signal: not asked
  kStopped,        // stopped or traced (State T/t): cannot run a handler
  kExited,         // gone, or a zombie, before it could be asked
  kNoAnswer,       // asked, no answer within the per-thread timeout
  kNotAsked,       // the dump's deadline passed first, or no signal
  kSignalFailed,   // sending the signal failed (reason says how)
  kNoAgentStack,   // answered, but every agent stack was busy, each try
};

struct ThreadRecord {
  pid_t tid = 0;
  std::string name;        // /proc's Name: (comm, at most 15 bytes)
  char state = '?';        // /proc's State: letter: R, S, D, T, t, Z, I...
  std::string state_name;  // "sleeping", "disk sleep", ...
  int64_t cpu_nanos = -1;  // user + system CPU time; -1 unknown
  ThreadStackStatus status = ThreadStackStatus::kNotAsked;
  std::string reason;  // why there is no stack; "" when sampled
  bool agent_thread = false;
  std::vector<uint64_t> pcs;  // innermost first
  bool truncated = false;
  uint64_t label_set = 0;
  uint64_t request_id = 0;
  uint64_t request_start_ns = 0;  // MonotonicNanos; 0: unknown or none

  bool has_stack() const {
    return status == ThreadStackStatus::kSampled ||
           status == ThreadStackStatus::kSelf;
  }
};

struct ThreadDump {
  int64_t unix_nanos = 0;             // when the dump started
  uint64_t monotonic_nanos = 0;       // the same instant, MonotonicNanos
  int64_t took_nanos = 0;             // collection time (before symbolization)
  int64_t listing_nanos = 0;          // of which listing and asking
  int signo = 0;                      // the dump signal; 0 if none
  std::string signal_problem;         // why no thread was asked; "" when fine
  std::vector<ThreadRecord> threads;  // by tid
};

struct ThreadDumperOptions {
  // The CPU profiler's signal, never used for dumps (0: SIGPROF).
  int avoid_signo = 0;
  std::chrono::milliseconds per_thread_timeout{100};
  // Nothing is asked after this (the answer then comes in well under 1 s).
  std::chrono::milliseconds deadline{700};
  // How long a second dump waits for the one in progress.
  std::chrono::milliseconds wait_for_other{1500};
};

// ThreadDumper
//
// Ownership: borrows `walker`, which must outlive it. The slots and the
// handler are process-wide and outlive every dumper.
//
// Thread safety: thread-safe; dumps of the process (of all dumpers) run one
// at a time.
class ThreadDumper {
 public:
  ThreadDumper(StackWalker* walker, ThreadDumperOptions options);
  ThreadDumper(const ThreadDumper&) = delete;
  ThreadDumper& operator=(const ThreadDumper&) = delete;
  // Waits for handlers still running on this dumper's walker.
  ~ThreadDumper();

  // Every thread of the process, by tid. Errors: kUnavailable when another
  // dump is still in progress after `wait_for_other`, or /proc/self/task
  // cannot be read. When the signal cannot be used, every thread is listed
  // without a stack and `signal_problem` says why. Not async-signal-safe.
  [[nodiscard]] StatusOr<ThreadDump> Dump();

 private:
  StackWalker* const walker_;
  const ThreadDumperOptions options_;
};

}  // namespace inprof::internal

#endif  // INPROF_AGENT_THREADS_THREAD_DUMPER_H_
