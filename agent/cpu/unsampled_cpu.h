// CPU time the timers never signalled (issue 16, item 5).
//
// The kernel checks a thread's CPU timer at the scheduler tick, and only
// when that thread is the one running: a thread that always goes back to
// sleep before the tick crosses expiry after expiry without ever being
// signalled, and a profile built from signals alone shows it using nothing.
// So a CPU profile also reads every thread's own CPU clock at its start and
// at its end, compares what each thread used with what its samples account
// for, and shows a shortfall of a period or more as one sample on the
// pseudo-frame "inprof.UnsampledCPU" (cpu_profile.h), labelled with the
// thread's name and id: the profile's total is then the threads' CPU time,
// and the reader sees where the sampler was blind.
//
// What holds, thread by thread (within one period, the timers' phase):
//  - alive at both readings: corrected here;
//  - started during the profile, alive at its end: its clock started at 0
//    inside the window, corrected here;
//  - ended during the profile, having armed its own timer at its start
//    (thread_start.h: threads created while any CPU sampling ran): its
//    end-of-thread sample already carries the whole periods its signals
//    missed; nothing is done here (it is not in the end reading);
//  - existed before the profile, armed by the /proc/self/task scan, and
//    ended during it: its clock cannot be read any more, and what its
//    signals missed is lost; such threads (with the previous kind when
//    they existed at the start) are counted (UnsampledCpu::threads_ended)
//    so the profile can say so.
// The readings are taken inside the sampling window (the start one after
// the timers are armed, the end one before they stop), so what a thread
// used between the window's edges and the readings is sampled but not
// measured: errors there only make a correction smaller, never add CPU
// time the thread did not use. A correction is never negative.
//
// The agent's own threads are left out: their names start with "inprof-"
// (every thread the agent starts is named so, agent_thread.h).
#ifndef INPROF_AGENT_CPU_UNSAMPLED_CPU_H_
#define INPROF_AGENT_CPU_UNSAMPLED_CPU_H_

#include <sys/types.h>

#include <cstdint>
#include <functional>
#include <string>
#include <unordered_map>
#include <vector>

namespace inprof::internal {

// Every thread's CPU clock (nanoseconds) at one moment, by thread id.
using ThreadCpuClocks = std::unordered_map<pid_t, int64_t>;

// Reads the CPU clock of every thread in /proc/self/task (a thread that
// ends meanwhile is left out). Not async-signal-safe.
ThreadCpuClocks ReadThreadCpuClocks();

// The name the kernel knows thread `tid` by (its comm), "" if it ended.
std::string ReadThreadName(pid_t tid);

// One thread's CPU time over a profile that its samples do not account for.
struct UnsampledThread {
  pid_t tid = 0;
  std::string name;
  int64_t measured_ns = 0;   // its CPU clock, end reading minus start
  int64_t sampled_ns = 0;    // its samples' periods x the period
  int64_t unsampled_ns = 0;  // measured_ns - sampled_ns, >= one period
};

struct UnsampledCpu {
  std::vector<UnsampledThread> threads;  // by tid
  int64_t total_ns = 0;                  // the sum of their unsampled_ns
  // Threads in the start reading but not in the end one.
  int64_t threads_ended = 0;
};

// Compares the readings at a profile's start and end with the periods
// `sampled` records per thread id (sample weights summed) and returns the
// threads whose CPU time exceeds their samples by `period_ns` or more,
// named by `name_of` (a thread named "inprof-..." is the agent's: left
// out). A thread missing from `start` started during the profile (its
// clock started at 0).
UnsampledCpu FindUnsampledCpu(
    const ThreadCpuClocks& start, const ThreadCpuClocks& end,
    const std::unordered_map<uint32_t, int64_t>& sampled, int64_t period_ns,
    const std::function<std::string(pid_t)>& name_of = ReadThreadName);

}  // namespace inprof::internal

#endif  // INPROF_AGENT_CPU_UNSAMPLED_CPU_H_
