// Heap sampling overhead and heap-profile serving cost (BENCHMARKS.md,
// "Heap"). Linked with tcmalloc, as a host that wants heap profiles is.
//
//   heap_overhead_benchmark overhead [ROUNDS [SECONDS]]
//     Two worker threads run an allocation-heavy workload continuously. The
//     run alternates OFF slices (agent not started) and ON slices (agent
//     started, heap sampling at 512 KiB) in ABBA order and pairs each ON
//     slice with its neighbouring OFF slice; it prints each pair's slowdown
//     and the median. Two workloads: "mixed" (strings and a hash map, a
//     server-like mix of allocation and work) and "malloc" (malloc/free of
//     small blocks and nothing else: the worst case).
//
//     INPROF_HEAP_RATE (e.g. 0: hooks installed, no sampling) applies to
//     the ON slices.
//
//   heap_overhead_benchmark labels|labels-unprofiled [ROUNDS [SECONDS]]
//     The same workloads, with heap sampling on for the whole run (labels;
//     INPROF_HEAP_RATE applies) or no agent at all (labels-unprofiled). OFF
//     and ON slices (ABBA) differ only in request labels: in ON slices every
//     unit of work runs inside an inprof::RequestScope (one of four
//     endpoints, in turn). Per pair: slowdown of units per wall second and
//     of units per CPU second of the whole process (agent threads
//     included), and the A/A control of the two OFF slices of a round.
//
//   heap_overhead_benchmark serve [STACKS]
//     Records STACKS (default 10,000) distinct allocation stacks at rate 1,
//     then times GET /debug/pprof/heap: the first request (symbolizing every
//     frame) and the median of 5 later ones.
#include <httplib.h>
#include <time.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <unordered_map>
#include <vector>

#include "inprof/agent.h"
#include "inprof/request.h"
#include "tests/bench/alloc_workload.h"

