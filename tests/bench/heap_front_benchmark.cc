// The heap sampler's cost as a user sees it (issue 16, item 2): one process
// per run, the same workload built with and without inprof, compared by
// work per CPU-second of the whole process (the agent's threads included).
// tests/bench/run_heap_front.sh runs the variants in rotating ABBA order
// and prints the medians; see BENCHMARKS.md, "Heap sampling against a build
// without inprof".
//
//   heap_front_benchmark_<variant> WORKLOAD UNITS
//     WORKLOAD: mixed | malloc (tests/bench/alloc_workload.h). Two threads
//     run UNITS units each; prints units per CPU-second of the process.
//
// Variants (tests/bench/CMakeLists.txt): glibc and tcmalloc, each without
// inprof and with inprof::agent started from the environment (heap and
// allocs profiles at the default 512 KiB rate, through the malloc front).
// gperftools' own sampler is the tcmalloc variant without inprof, run with
// TCMALLOC_SAMPLE_PARAMETER=524288.
#include <time.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

#include "tests/bench/alloc_workload.h"

#if INPROF_BENCH_AGENT
#include <optional>

#include "inprof/agent.h"
#endif

namespace {

double Seconds(clockid_t clock) {
  timespec ts{};
  clock_gettime(clock, &ts);
  return static_cast<double>(ts.tv_sec) + ts.tv_nsec / 1e9;
}

// Runs the units; stores the thread's own CPU time in `*cpu`.
void Run(bool mixed, long units, uint32_t seed, double* cpu) {
  inprof_bench::AllocWorkload state(seed);
  for (long i = 0; i < units; ++i) {
    if (mixed) {
      inprof_bench::MixedUnit(state);
    } else {
      inprof_bench::MallocUnit(state);
    }
  }
  if (state.sink == 42) std::puts("");  // keep `sink` alive
  *cpu = Seconds(CLOCK_THREAD_CPUTIME_ID);
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 3 || (std::strcmp(argv[1], "mixed") != 0 &&
                    std::strcmp(argv[1], "malloc") != 0)) {
    std::fprintf(stderr, "usage: %s mixed|malloc UNITS\n", argv[0]);
    return 2;
  }
  const bool mixed = std::strcmp(argv[1], "mixed") == 0;
  const long units = std::atol(argv[2]);
#if INPROF_BENCH_AGENT
  inprof::Options options = inprof::Options::FromEnvironment();
  options.port = 0;
  auto agent = inprof::Agent::Start(options);
  if (!agent.ok()) {
    std::fprintf(stderr, "%s\n", agent.status().ToString().c_str());
    return 1;
  }
#endif
  constexpr int kThreads = 2;
  const double wall0 = Seconds(CLOCK_MONOTONIC);
  const double cpu0 = Seconds(CLOCK_PROCESS_CPUTIME_ID);
  std::vector<std::thread> threads;
  double worker_cpu[kThreads] = {};
  for (int i = 0; i < kThreads; ++i) {
    threads.emplace_back(Run, mixed, units, 12345u + 7919u * i, &worker_cpu[i]);
  }
  for (std::thread& t : threads) t.join();
  const double cpu = Seconds(CLOCK_PROCESS_CPUTIME_ID) - cpu0;
  const double wall = Seconds(CLOCK_MONOTONIC) - wall0;
  double workers = 0;
  for (double c : worker_cpu) workers += c;
  // other_cpu_s: everything but the workers (the agent's threads, the main
  // thread), during the run. window_*: the run on CLOCK_MONOTONIC, for
  // `perf record -k CLOCK_MONOTONIC` (run_heap_sample_cost.sh).
  std::printf(
      "units_per_cpu_s=%.0f cpu_s=%.3f wall_s=%.3f other_cpu_s=%.4f "
      "window_start_s=%.6f window_end_s=%.6f\n",
      static_cast<double>(units) * kThreads / cpu, cpu, wall, cpu - workers,
      wall0, wall0 + wall);
  return 0;
}
