// Contention profiling costs (BENCHMARKS.md, "Contention"). Built twice:
// contention_benchmark (inprof's primitives only) and
// contention_interposed_benchmark (with inprof::contention_interposer, so
// std::mutex goes through it).
//
//   contention_benchmark uncontended [ROUNDS]
//     One thread, lock+unlock in a loop: std::mutex against inprof::Mutex
//     (and, in the interposed binary, std::mutex through the interposer
//     against glibc's own pthread_mutex_lock/unlock called directly), with
//     the agent running and profiling on. Rounds alternate the order (ABBA);
//     prints ns per lock+unlock and each round's ratio, then the median.
//
//   contention_benchmark contended LOCK [ROUNDS [SECONDS]]
//     LOCK is "inprof" (inprof::Mutex) or "std" (std::mutex). Four threads
//     (INPROF_BENCH_THREADS) take one lock around a short critical section
//     with private work between, continuously. The run alternates OFF slices
//     (block rate and mutex fraction 0) and ON slices (the defaults: 10 µs,
//     1 in 10) in ABBA order; each ON slice is paired with its neighbouring
//     OFF slice, and neighbouring OFF slices give an A/A control. Prints
//     each pair's throughput loss and the medians.
//
//   contention_benchmark agent LOCK [ROUNDS [SECONDS]]
//     The same workload, OFF slices without any agent, ON slices with an
//     agent started with the defaults: what the agent costs in all.
//
//   contention_benchmark labels LOCK [ROUNDS [SECONDS]]
//     The same workload with contention profiling on (the defaults, or
//     INPROF_BENCH_BLOCK_RATE / INPROF_BENCH_MUTEX_FRACTION; both 0: the
//     scopes' cost alone) in every slice; OFF and ON slices (ABBA) differ
//     only in request labels: in ON slices every iteration (lock, critical
//     section, private work) runs inside an inprof::RequestScope (one of
//     four endpoints, in turn). Prints each pair's ratio of operations per
//     wall second and per CPU second of the whole process, with labels over
//     without, the A/A control of the two OFF slices, and the medians.
#include <httplib.h>
#include <pthread.h>
#include <time.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <optional>
#include <sstream>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "inprof/agent.h"
#include "inprof/mutex.h"
#include "inprof/request.h"

#ifdef INPROF_BENCH_INTERPOSED
// glibc's own functions, behind the interposer (see interposer.cc).
extern "C" int inprof_bench_glibc_lock(pthread_mutex_t*);
extern "C" int inprof_bench_glibc_unlock(pthread_mutex_t*);
__asm__(".symver inprof_bench_glibc_lock,__pthread_mutex_lock@GLIBC_2.2.5");
__asm__(".symver inprof_bench_glibc_unlock,__pthread_mutex_unlock@GLIBC_2.2.5");
#endif