namespace {

using Clock = std::chrono::steady_clock;

// --- Workloads ------------------------------------------------------------

struct Worker {
  std::atomic<uint64_t> units{0};
};

// The labels modes: while set, every unit runs inside a RequestScope.
std::atomic<bool> g_labels_on{false};
constexpr std::string_view kEndpoints[4] = {
    "GET /users/:id", "POST /users", "GET /orders", "DELETE /sessions/:id"};

// kLabels: the labels modes' loop; the other modes run RunWorkload<false>,
// the loop they always ran.
template <bool kLabels>
void RunWorkload(const std::string& workload, Worker& worker,
                 const std::atomic<bool>& stop) {
  inprof_bench::AllocWorkload state(
      static_cast<uint32_t>(reinterpret_cast<uintptr_t>(&worker)));
  const bool mixed = workload == "mixed";
  const auto unit = [&] {
    if (mixed) {
      inprof_bench::MixedUnit(state);
    } else {
      inprof_bench::MallocUnit(state);
    }
  };
  while (!stop.load(std::memory_order_relaxed)) {
    if constexpr (kLabels) {
      if (g_labels_on.load(std::memory_order_relaxed)) {
        for (int i = 0; i < 256; ++i) {
          inprof::RequestScope scope(kEndpoints[i & 3]);
          unit();
        }
        worker.units.fetch_add(256, std::memory_order_relaxed);
        continue;
      }
    }
    for (int i = 0; i < 256; ++i) unit();
    worker.units.fetch_add(256, std::memory_order_relaxed);
  }
  if (state.sink == 42) std::puts("");  // keep `sink` alive
}

// --- Overhead ---------------------------------------------------------------

double Rate(Worker* workers, int n, double seconds) {
  uint64_t before = 0, after = 0;
  for (int i = 0; i < n; ++i) before += workers[i].units.load();
  std::this_thread::sleep_for(std::chrono::duration<double>(seconds));
  for (int i = 0; i < n; ++i) after += workers[i].units.load();
  return static_cast<double>(after - before) / seconds;
}

double Median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  size_t n = v.size();
  return n % 2 == 1 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

void Overhead(const std::string& workload, int rounds, double seconds) {
  constexpr int kThreads = 2;
  Worker workers[kThreads];
  std::atomic<bool> stop{false};
  std::vector<std::thread> threads;
  for (Worker& w : workers) {
    threads.emplace_back(
        [&, workload] { RunWorkload<false>(workload, w, stop); });
  }
  Rate(workers, kThreads, 1.0);  // warm-up
  std::vector<double> slowdowns;
  for (int round = 0; round < rounds; ++round) {
    // ABBA: OFF ON ON OFF, ... pairs (OFF, ON) and (ON, OFF).
    const bool on_first = round % 2 == 1;
    double off = 0, on = 0;
    for (int half = 0; half < 2; ++half) {
      const bool on_now = (half == 0) == on_first;
      if (on_now) {
        // INPROF_HEAP_RATE=0 installs the hooks but takes no samples: the
        // cost of tcmalloc's hook path alone.
        inprof::Options options = inprof::Options::FromEnvironment();
        options.port = 0;
        auto agent = inprof::Agent::Start(options);
        if (!agent.ok()) {
          std::fprintf(stderr, "%s\n", agent.status().ToString().c_str());
          std::exit(1);
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(100));
        on = Rate(workers, kThreads, seconds);
      } else {
        std::this_thread::sleep_for(std::chrono::milliseconds(100));
        off = Rate(workers, kThreads, seconds);
      }
    }
    const double slowdown = (off / on - 1) * 100;
    slowdowns.push_back(slowdown);
    std::printf(
        "workload=%s round=%d off_units_per_s=%.0f on_units_per_s=%.0f "
        "slowdown_pct=%.2f\n",
        workload.c_str(), round, off, on, slowdown);
    std::fflush(stdout);
  }
  stop = true;
  for (std::thread& t : threads) t.join();
  std::vector<double> sorted = slowdowns;
  std::sort(sorted.begin(), sorted.end());
  std::printf(
      "workload=%s summary rounds=%d median_slowdown_pct=%.2f "
      "q1=%.2f q3=%.2f\n",
      workload.c_str(), rounds, Median(slowdowns), sorted[sorted.size() / 4],
      sorted[sorted.size() * 3 / 4]);
}

// --- Labels on every unit vs none, profiling on in both ------------------

double Seconds(clockid_t clock) {
  timespec ts{};
  clock_gettime(clock, &ts);
  return static_cast<double>(ts.tv_sec) + ts.tv_nsec / 1e9;
}

struct SliceRates {
  double per_wall_s = 0;
  double per_cpu_s = 0;  // per CPU second of the whole process
};

SliceRates Slice(Worker* workers, int n, double seconds) {
  uint64_t before = 0, after = 0;
  const double wall0 = Seconds(CLOCK_MONOTONIC);
  const double cpu0 = Seconds(CLOCK_PROCESS_CPUTIME_ID);
  for (int i = 0; i < n; ++i) before += workers[i].units.load();
  std::this_thread::sleep_for(std::chrono::duration<double>(seconds));
  for (int i = 0; i < n; ++i) after += workers[i].units.load();
  const double wall1 = Seconds(CLOCK_MONOTONIC);
  const double cpu1 = Seconds(CLOCK_PROCESS_CPUTIME_ID);
  const double units = static_cast<double>(after - before);
  return {units / (wall1 - wall0), units / (cpu1 - cpu0)};
}

// Counts the records of /debug/pprof/allocs?debug=1 and those with labels.
void PrintLabeledRecords(int port) {
  httplib::Client client("127.0.0.1", port);
  client.set_read_timeout(std::chrono::seconds(120));
  httplib::Result result = client.Get("/debug/pprof/allocs?debug=1");
  if (!result || result->status != 200) {
    std::fprintf(stderr, "GET /debug/pprof/allocs?debug=1 failed\n");
    std::exit(1);
  }
  size_t records = 0, labeled = 0;
  for (size_t at = 0; at < result->body.size();) {
    size_t end = result->body.find('\n', at);
    if (end == std::string::npos) end = result->body.size();
    const std::string_view line(result->body.data() + at, end - at);
    if (line.find(" @ ") != std::string_view::npos) ++records;
    if (line.rfind("# labels: {\"endpoint\"", 0) == 0) ++labeled;
    at = end + 1;
  }
  std::printf("allocs profile: %zu records, %zu with an endpoint label\n",
              records, labeled);
}

void LabelsOverhead(const std::string& workload, bool profiled, int rounds,
                    double seconds) {
  std::optional<inprof::Agent> agent;
  if (profiled) {
    inprof::Options options = inprof::Options::FromEnvironment();
    options.port = 0;
    auto started = inprof::Agent::Start(options);
    if (!started.ok()) {
      std::fprintf(stderr, "%s\n", started.status().ToString().c_str());
      std::exit(1);
    }
    agent.emplace(std::move(*started));
  }
  constexpr int kThreads = 2;
  Worker workers[kThreads];
  std::atomic<bool> stop{false};
  std::vector<std::thread> threads;
  for (Worker& w : workers) {
    threads.emplace_back(
        [&, workload] { RunWorkload<true>(workload, w, stop); });
  }
  const auto slice = [&](bool on) {
    g_labels_on.store(on, std::memory_order_relaxed);
    return Slice(workers, kThreads, seconds);
  };
  slice(true);  // warm-up; interns the label sets
  std::vector<double> wall_ratios, cpu_ratios, cpu_controls;
  for (int round = 0; round < rounds; ++round) {
    // ABBA: OFF ON ON OFF; pairs (OFF, ON) and (ON, OFF); the two OFF
    // slices give the A/A control.
    const SliceRates off1 = slice(false);
    const SliceRates on1 = slice(true);
    const SliceRates on2 = slice(true);
    const SliceRates off2 = slice(false);
    wall_ratios.push_back(on1.per_wall_s / off1.per_wall_s);
    wall_ratios.push_back(on2.per_wall_s / off2.per_wall_s);
    cpu_ratios.push_back(on1.per_cpu_s / off1.per_cpu_s);
    cpu_ratios.push_back(on2.per_cpu_s / off2.per_cpu_s);
    cpu_controls.push_back(off2.per_cpu_s / off1.per_cpu_s);
    std::printf(
        "workload=%s labels round=%d off_units_per_cpu_s=%.0f "
        "on_units_per_cpu_s=%.0f,%.0f off2=%.0f cpu_ratio=%.4f,%.4f "
        "wall_ratio=%.4f,%.4f\n",
        workload.c_str(), round, off1.per_cpu_s, on1.per_cpu_s, on2.per_cpu_s,
        off2.per_cpu_s, cpu_ratios[cpu_ratios.size() - 2], cpu_ratios.back(),
        wall_ratios[wall_ratios.size() - 2], wall_ratios.back());
    std::fflush(stdout);
  }
  stop = true;
  for (std::thread& t : threads) t.join();
  g_labels_on = false;
  std::vector<double> sorted = cpu_ratios;
  std::sort(sorted.begin(), sorted.end());
  std::printf(
      "workload=%s summary %s pairs=%zu labels/no-labels units per CPU s: "
      "median %.4f [IQR %.4f, %.4f], A/A %.4f; per wall s: median %.4f\n",
      workload.c_str(), profiled ? "profiled" : "unprofiled", cpu_ratios.size(),
      Median(cpu_ratios), sorted[sorted.size() / 4],
      sorted[sorted.size() * 3 / 4], Median(cpu_controls), Median(wall_ratios));
  if (agent.has_value()) PrintLabeledRecords(agent->port());
}

// --- Serving a profile with many stacks ------------------------------------

// 2^depth distinct call paths, told apart by which of two functions each
// level calls.
__attribute__((noinline)) void Leaf(std::vector<void*>& kept) {
  kept.push_back(std::malloc(64));
}
__attribute__((noinline)) void Left(int depth, uint32_t path,
                                    std::vector<void*>& kept);
__attribute__((noinline)) void Right(int depth, uint32_t path,
                                     std::vector<void*>& kept);
void Branch(int depth, uint32_t path, std::vector<void*>& kept) {
  if (depth == 0) return Leaf(kept);
  if (path & 1) {
    Right(depth - 1, path >> 1, kept);
  } else {
    Left(depth - 1, path >> 1, kept);
  }
}
void Left(int depth, uint32_t path, std::vector<void*>& kept) {
  Branch(depth, path, kept);
  asm volatile("" ::: "memory");
}
void Right(int depth, uint32_t path, std::vector<void*>& kept) {
  Branch(depth, path, kept);
  asm volatile("" ::: "memory");
}

double FetchMs(int port) {
  httplib::Client client("127.0.0.1", port);
  client.set_read_timeout(std::chrono::seconds(120));
  Clock::time_point start = Clock::now();
  httplib::Result result = client.Get("/debug/pprof/heap");
  double ms =
      std::chrono::duration<double, std::milli>(Clock::now() - start).count();
  if (!result || result->status != 200) {
    std::fprintf(stderr, "fetch failed\n");
    std::exit(1);
  }
  return ms;
}

void Serve(int stacks) {
  inprof::Options options;
  options.port = 0;
  options.heap_sample_rate = 1;
  auto agent = inprof::Agent::Start(options);
  if (!agent.ok()) {
    std::fprintf(stderr, "%s\n", agent.status().ToString().c_str());
    std::exit(1);
  }
  void* volatile rearm = std::malloc(64 << 20);  // draw at rate 1 now
  std::free(rearm);
  std::vector<void*> kept;
  kept.reserve(stacks);
  int depth = 0;
  while ((1 << depth) < stacks) ++depth;
  for (int path = 0; path < stacks; ++path) Branch(depth, path, kept);
  if (!agent->SetHeapSampleRate(512 * 1024).ok()) std::exit(1);
  const double first = FetchMs(agent->port());
  std::vector<double> later;
  for (int i = 0; i < 5; ++i) later.push_back(FetchMs(agent->port()));
  std::printf(
      "serve stacks=%d depth=%d first_request_ms=%.1f "
      "median_later_request_ms=%.1f\n",
      stacks, depth + 4, first, Median(later));
  for (void* p : kept) std::free(p);
}

}  // namespace

int main(int argc, char** argv) {
  const std::string mode = argc > 1 ? argv[1] : "overhead";
  if (mode == "overhead") {
    const int rounds = argc > 2 ? std::atoi(argv[2]) : 20;
    const double seconds = argc > 3 ? std::atof(argv[3]) : 1.0;
    Overhead("mixed", rounds, seconds);
    Overhead("malloc", rounds, seconds);
  } else if (mode == "labels" || mode == "labels-unprofiled") {
    const int rounds = argc > 2 ? std::atoi(argv[2]) : 20;
    const double seconds = argc > 3 ? std::atof(argv[3]) : 1.0;
    LabelsOverhead("mixed", mode == "labels", rounds, seconds);
    LabelsOverhead("malloc", mode == "labels", rounds, seconds);
  } else if (mode == "serve") {
    Serve(argc > 2 ? std::atoi(argv[2]) : 10000);
  } else {
    std::fprintf(stderr,
                 "usage: %s overhead|labels|labels-unprofiled [ROUNDS "
                 "[SECONDS]] | serve [STACKS]\n",
                 argv[0]);
    return 2;
  }
  return 0;
}
