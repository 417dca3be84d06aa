// A thread dump (thread_dumper.h) in Go's three goroutine forms:
// profile.proto (`debug=0`), the grouped text (`debug=1`) and the
// per-thread dump (`debug=2`).
//
// debug=0: sample and period type goroutine/count, as Go's goroutine
// profile; one sample per distinct (stack, request labels, thread name),
// its value the number of such threads, so N identical named workers are
// one sample of N. Labels: the request's (agent/labels), `thread_name` (the
// kernel's name, pthread_setname_np) and `inprof_agent_thread` = "true" on
// the agent's own threads. A thread without a stack has one pseudo-frame
// saying why (inprof.ThreadSignalBlocked, inprof.ThreadNoAnswer, ...).
#ifndef INPROF_AGENT_THREADS_THREAD_PROFILE_H_
#define INPROF_AGENT_THREADS_THREAD_PROFILE_H_

#include <string>
#include <string_view>
#include <vector>

#include "agent/base/agent_thread.h"
#include "agent/profile/profile.h"
#include "agent/threads/thread_dumper.h"

namespace inprof::internal {

class Symbolizer;

inline constexpr std::string_view kThreadNameLabel = "thread_name";

// The pseudo-frame of a thread without a stack ("" for one with a stack).
std::string_view NoStackFrame(ThreadStackStatus status);

// The comments every form starts with: counts, signal, time taken, and
// the signal's problem if any.
std::vector<std::string> ThreadDumpComments(const ThreadDump& dump);

// debug=0. Stops early (the result is then meant to be dropped) once
// `symbolizer` is cancelled. Not thread-safe on `symbolizer`.
Profile BuildThreadProfile(const ThreadDump& dump, Symbolizer* symbolizer);

// debug=1: "goroutine profile: total N", then per distinct (stack, label
// set) "<count> @ 0x..." with its labels and frame lines, biggest first.
std::string ThreadProfileText(const ThreadDump& dump, Symbolizer* symbolizer);

// debug=2: one entry per thread, by tid: name, tid, kernel state, CPU time,
// its request (endpoint and, when requests are timed, for how long) and
// its frames, or why it has none.
std::string ThreadDumpText(const ThreadDump& dump, Symbolizer* symbolizer);

}  // namespace inprof::internal

#endif  // INPROF_AGENT_THREADS_THREAD_PROFILE_H_