namespace {

using Clock = std::chrono::steady_clock;

double Median(std::vector<double> values) {
  std::sort(values.begin(), values.end());
  const size_t n = values.size();
  return n % 2 ? values[n / 2] : (values[n / 2 - 1] + values[n / 2]) / 2;
}

inprof::Agent StartAgent() {
  inprof::Options options;
  options.port = 0;
  auto agent = inprof::Agent::Start(options);
  if (!agent.ok()) {
    std::fprintf(stderr, "%s\n", agent.status().ToString().c_str());
    std::exit(1);
  }
  return std::move(*agent);
}

// --- Uncontended ------------------------------------------------------------

template <typename Lock, typename Unlock>
__attribute__((noinline)) double NanosPerPair(Lock lock, Unlock unlock,
                                              int64_t iterations) {
  const Clock::time_point start = Clock::now();
  for (int64_t i = 0; i < iterations; ++i) {
    lock();
    asm volatile("" ::: "memory");
    unlock();
  }
  return std::chrono::duration<double, std::nano>(Clock::now() - start)
             .count() /
         static_cast<double>(iterations);
}

void Compare(const char* name, const char* base_name, int rounds, auto measure,
             auto measure_base) {
  std::vector<double> ratios, ns, base_ns;
  for (int r = 0; r < rounds; ++r) {
    double a, b;
    if (r % 2 == 0) {
      b = measure_base();
      a = measure();
    } else {
      a = measure();
      b = measure_base();
    }
    ratios.push_back(a / b);
    ns.push_back(a);
    base_ns.push_back(b);
  }
  std::printf(
      "%-34s %6.2f ns   %-30s %6.2f ns   ratio median %.3f (min "
      "%.3f, max %.3f)\n",
      name, Median(ns), base_name, Median(base_ns), Median(ratios),
      *std::min_element(ratios.begin(), ratios.end()),
      *std::max_element(ratios.begin(), ratios.end()));
}

void RunUncontended(int rounds) {
  inprof::Agent agent = StartAgent();
  constexpr int64_t kIterations = 20'000'000;
  std::mutex std_mutex;
  inprof::Mutex inprof_mutex;
  const auto std_pair = [&] {
    return NanosPerPair([&] { std_mutex.lock(); }, [&] { std_mutex.unlock(); },
                        kIterations);
  };
  Compare(
      "inprof::Mutex", "std::mutex", rounds,
      [&] {
        return NanosPerPair([&] { inprof_mutex.lock(); },
                            [&] { inprof_mutex.unlock(); }, kIterations);
      },
      std_pair);
#ifdef INPROF_BENCH_INTERPOSED
  pthread_mutex_t raw = PTHREAD_MUTEX_INITIALIZER;
  Compare("std::mutex via interposer", "glibc pthread_mutex direct", rounds,
          std_pair, [&] {
            return NanosPerPair([&] { inprof_bench_glibc_lock(&raw); },
                                [&] { inprof_bench_glibc_unlock(&raw); },
                                kIterations);
          });
#endif
}

// --- Contended --------------------------------------------------------------

// The labels mode: while set, every iteration runs inside a RequestScope.
std::atomic<bool> g_labels_on{false};
constexpr std::string_view kEndpoints[4] = {
    "GET /users/:id", "POST /users", "GET /orders", "DELETE /sessions/:id"};

template <typename Mutex>
struct Workload {
  Mutex mu;
  uint64_t shared[8] = {};  // guarded by mu
  std::atomic<bool> stop{false};
  std::atomic<uint64_t> ops{0};

  __attribute__((noinline)) void Critical(uint64_t& seed) {
    std::lock_guard<Mutex> guard(mu);
    for (int i = 0; i < 16; ++i) {  // ~50 ns under the lock
      seed = seed * 6364136223846793005u + 1442695040888963407u;
      shared[i & 7] += seed >> 33;
    }
  }
  // kLabels: the labels mode's loop; the other modes run Run<false>, the
  // loop they always ran.
  template <bool kLabels = false>
  void Run(uint64_t seed) {
    uint64_t local = 0;
    const auto iteration = [&] {
      Critical(seed);
      for (int i = 0; i < 100; ++i) {  // ~300 ns of private work
        local = local * 31 + (seed >> (i & 31));
        asm volatile("" : "+r"(local));
      }
      ops.fetch_add(1, std::memory_order_relaxed);
    };
    uint64_t n = 0;
    while (!stop.load(std::memory_order_relaxed)) {
      if constexpr (kLabels) {
        if (g_labels_on.load(std::memory_order_relaxed)) {
          inprof::RequestScope scope(kEndpoints[n++ & 3]);
          iteration();
          continue;
        }
      }
      iteration();
    }
  }
};

// What the agent saw during the ON slices, from /metrics.
void PrintContentionMetrics(const inprof::Agent& agent, double on_seconds) {
  httplib::Client client("127.0.0.1", agent.port());
  httplib::Result result = client.Get("/metrics");
  if (!result) return;
  std::istringstream in(result->body);
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("inprof_contention_", 0) != 0) continue;
    const size_t space = line.rfind(' ');
    const double value = std::atof(line.c_str() + space + 1);
    std::printf("  %s  (%.0f per ON second)\n", line.c_str(),
                value / on_seconds);
  }
}

// Starts the workload's threads (INPROF_BENCH_THREADS, default 4).
template <typename Mutex>
std::vector<std::thread> StartWorkers(Workload<Mutex>& work,
                                      bool labels = false) {
  std::vector<std::thread> threads;
  const char* threads_env = std::getenv("INPROF_BENCH_THREADS");
  const int thread_count = threads_env ? std::atoi(threads_env) : 4;
  for (int t = 0; t < thread_count; ++t) {
    threads.emplace_back([&work, t, labels] {
      const uint64_t seed = 0x9E3779B97F4A7C15u * (t + 1);
      labels ? work.template Run<true>(seed) : work.Run(seed);
    });
  }
  return threads;
}

