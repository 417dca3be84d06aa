// RawSample is what the CPU signal handler records: a stack of program
// counters plus the few values every sample source shares (ARCHITECTURE.md
// decision 1). Fixed size, trivially copyable, so that the handler fills one
// in a preallocated ring slot without allocating.
#ifndef INPROF_AGENT_CPU_RAW_SAMPLE_H_
#define INPROF_AGENT_CPU_RAW_SAMPLE_H_

#include <cstdint>

namespace inprof::internal {

inline constexpr int kMaxStackDepth = 128;

struct RawSample {
  uint64_t timestamp_ns;  // CLOCK_MONOTONIC when the signal was handled
  uint64_t label_set;     // the thread's label-set id (0 = no labels)
  uint64_t request_id;    // the thread's request (0 = none)
  uint32_t tid;           // kernel thread id
  // 1 + timer overruns: the sampling periods this covers; 0 for a wall
  // sample.
  uint32_t weight;
  uint32_t depth;         // number of valid entries in pcs
  uint16_t truncated;     // 1 if the unwinder stopped early (bad frame)
  uint16_t agent_thread;  // 1 if taken on one of the agent's own threads
  // A wall-clock sample (wall_signal.h): the wall time it stands for, and
  // weight 0. 0 for a CPU sample.
  uint64_t wall_nanos;
  // The CPU time the thread's own clock measured since its previous sample
  // of either kind (signal_handler.cc says how it is bounded): timer
  // signals the kernel merged or dropped lose no CPU time, and a wall sample
  // carries what the thread used since the last timer signal. 0 unless
  // the flight recorder asked for it (SetThreadCpuMeasured).
  uint64_t cpu_nanos;
  // A request's wait (a block event, agent/contention/request_waits.h, put
  // in the flight recorder's history): its unbiased count (x 1024) and
  // delay. 0 for CPU and wall samples.
  uint64_t wait_count;
  uint64_t wait_nanos;
  // pcs[0] is the interrupted instruction; pcs[1..] are return addresses.
  uint64_t pcs[kMaxStackDepth];
};

}  // namespace inprof::internal

#endif  // INPROF_AGENT_CPU_RAW_SAMPLE_H_
