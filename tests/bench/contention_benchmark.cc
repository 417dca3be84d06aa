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
#include <httplib.h>
#include <pthread.h>

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
#include <thread>
#include <vector>

#include "inprof/agent.h"
#include "inprof/mutex.h"

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
  void Run(uint64_t seed) {
    uint64_t local = 0;
    while (!stop.load(std::memory_order_relaxed)) {
      Critical(seed);
      for (int i = 0; i < 100; ++i) {  // ~300 ns of private work
        local = local * 31 + (seed >> (i & 31));
        asm volatile("" : "+r"(local));
      }
      ops.fetch_add(1, std::memory_order_relaxed);
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
std::vector<std::thread> StartWorkers(Workload<Mutex>& work) {
  std::vector<std::thread> threads;
  const char* threads_env = std::getenv("INPROF_BENCH_THREADS");
  const int thread_count = threads_env ? std::atoi(threads_env) : 4;
  for (int t = 0; t < thread_count; ++t) {
    threads.emplace_back(
        [&work, t] { work.Run(0x9E3779B97F4A7C15u * (t + 1)); });
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

}  // namespace

int main(int argc, char** argv) {
  const std::string mode = argc > 1 ? argv[1] : "";
  if (mode == "uncontended") {
    RunUncontended(argc > 2 ? std::atoi(argv[2]) : 10);
    return 0;
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
               "       %s contended|agent inprof|std [ROUNDS [SECONDS]]\n",
               argv[0], argv[0]);
  return 2;
}
