// What the agent's pthread_create costs (agent/cpu/thread_start.h):
// pthread_create + pthread_join of a thread that returns at once, through
// the agent's definition and straight to the C library's (found with
// dlsym(RTLD_NEXT) from this program, which the agent is linked into), with
// no profile running and with one running (a CpuSampler with a sink: then
// the agent's definition arms and deletes a timer in each thread).
//
//   thread_start_benchmark [ROUNDS [THREADS]]
//
// Each round runs the four modes one after the other, in an order that
// alternates between rounds (ABCD, DCBA), THREADS threads each (default
// 2,000). The cost is counted in process CPU time (the creating thread's
// and the new threads', which the process clock keeps after they end), so
// that a busy machine does not blur it; wall time is printed beside it. It
// prints ns per create+join for each mode, and at the end the medians and
// the median of each round's ratio to the direct call of the same
// profiling state.

#include <dlfcn.h>
#include <pthread.h>
#include <time.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "agent/cpu/cpu_sampler.h"
#include "agent/cpu/thread_start.h"

namespace {

using inprof::internal::CpuSampler;
using inprof::internal::CpuSampleSink;
using inprof::internal::RawSample;
using CreateFn = int (*)(pthread_t*, const pthread_attr_t*, void* (*)(void*),
                         void*);

class NullSink : public CpuSampleSink {
 public:
  void OnSample(const RawSample&) override {}
  void OnLost(uint64_t) override {}
};

double NowNs(clockid_t clock) {
  timespec ts;
  clock_gettime(clock, &ts);
  return ts.tv_sec * 1e9 + ts.tv_nsec;
}

struct Cost {
  double cpu_ns;
  double wall_ns;
};

void* Nothing(void* arg) { return arg; }

Cost NsPerThread(CreateFn create, int threads) {
  const double cpu_start = NowNs(CLOCK_PROCESS_CPUTIME_ID);
  const double wall_start = NowNs(CLOCK_MONOTONIC);
  for (int i = 0; i < threads; ++i) {
    pthread_t thread;
    if (create(&thread, nullptr, Nothing, nullptr) != 0) {
      std::fprintf(stderr, "pthread_create failed\n");
      std::exit(1);
    }
    pthread_join(thread, nullptr);
  }
  return {(NowNs(CLOCK_PROCESS_CPUTIME_ID) - cpu_start) / threads,
          (NowNs(CLOCK_MONOTONIC) - wall_start) / threads};
}

double Median(std::vector<double> values) {
  std::sort(values.begin(), values.end());
  const size_t n = values.size();
  return n % 2 == 1 ? values[n / 2] : (values[n / 2 - 1] + values[n / 2]) / 2;
}

}  // namespace

int main(int argc, char** argv) {
  const int rounds = argc > 1 ? std::atoi(argv[1]) : 11;
  const int threads = argc > 2 ? std::atoi(argv[2]) : 2000;
  const auto direct =
      reinterpret_cast<CreateFn>(dlsym(RTLD_NEXT, "pthread_create"));
  const CreateFn wrapped = pthread_create;
  if (direct == nullptr ||
      reinterpret_cast<void*>(direct) == reinterpret_cast<void*>(wrapped)) {
    std::fprintf(stderr, "no pthread_create behind the agent's\n");
    return 1;
  }
  auto sampler = CpuSampler::Start({});
  if (!sampler.ok()) {
    std::fprintf(stderr, "%s\n", sampler.status().ToString().c_str());
    return 1;
  }
  NullSink sink;
  struct Mode {
    const char* name;
    CreateFn create;
    bool profiling;
    std::vector<double> ns;
    std::vector<double> wall_ns;
  };
  std::vector<Mode> modes = {{"direct, idle", direct, false, {}, {}},
                             {"agent, idle", wrapped, false, {}, {}},
                             {"direct, profiling", direct, true, {}, {}},
                             {"agent, profiling", wrapped, true, {}, {}}};
  NsPerThread(wrapped, threads / 4 + 1);  // warm-up
  std::printf("ns per create+join, CPU (wall):\n");
  for (int round = 0; round < rounds; ++round) {
    std::printf("round %2d:", round);
    for (int k = 0; k < 4; ++k) {
      Mode& mode = modes[round % 2 == 0 ? k : 3 - k];
      if (mode.profiling) (*sampler)->Subscribe(&sink);
      const Cost cost = NsPerThread(mode.create, threads);
      mode.ns.push_back(cost.cpu_ns);
      mode.wall_ns.push_back(cost.wall_ns);
      if (mode.profiling) (*sampler)->Unsubscribe(&sink);
    }
    for (const Mode& mode : modes) {
      std::printf("  %s %.0f (wall %.0f)", mode.name, mode.ns.back(),
                  mode.wall_ns.back());
    }
    std::printf("\n");
  }
  std::printf(
      "\nmedians over %d rounds of %d threads, ns per create+join: CPU "
      "(wall)\n",
      rounds, threads);
  for (const Mode& mode : modes) {
    std::printf("  %-18s %8.0f (%.0f)\n", mode.name, Median(mode.ns),
                Median(mode.wall_ns));
  }
  for (int pair = 0; pair < 2; ++pair) {
    std::vector<double> ratios;
    for (int round = 0; round < rounds; ++round) {
      ratios.push_back(modes[2 * pair + 1].ns[round] /
                       modes[2 * pair].ns[round]);
    }
    std::printf("  median CPU ratio %s / %s: %.3f\n", modes[2 * pair + 1].name,
                modes[2 * pair].name, Median(ratios));
  }
  const inprof::internal::ThreadStartStats stats =
      inprof::internal::GetThreadStartStats();
  std::printf("threads armed at start: %llu, failures %llu, live %llu\n",
              static_cast<unsigned long long>(stats.armed),
              static_cast<unsigned long long>(stats.failures),
              static_cast<unsigned long long>(stats.live));
  return 0;
}