// Runs `rounds` ABBA rounds of `slice(false)`/`slice(true)` and prints the
// pairs' losses and the medians.
template <typename Slice>
void RunPairs(int rounds, const char* what, Slice slice) {
  slice(false);  // warm-up
  std::vector<double> losses, controls;
  for (int r = 0; r < rounds; ++r) {
    // ABBA: OFF ON ON OFF. Pairs (OFF, ON) twice; the two OFF slices give
    // the A/A control.
    const double off1 = slice(false);
    const double on1 = slice(true);
    const double on2 = slice(true);
    const double off2 = slice(false);
    losses.push_back(100.0 * (1.0 - on1 / off1));
    losses.push_back(100.0 * (1.0 - on2 / off2));
    controls.push_back(100.0 * (1.0 - off2 / off1));
    std::printf(
        "round %2d: OFF %.0f ops/s, ON %.0f, ON %.0f, OFF %.0f: loss "
        "%+.2f%% %+.2f%%, A/A %+.2f%%\n",
        r, off1, on1, on2, off2, losses[losses.size() - 2], losses.back(),
        controls.back());
  }
  std::printf(
      "median throughput loss, %s: %+.2f%% (A/A control %+.2f%%), "
      "%zu pairs\n",
      what, Median(losses), Median(controls), losses.size());
}

template <typename Mutex>
double MeasureSlice(Workload<Mutex>& work, double seconds) {
  const uint64_t before = work.ops.load();
  const Clock::time_point start = Clock::now();
  std::this_thread::sleep_for(std::chrono::duration<double>(seconds));
  const double elapsed =
      std::chrono::duration<double>(Clock::now() - start).count();
  return static_cast<double>(work.ops.load() - before) / elapsed;
}

// OFF: no agent at all; ON: an agent with the default rates.
template <typename Mutex>
void RunAgentOnOff(int rounds, double seconds) {
  Workload<Mutex> work;
  std::vector<std::thread> threads = StartWorkers(work);
  std::optional<inprof::Agent> agent;
  RunPairs(rounds, "agent started vs not", [&](bool on) {
    if (on && !agent) agent.emplace(StartAgent());
    if (!on) agent.reset();
    return MeasureSlice(work, seconds);
  });
  work.stop = true;
  for (std::thread& thread : threads) thread.join();
}

// OFF: profiling off (rates 0); ON: the default rates, or
// INPROF_BENCH_BLOCK_RATE / INPROF_BENCH_MUTEX_FRACTION (to split the cost).
template <typename Mutex>
void RunContended(int rounds, double seconds) {
  inprof::Agent agent = StartAgent();
  Workload<Mutex> work;
  std::vector<std::thread> threads = StartWorkers(work);
  const char* block_env = std::getenv("INPROF_BENCH_BLOCK_RATE");
  const char* fraction_env = std::getenv("INPROF_BENCH_MUTEX_FRACTION");
  const int64_t on_block = block_env ? std::atoll(block_env) : 10000;
  const int64_t on_fraction = fraction_env ? std::atoll(fraction_env) : 10;
  RunPairs(rounds, "contention profiling on vs off", [&](bool on) {
    (void)agent.SetBlockProfileRate(on ? on_block : 0);
    (void)agent.SetMutexProfileFraction(on ? on_fraction : 0);
    return MeasureSlice(work, seconds);
  });
  work.stop = true;
  for (std::thread& thread : threads) thread.join();
  PrintContentionMetrics(agent, rounds * 2 * seconds);
}

double Seconds(clockid_t clock) {
  timespec ts{};
  clock_gettime(clock, &ts);
  return static_cast<double>(ts.tv_sec) + ts.tv_nsec / 1e9;
}

// Counts the records of a ?debug=1 contention profile and those with labels.
void PrintLabeledRecords(const inprof::Agent& agent, const char* path) {
  httplib::Client client("127.0.0.1", agent.port());
  httplib::Result result = client.Get(path);
  if (!result || result->status != 200) {
    std::printf("  GET %s failed\n", path);
    return;
  }
  size_t records = 0, labeled = 0;
  std::istringstream in(result->body);
  std::string line;
  while (std::getline(in, line)) {
    if (line.find(" @ ") != std::string::npos) ++records;
    if (line.rfind("# labels: {\"endpoint\"", 0) == 0) ++labeled;
  }
  std::printf("  %s: %zu records, %zu with an endpoint label\n", path, records,
              labeled);
}

