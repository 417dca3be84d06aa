// StartAgentThread: how the agent starts each of its threads, named and
// marked (agent_thread.h) before the call returns, so that a thread list
// taken afterwards (top -H, gdb, /debug/pprof/goroutine) shows "inprof-..."
// rather than the creator's name, which a new thread inherits.
//
// The thread names itself (MarkAgentThread: prctl, no descriptor): naming
// it from here would write /proc/self/task/N/comm, and a descriptor opened
// beside the program can take a number the program has just freed and
// means to reuse (a shell closes 1, then dup2s its redirection onto it).
//
// Thread safety: call from any thread; not async-signal-safe.
#ifndef INPROF_AGENT_BASE_AGENT_THREAD_START_H_
#define INPROF_AGENT_BASE_AGENT_THREAD_START_H_

#include <latch>
#include <memory>
#include <thread>
#include <utility>

#include "agent/base/agent_thread.h"

namespace inprof::internal {

// Starts `body` on a new thread named `name` (at most 15 characters) and
// returns it once the thread has named and marked itself.
template <typename Body>
std::thread StartAgentThread(const char* name, Body body) {
  // Shared: the waiter may return (and would free a latch of its own)
  // while count_down() is still waking it.
  auto named = std::make_shared<std::latch>(1);
  std::thread thread([name, named, body = std::move(body)]() mutable {
    MarkAgentThread(name);
    named->count_down();
    named.reset();
    body();
  });
  named->wait();
  return thread;
}

}  // namespace inprof::internal

#endif  // INPROF_AGENT_BASE_AGENT_THREAD_START_H_