// Profiling on in every slice; OFF and ON differ in labels only.
template <typename Mutex>
void RunLabels(int rounds, double seconds) {
  inprof::Agent agent = StartAgent();
  const char* block_env = std::getenv("INPROF_BENCH_BLOCK_RATE");
  const char* fraction_env = std::getenv("INPROF_BENCH_MUTEX_FRACTION");
  (void)agent.SetBlockProfileRate(block_env ? std::atoll(block_env) : 10000);
  (void)agent.SetMutexProfileFraction(fraction_env ? std::atoll(fraction_env)
                                                   : 10);
  Workload<Mutex> work;
  std::vector<std::thread> threads = StartWorkers(work, /*labels=*/true);
  struct Rates {
    double per_wall_s, per_cpu_s;
  };
  const auto slice = [&](bool on) {
    g_labels_on.store(on, std::memory_order_relaxed);
    const uint64_t before = work.ops.load();
    const double wall0 = Seconds(CLOCK_MONOTONIC);
    const double cpu0 = Seconds(CLOCK_PROCESS_CPUTIME_ID);
    std::this_thread::sleep_for(std::chrono::duration<double>(seconds));
    const double ops = static_cast<double>(work.ops.load() - before);
    return Rates{ops / (Seconds(CLOCK_MONOTONIC) - wall0),
                 ops / (Seconds(CLOCK_PROCESS_CPUTIME_ID) - cpu0)};
  };
  slice(true);  // warm-up; interns the label sets
  std::vector<double> wall, cpu, control;
  for (int r = 0; r < rounds; ++r) {
    const Rates off1 = slice(false);
    const Rates on1 = slice(true);
    const Rates on2 = slice(true);
    const Rates off2 = slice(false);
    wall.push_back(on1.per_wall_s / off1.per_wall_s);
    wall.push_back(on2.per_wall_s / off2.per_wall_s);
    cpu.push_back(on1.per_cpu_s / off1.per_cpu_s);
    cpu.push_back(on2.per_cpu_s / off2.per_cpu_s);
    control.push_back(off2.per_cpu_s / off1.per_cpu_s);
    std::printf(
        "round %2d: ops per CPU s OFF %.0f, ON %.0f, ON %.0f, OFF %.0f: "
        "ratio %.4f %.4f (per wall s %.4f %.4f), A/A %.4f\n",
        r, off1.per_cpu_s, on1.per_cpu_s, on2.per_cpu_s, off2.per_cpu_s,
        cpu[cpu.size() - 2], cpu.back(), wall[wall.size() - 2], wall.back(),
        control.back());
  }
  work.stop = true;
  for (std::thread& thread : threads) thread.join();
  std::vector<double> sorted = cpu;
  std::sort(sorted.begin(), sorted.end());
  std::printf(
      "labels/no-labels, %zu pairs: ops per CPU s median %.4f [IQR %.4f, "
      "%.4f] (A/A %.4f), ops per wall s median %.4f\n",
      cpu.size(), Median(cpu), sorted[sorted.size() / 4],
      sorted[sorted.size() * 3 / 4], Median(control), Median(wall));
  PrintLabeledRecords(agent, "/debug/pprof/mutex?debug=1");
  PrintLabeledRecords(agent, "/debug/pprof/block?debug=1");
}

}  // namespace

int main(int argc, char** argv) {
  const std::string mode = argc > 1 ? argv[1] : "";
  if (mode == "uncontended") {
    RunUncontended(argc > 2 ? std::atoi(argv[2]) : 10);
    return 0;
  }
  if (mode == "labels" && argc > 2) {
    const std::string lock = argv[2];
    const int rounds = argc > 3 ? std::atoi(argv[3]) : 10;
    const double seconds = argc > 4 ? std::atof(argv[4]) : 0.5;
    if (lock == "inprof") {
      RunLabels<inprof::Mutex>(rounds, seconds);
      return 0;
    }
    if (lock == "std") {
      RunLabels<std::mutex>(rounds, seconds);
      return 0;
    }
  }
  if ((mode == "contended" || mode == "agent") && argc > 2) {
    const std::string lock = argv[2];
    const int rounds = argc > 3 ? std::atoi(argv[3]) : 10;
    const double seconds = argc > 4 ? std::atof(argv[4]) : 0.5;
    const bool agent = mode == "agent";
    if (lock == "inprof") {
      agent ? RunAgentOnOff<inprof::Mutex>(rounds, seconds)
            : RunContended<inprof::Mutex>(rounds, seconds);
      return 0;
    }
    if (lock == "std") {
      agent ? RunAgentOnOff<std::mutex>(rounds, seconds)
            : RunContended<std::mutex>(rounds, seconds);
      return 0;
    }
  }
  std::fprintf(stderr,
               "usage: %s uncontended [ROUNDS]\n"
               "       %s contended|agent|labels inprof|std [ROUNDS "
               "[SECONDS]]\n",
               argv[0], argv[0]);
  return 2;
}
