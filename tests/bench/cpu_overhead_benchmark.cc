// The CPU-overhead benchmark of issue 2, item 9: throughput of a CPU-bound
// two-thread program while a 100 Hz CPU profile is being taken, by inprof or
// by gperftools' libprofiler, against the same program with no profiler.
//
//   cpu_overhead_benchmark --mode=none|inprof|inprof_warm|gperftools
//       [--seconds=5] [--threads=2] [--warmup_ms=1000] [--profile_out=PATH]
//   cpu_overhead_benchmark
//       --mode=interleaved-inprof|interleaved-gperftools|interleaved-none
//       [--seconds=5] [--pairs=60] [--threads=2] [--warmup_ms=1000]
//   cpu_overhead_benchmark
//       --mode=interleaved-labels|interleaved-labels-unprofiled [...]
//   cpu_overhead_benchmark
//       --mode=interleaved-autocapture|interleaved-autocapture-blocking [...]
//
// One run of the first form measures one mode and prints one line of
// key=value pairs; the alternation of modes, the rounds and the medians are
// in tests/bench/run_cpu_overhead.sh, and the figures in BENCHMARKS.md.
//
// The interleaved modes measure inside ONE process, so the process-to-process
// variation (code placement, page colouring, what else the machine runs in
// that minute: +-5% of throughput here) cancels. See the comment above
// InterleavedMain(); tests/bench/run_cpu_overhead_interleaved.sh runs them.
//
// The two labels modes are interleaved too, but ON and OFF differ only in
// request labels: in ON slices every request runs inside an
// inprof::RequestScope (one of four endpoints, in turn), in OFF slices none
// does. interleaved-labels takes a profile in every slice, ON and OFF alike
// (profiling on in both halves); interleaved-labels-unprofiled starts no
// agent, so it measures the scopes alone.
//
// The two autocapture modes (issue 14, item 8) are interleaved too; every
// request runs inside a RequestScope in both halves and the agent runs in
// both, and ON and OFF differ only in auto-capture: each ON slice turns it on
// (POST /debug/pprof/autocapture?enabled=1, threshold 60 s, so no request is
// slow) before its first snapshot and off (enabled=0) after its last, as a
// user would with curl. interleaved-autocapture runs the CPU-bound requests;
// in interleaved-autocapture-blocking each request is one work unit (64
// requests' work, ~10 us of CPU) followed by a 1 ms sleep inside the scope, so
// the wall sampler has blocked threads to signal and the figure per wall
// second is the one a thread-per-request server would see.
//
// All modes are the same binary, so the workload's machine code and its
// addresses are identical between them (a 1% figure is within reach of
// code-alignment effects). libprofiler is dlopen()ed by the gperftools mode
// only; the inprof agent is linked in but only started by the inprof modes,
// and an unstarted agent has no thread, timer or signal handler.
//
// The measured window:
//   none:       S seconds of sleep on the main thread.
//   inprof:     from sending GET /debug/pprof/profile?seconds=S to having the
//               whole 200 response, so the agent's symbolization, encoding
//               and gzip (which run while the workers keep working) count.
//               This is the process's first profile: the symbolizer starts
//               cold (reads and indexes the DWARF of every module).
//   inprof_warm: the same, after a 1 s profile fetched during the warm-up,
//               as for the second and later fetches of a long-running
//               server (the agent keeps its symbolizer between requests).
//   gperftools: from ProfilerStart() to the return of ProfilerStop(), which
//               writes the profile file.
// Throughput is work units completed by the workers inside the window,
// divided by the window's wall time.

#include <dirent.h>
#include <dlfcn.h>
#include <httplib.h>
#include <pthread.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <chrono>
#include <cinttypes>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iterator>
#include <map>
#include <memory>
#include <optional>
#include <sstream>
#include <string>
#include <string_view>
#include <thread>
#include <unordered_map>
#include <utility>
#include <vector>

#include "agent/profile/decode.h"
#include "agent/sources/cpu_source.h"
#include "inprof/agent.h"
#include "inprof/request.h"

namespace inprof::bench {
namespace {

// ---------------------------------------------------------------------------
// The workload: a toy request handler. Each request formats a name, looks it
// up in or updates a per-thread hash map (node allocation and freeing), and
// scores it with a few rounds of integer mixing. The calls are kept out of
// line so a sample's stack is about a dozen frames deep, as in a server, and
// the unwinder has real work to do.
// ---------------------------------------------------------------------------

constexpr uint64_t kKeySpace = 1 << 14;  // table settles near 10k entries
constexpr int kRequestsPerUnit = 64;

struct Entry {
  uint64_t hits = 0;
  std::string name;  // past the small-string buffer half of the time
};

using Table = std::unordered_map<uint64_t, Entry>;

struct Request {
  uint64_t key;
  uint32_t op;  // 0..9: 0-4 lookup, 5-7 upsert, 8-9 erase
  char name[48];
};

uint64_t NextRandom(uint64_t& state) {
  state ^= state << 13;
  state ^= state >> 7;
  state ^= state << 17;
  return state;
}

__attribute__((noinline)) uint64_t MixRound(uint64_t x, int rounds) {
  if (rounds == 0) return x;
  x ^= x >> 33;
  x *= 0xff51afd7ed558ccdULL;
  x ^= x >> 33;
  x *= 0xc4ceb9fe1a85ec53ULL;
  x ^= x >> 33;
  return MixRound(x, rounds - 1) + static_cast<uint64_t>(rounds);
}

__attribute__((noinline)) uint64_t ScoreRequest(const Request& request) {
  uint64_t h = std::hash<std::string_view>()(request.name);
  return MixRound(h ^ request.key, 6);
}

__attribute__((noinline)) void DecodeRequest(uint64_t& rng, Request& request) {
  uint64_t r = NextRandom(rng);
  request.key = r % kKeySpace;
  request.op = static_cast<uint32_t>((r >> 20) % 10);
  // Every other name is too long for std::string's inline buffer.
  std::snprintf(request.name, sizeof(request.name),
                (r >> 40) & 1 ? "user-%" PRIu64 "-session-%" PRIx64
                              : "u%" PRIu64 "-%" PRIx64,
                request.key, (r >> 44) & 0xffff);
}

__attribute__((noinline)) uint64_t UpsertEntry(Table& table,
                                               const Request& request) {
  Entry& entry = table[request.key];
  if (entry.hits++ == 0) entry.name = request.name;
  return entry.hits;
}

__attribute__((noinline)) uint64_t ApplyToTable(Table& table,
                                                const Request& request) {
  if (request.op < 5) {
    auto it = table.find(request.key);
    return it == table.end() ? 0 : it->second.hits + it->second.name.size();
  }
  if (request.op < 8) return UpsertEntry(table, request);
  return table.erase(request.key);
}

__attribute__((noinline)) uint64_t HandleRequest(uint64_t& rng, Table& table) {
  Request request;
  DecodeRequest(rng, request);
  uint64_t result = ApplyToTable(table, request);
  return result + ScoreRequest(request);
}

// One work unit.
__attribute__((noinline)) uint64_t HandleBatch(uint64_t& rng, Table& table) {
  uint64_t sum = 0;
  for (int i = 0; i < kRequestsPerUnit; ++i) sum += HandleRequest(rng, table);
  return sum;
}

// The labels modes' work unit: the same requests, each inside a
// RequestScope while g_labels_on is set (checked once per unit).
std::atomic<bool> g_labels_on{false};
constexpr std::string_view kEndpoints[4] = {
    "GET /users/:id", "POST /users", "GET /orders", "DELETE /sessions/:id"};

__attribute__((noinline)) uint64_t HandleBatchLabeled(uint64_t& rng,
                                                      Table& table) {
  uint64_t sum = 0;
  if (!g_labels_on.load(std::memory_order_relaxed)) {
    for (int i = 0; i < kRequestsPerUnit; ++i) {
      sum += HandleRequest(rng, table);
    }
    return sum;
  }
  for (int i = 0; i < kRequestsPerUnit; ++i) {
    RequestScope scope(kEndpoints[i & 3]);
    sum += HandleRequest(rng, table);
  }
  return sum;
}

// Per-worker counters, each on its own cache line so the main thread's
// reads do not slow the workers down.
struct alignas(64) WorkerSlot {
  std::atomic<uint64_t> units{0};
  std::atomic<uint64_t> sink{0};
  // The loop's return address, inside this worker's TaggedEntry<I>: found
  // in a profile's stacks, it says which worker a sample came from.
  std::atomic<uintptr_t> tag{0};
};

// kLabels: the labels modes' loop (HandleBatchLabeled); the other modes run
// WorkerLoop<false>, which is the loop they always ran.
template <bool kLabels>
__attribute__((noinline)) void WorkerLoop(const std::atomic<bool>& stop,
                                          uint64_t seed, WorkerSlot& slot) {
  slot.tag.store(reinterpret_cast<uintptr_t>(__builtin_return_address(0)));
  Table table;
  uint64_t rng = seed;
  uint64_t sink = 0;
  uint64_t units = 0;
  while (!stop.load(std::memory_order_relaxed)) {
    sink += kLabels ? HandleBatchLabeled(rng, table) : HandleBatch(rng, table);
    slot.units.store(++units, std::memory_order_relaxed);
  }
  slot.sink.store(sink, std::memory_order_relaxed);
}

// interleaved-autocapture-blocking: one unit is one request, a unit's work
// then a 1 ms sleep, inside a RequestScope (always on in that mode).
__attribute__((noinline)) void BlockingWorkerLoop(const std::atomic<bool>& stop,
                                                  uint64_t seed,
                                                  WorkerSlot& slot) {
  Table table;
  uint64_t rng = seed;
  uint64_t sink = 0;
  uint64_t units = 0;
  while (!stop.load(std::memory_order_relaxed)) {
    {
      RequestScope scope(kEndpoints[units & 3]);
      sink += HandleBatch(rng, table);
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    slot.units.store(++units, std::memory_order_relaxed);
  }
  slot.sink.store(sink, std::memory_order_relaxed);
}

enum class Workload { kPlain, kLabels, kBlocking };

// Worker i runs its loop under TaggedEntry<i % kTaggedEntries>, a function of
// its own, so that a profile's stacks tell the workers apart (gperftools'
// profiles carry no thread ids): the split of samples between the threads
// is compared with the split of their CPU time.
using WorkerLoopFn = void (*)(const std::atomic<bool>&, uint64_t, WorkerSlot&);
constexpr int kTaggedEntries = 64;

template <int I>
__attribute__((noinline)) void TaggedEntry(WorkerLoopFn loop,
                                           const std::atomic<bool>& stop,
                                           uint64_t seed, WorkerSlot& slot) {
  loop(stop, seed, slot);
  asm volatile("" ::: "memory");  // not a tail call: this frame stays
}

using TaggedEntryFn = void (*)(WorkerLoopFn, const std::atomic<bool>&, uint64_t,
                               WorkerSlot&);

template <int... I>
constexpr std::array<TaggedEntryFn, sizeof...(I)> MakeTaggedEntries(
    std::integer_sequence<int, I...>) {
  return {&TaggedEntry<I>...};
}
constexpr std::array<TaggedEntryFn, kTaggedEntries> kTaggedEntryFns =
    MakeTaggedEntries(std::make_integer_sequence<int, kTaggedEntries>{});

int64_t ClockNanos(clockid_t clock) {
  timespec ts{};
  clock_gettime(clock, &ts);
  return ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

// A point in time as the benchmark sees it.
struct Snapshot {
  int64_t wall_ns = 0;
  int64_t process_cpu_ns = 0;
  int64_t worker_cpu_ns = 0;
  std::vector<int64_t> thread_cpu_ns;  // per worker
  uint64_t units = 0;
};

// The worker threads. Not thread-safe: owned by the main thread.
class Workers {
 public:
  explicit Workers(int count, Workload workload = Workload::kPlain)
      : slots_(count) {
    WorkerLoopFn loop = workload == Workload::kLabels     ? WorkerLoop<true>
                        : workload == Workload::kBlocking ? BlockingWorkerLoop
                                                          : WorkerLoop<false>;
    for (int i = 0; i < count; ++i) {
      threads_.emplace_back(kTaggedEntryFns[i % kTaggedEntries], loop,
                            std::cref(stop_), 0x9e3779b97f4a7c15ULL * (i + 1),
                            std::ref(slots_[i]));
    }
  }
  Workers(const Workers&) = delete;
  Workers& operator=(const Workers&) = delete;
  ~Workers() { Stop(); }

  // The process CPU clock is read before and after the workers' clocks and
  // averaged, so that the workers' progress while their clocks are read
  // does not show up as negative CPU of the other threads.
  Snapshot Take() {
    Snapshot s;
    s.wall_ns = ClockNanos(CLOCK_MONOTONIC);
    int64_t process_before = ClockNanos(CLOCK_PROCESS_CPUTIME_ID);
    for (size_t i = 0; i < threads_.size(); ++i) {
      s.units += slots_[i].units.load(std::memory_order_relaxed);
      clockid_t clock;
      const int64_t cpu_ns =
          pthread_getcpuclockid(threads_[i].native_handle(), &clock) == 0
              ? ClockNanos(clock)
              : 0;
      s.worker_cpu_ns += cpu_ns;
      s.thread_cpu_ns.push_back(cpu_ns);
    }
    int64_t process_after = ClockNanos(CLOCK_PROCESS_CPUTIME_ID);
    s.process_cpu_ns = process_before + (process_after - process_before) / 2;
    return s;
  }

  // Each worker's tag (WorkerSlot::tag); 0 while it has not started.
  std::vector<uintptr_t> Tags() const {
    std::vector<uintptr_t> tags;
    for (const WorkerSlot& slot : slots_) tags.push_back(slot.tag.load());
    return tags;
  }

  void Stop() {
    stop_ = true;
    for (std::thread& t : threads_) {
      if (t.joinable()) t.join();
    }
  }

 private:
  std::atomic<bool> stop_{false};
  std::vector<WorkerSlot> slots_;
  std::vector<std::thread> threads_;
};

// ---------------------------------------------------------------------------
// Flags and modes.
// ---------------------------------------------------------------------------

struct Flags {
  std::string mode;
  int seconds = 5;
  int threads = 2;
  int warmup_ms = 1000;
  int hz = 100;    // sampling rate of both profilers
  int pairs = 60;  // interleaved modes: measured (OFF, ON) pairs
  // The agent's heap sampling rate (bytes; 0 off); -1: the agent's default.
  // Its heap samples unwind with the same code as the CPU handler, so a
  // comparison of CPU profilers alone turns it off (run_cpu_handler_cost.sh).
  int64_t heap_rate = -1;
  std::string profile_out;  // empty: a temporary file, removed afterwards

  bool interleaved() const { return mode.rfind("interleaved-", 0) == 0; }
  bool labels() const { return mode.rfind("interleaved-labels", 0) == 0; }
  // ON and OFF differ in auto-capture; requests are labelled in both.
  bool autocapture() const {
    return mode.rfind("interleaved-autocapture", 0) == 0;
  }
  bool blocking() const { return mode == "interleaved-autocapture-blocking"; }
  Workload workload() const {
    if (blocking()) return Workload::kBlocking;
    return labels() || autocapture() ? Workload::kLabels : Workload::kPlain;
  }
  // Both halves of a pair take a profile (ON and OFF differ in labels).
  bool profile_both() const { return mode == "interleaved-labels"; }
  // ON slices (all slices: profile_both) fetch a CPU profile.
  bool fetches_profile() const {
    return mode == "interleaved-inprof" || mode == "interleaved-labels";
  }
  // The agent is started.
  bool agent() const { return fetches_profile() || autocapture(); }
};

bool ParseFlags(int argc, char** argv, Flags& flags) {
  for (int i = 1; i < argc; ++i) {
    std::string_view arg = argv[i];
    auto take = [&](std::string_view name, std::string& value) {
      if (arg.substr(0, name.size()) != name) return false;
      value = std::string(arg.substr(name.size()));
      return true;
    };
    std::string value;
    if (take("--mode=", value)) {
      flags.mode = value;
    } else if (take("--seconds=", value)) {
      flags.seconds = std::atoi(value.c_str());
    } else if (take("--threads=", value)) {
      flags.threads = std::atoi(value.c_str());
    } else if (take("--warmup_ms=", value)) {
      flags.warmup_ms = std::atoi(value.c_str());
    } else if (take("--hz=", value)) {
      flags.hz = std::atoi(value.c_str());
    } else if (take("--heap_rate=", value)) {
      flags.heap_rate = std::atoll(value.c_str());
    } else if (take("--pairs=", value)) {
      flags.pairs = std::atoi(value.c_str());
    } else if (take("--profile_out=", value)) {
      flags.profile_out = value;
    } else {
      std::fprintf(stderr, "unknown argument: %s\n", argv[i]);
      return false;
    }
  }
  if (flags.mode != "none" && flags.mode != "inprof" &&
      flags.mode != "inprof_warm" && flags.mode != "gperftools" &&
      flags.mode != "interleaved-inprof" &&
      flags.mode != "interleaved-gperftools" &&
      flags.mode != "interleaved-none" && flags.mode != "interleaved-labels" &&
      flags.mode != "interleaved-labels-unprofiled" &&
      flags.mode != "interleaved-autocapture" &&
      flags.mode != "interleaved-autocapture-blocking") {
    std::fprintf(stderr,
                 "--mode must be none, inprof, inprof_warm, gperftools, "
                 "interleaved-inprof, interleaved-gperftools, "
                 "interleaved-none, interleaved-labels, "
                 "interleaved-labels-unprofiled, interleaved-autocapture or "
                 "interleaved-autocapture-blocking\n");
    return false;
  }
  if (flags.pairs < 2 || flags.pairs % 2 != 0) {
    std::fprintf(stderr, "--pairs must be even and >= 2 (ABBA blocks)\n");
    return false;
  }
  if (flags.seconds < 1 || flags.threads < 1 || flags.warmup_ms < 0) {
    std::fprintf(stderr, "--seconds and --threads must be >= 1\n");
    return false;
  }
  if (flags.hz < 1 || flags.hz > 1000) {
    std::fprintf(stderr, "--hz must be within [1, 1000]\n");
    return false;
  }
  return true;
}

std::optional<std::string> ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return std::nullopt;
  return std::string(std::istreambuf_iterator<char>(in), {});
}

bool WriteFile(const std::string& path, const std::string& data) {
  std::ofstream out(path, std::ios::binary);
  out << data;
  return static_cast<bool>(out);
}

// Counts the samples in a gperftools (legacy binary) CPU profile: a header
// of five words (0, 3, 0, period in microseconds, 0), then records of
// (count, depth, pc...), ended by the record (0, 1, 0). All words are
// uintptr_t in native byte order. Returns -1 if the file does not parse.
// One stack of a profile and its sample count.
struct StackRecord {
  int64_t count = 0;
  std::vector<uint64_t> addresses;  // leaf first
};

int64_t CountLegacySamples(const std::string& data, int64_t& period_us,
                           std::vector<StackRecord>* records = nullptr) {
  size_t words = data.size() / sizeof(uintptr_t);
  auto word = [&](size_t i) {
    uintptr_t w;
    std::memcpy(&w, data.data() + i * sizeof(uintptr_t), sizeof(w));
    return w;
  };
  if (words < 5 || word(0) != 0 || word(1) != 3) return -1;
  period_us = static_cast<int64_t>(word(3));
  int64_t samples = 0;
  size_t i = 5;
  while (i + 2 <= words) {
    uintptr_t count = word(i), depth = word(i + 1);
    if (count == 0 && depth == 1) return samples;  // the trailer
    samples += static_cast<int64_t>(count);
    if (records != nullptr && i + 2 + depth <= words) {
      StackRecord record;
      record.count = static_cast<int64_t>(count);
      for (size_t k = 0; k < depth; ++k) {
        record.addresses.push_back(word(i + 2 + k));
      }
      records->push_back(std::move(record));
    }
    i += 2 + depth;
  }
  return -1;
}

// The workers of the run and their CPU time in the window, for the Describe
// functions (set when the window closes).
struct RunThreads {
  std::vector<uintptr_t> tags;
  std::vector<int64_t> cpu_ns;
};
RunThreads g_run_threads;

// The worker whose tag (a return address, as a profiler records it or minus
// one, as pprof locations hold it) is the outermost such frame of `record`;
// -1 if none is.
int WorkerOf(const StackRecord& record,
             const std::unordered_map<uint64_t, int>& by_tag) {
  for (auto it = record.addresses.rbegin(); it != record.addresses.rend();
       ++it) {
    for (uint64_t address : {*it, *it + 1}) {
      auto found = by_tag.find(address);
      if (found != by_tag.end()) return found->second;
    }
  }
  return -1;
}

// The profile's split of samples between the workers against their measured
// CPU time: split_err_pts is the largest difference, in points, between a
// worker's share of the samples that name a worker and its share of the
// workers' CPU time; tagged_pct is how many samples name one.
void DescribeSplit(const std::vector<StackRecord>& records,
                   std::ostringstream& out) {
  const RunThreads& run = g_run_threads;
  std::unordered_map<uint64_t, int> by_tag;
  for (size_t i = 0; i < run.tags.size(); ++i) {
    if (run.tags[i] != 0) by_tag.emplace(run.tags[i], static_cast<int>(i));
  }
  // Workers beyond kTaggedEntries share tags: no split then.
  if (by_tag.size() != run.tags.size() || run.tags.empty()) return;
  std::vector<int64_t> samples(run.tags.size(), 0);
  int64_t total = 0, tagged = 0, cpu_total = 0;
  for (const StackRecord& record : records) {
    total += record.count;
    const int worker = WorkerOf(record, by_tag);
    if (worker < 0) continue;
    samples[worker] += record.count;
    tagged += record.count;
  }
  for (int64_t cpu : run.cpu_ns) cpu_total += cpu;
  if (tagged == 0 || cpu_total <= 0) return;
  double worst = 0;
  for (size_t i = 0; i < samples.size(); ++i) {
    const double share = 100.0 * samples[i] / tagged;
    const double cpu_share = 100.0 * run.cpu_ns[i] / cpu_total;
    worst = std::max(worst, std::fabs(share - cpu_share));
  }
  out << " split_err_pts=" << worst
      << " tagged_pct=" << 100.0 * tagged / std::max<int64_t>(total, 1);
}

// The profiler-specific part of a run. A Window starts profiling, blocks
// for the window, stops, and keeps the profile it got in `data`; it returns
// false (with a message on stderr) if no profile was taken. Checking and
// decoding the profile happen after the window closes, in a Describe
// function that appends key=value results to `out`.
using WindowFn = bool (*)(const Flags&, std::string& data);
using DescribeFn = bool (*)(const Flags&, const std::string& data,
                            std::ostringstream& out);

bool WindowNone(const Flags& flags, std::string&) {
  std::this_thread::sleep_for(std::chrono::seconds(flags.seconds));
  return true;
}

bool DescribeNone(const Flags&, const std::string&, std::ostringstream&) {
  return true;
}

// The agent is started before the workers (outside the window) and the
// profile is fetched over real HTTP, as `go tool pprof` would.
std::optional<Agent> g_agent;

// Fetches a `seconds`-long CPU profile into `data`.
bool FetchProfile(int seconds, std::string& data) {
  httplib::Client client("127.0.0.1", g_agent->port());
  client.set_read_timeout(seconds + 60, 0);
  std::string path = "/debug/pprof/profile?seconds=" + std::to_string(seconds);
  httplib::Result result = client.Get(path.c_str());
  if (!result) {
    std::fprintf(stderr, "GET %s failed: %s\n", path.c_str(),
                 httplib::to_string(result.error()).c_str());
    return false;
  }
  if (result->status != 200 || result->body.empty()) {
    std::fprintf(stderr, "GET %s: status %d, %zu bytes: %s\n", path.c_str(),
                 result->status, result->body.size(),
                 result->body.substr(0, 200).c_str());
    return false;
  }
  data = std::move(result->body);
  return true;
}

bool WindowInprof(const Flags& flags, std::string& data) {
  return FetchProfile(flags.seconds, data);
}

// The number after `prefix` in the first comment that starts with it, or -1.
int64_t CommentNumber(const std::vector<std::string>& comments,
                      std::string_view prefix) {
  for (const std::string& c : comments) {
    if (c.rfind(prefix, 0) == 0) {
      return std::atoll(c.c_str() + prefix.size());
    }
  }
  return -1;
}

bool DescribeInprof(const Flags& flags, const std::string& data,
                    std::ostringstream& out) {
  StatusOr<internal::Profile> profile = internal::DecodeProfile(data);
  if (!profile.ok()) {
    std::fprintf(stderr, "profile does not decode: %s\n",
                 profile.status().ToString().c_str());
    return false;
  }
  int64_t samples = 0, cpu_ns = 0;
  std::unordered_map<uint64_t, uint64_t> address_of;
  for (const internal::Location& location : profile->locations) {
    address_of[location.id] = location.address;
  }
  std::vector<StackRecord> records;
  for (const internal::Sample& sample : profile->samples) {
    if (sample.values.size() >= 2) {
      samples += sample.values[0];
      cpu_ns += sample.values[1];
      StackRecord record;
      record.count = sample.values[0];
      for (uint64_t id : sample.location_ids) {
        record.addresses.push_back(address_of[id]);
      }
      records.push_back(std::move(record));
    }
  }
  out << " profile_bytes=" << data.size() << " samples=" << samples
      << " sampled_cpu_ms=" << cpu_ns / 1000000
      << " period_ns=" << profile->period
      << " profile_duration_ms=" << profile->duration_nanos / 1000000
      << " handler_ms="
      << CommentNumber(profile->comments, internal::kHandlerCostComment) /
             1000.0;
  DescribeSplit(records, out);
  if (!flags.profile_out.empty() && !WriteFile(flags.profile_out, data)) {
    std::fprintf(stderr, "cannot write %s\n", flags.profile_out.c_str());
    return false;
  }
  return true;
}

// libprofiler's entry points, resolved with dlsym.
struct Gperftools {
  void* handle = nullptr;
  int (*start)(const char*) = nullptr;
  void (*stop)() = nullptr;
};
Gperftools g_gperftools;

bool LoadGperftools(int hz = 100) {
  // Read by libprofiler when its first profile starts.
  setenv("CPUPROFILE_FREQUENCY", std::to_string(hz).c_str(), 1);
  g_gperftools.handle = dlopen("libprofiler.so.0", RTLD_NOW | RTLD_LOCAL);
  if (g_gperftools.handle == nullptr) {
    std::fprintf(stderr,
                 "dlopen libprofiler.so.0: %s (apt-get install "
                 "libgoogle-perftools4)\n",
                 dlerror());
    return false;
  }
  g_gperftools.start = reinterpret_cast<int (*)(const char*)>(
      dlsym(g_gperftools.handle, "ProfilerStart"));
  g_gperftools.stop =
      reinterpret_cast<void (*)()>(dlsym(g_gperftools.handle, "ProfilerStop"));
  if (g_gperftools.start == nullptr || g_gperftools.stop == nullptr) {
    std::fprintf(stderr, "libprofiler.so.0 lacks ProfilerStart/Stop\n");
    return false;
  }
  return true;
}

std::string GperftoolsPath(const Flags& flags) {
  if (!flags.profile_out.empty()) return flags.profile_out;
  const char* dir = std::getenv("TMPDIR");
  return std::string(dir && *dir ? dir : "/tmp") + "/cpu_overhead." +
         std::to_string(getpid()) + ".gperftools.prof";
}

bool WindowGperftools(const Flags& flags, std::string& data) {
  std::string path = GperftoolsPath(flags);
  if (!g_gperftools.start(path.c_str())) {
    std::fprintf(stderr, "ProfilerStart(%s) failed\n", path.c_str());
    return false;
  }
  std::this_thread::sleep_for(std::chrono::seconds(flags.seconds));
  g_gperftools.stop();  // writes the rest of the profile and closes the file
  data = path;
  return true;
}

bool DescribeGperftools(const Flags& flags, const std::string& path,
                        std::ostringstream& out) {
  std::optional<std::string> data = ReadFile(path);
  if (flags.profile_out.empty()) std::remove(path.c_str());
  if (!data.has_value() || data->empty()) {
    std::fprintf(stderr, "gperftools wrote no profile to %s\n", path.c_str());
    return false;
  }
  int64_t period_us = 0;
  std::vector<StackRecord> records;
  int64_t samples = CountLegacySamples(*data, period_us, &records);
  if (samples < 0) {
    std::fprintf(stderr, "cannot parse the gperftools profile %s\n",
                 path.c_str());
    return false;
  }
  out << " profile_bytes=" << data->size() << " samples=" << samples
      << " sampled_cpu_ms=" << samples * period_us / 1000
      << " period_ns=" << period_us * 1000;
  DescribeSplit(records, out);
  return true;
}

// ---------------------------------------------------------------------------
// Interleaved modes: paired OFF/ON slices inside one process.
//
// The workers run for the whole process. The main thread cuts the run into
// slices of about S seconds and alternates them in ABBA order (OFF ON ON OFF,
// OFF ON ON OFF, ...), so a linear drift of the machine's speed cancels
// within each block of four and neither kind is always first. Each ON slice
// is paired with the adjacent OFF slice of its block: (OFF, ON) then
// (ON, OFF).
//   ON, interleaved-inprof: GET /debug/pprof/profile?seconds=S over HTTP to
//       the agent started once at startup; the slice ends when the whole 200
//       response is in, so the agent's symbolization, encoding and gzip
//       after the S seconds of sampling count (the slice lasts S + a few ms).
//   ON, interleaved-gperftools: ProfilerStart(file), sleep S, ProfilerStop()
//       (which writes the rest of the file); a new file for every slice.
//   ON, interleaved-none: sleep S. An A/A control: what the method reports
//       when the two halves of a pair do not differ.
//   OFF: sleep for the wall length of the ON slice measured last, so both
//       halves of a pair are about equally long (the figures are rates per
//       second, so an exact match is not needed).
//   interleaved-labels: ON and OFF both fetch a profile as interleaved-inprof
//       does; in ON slices every request runs inside a RequestScope.
//   interleaved-labels-unprofiled: no agent; ON and OFF as in
//       interleaved-none, with the ON slices' requests in RequestScopes.
// Before the measured pairs come warmup_ms of work and one ON slice whose
// results are discarded (inprof: the first fetch's symbolizer reads and
// indexes DWARF; gperftools: the first ProfilerStart sets up its handler).
// Between slices the main thread only takes snapshots; the profiles are
// decoded after the last slice.
//
// Per pair, with u work units, w worker CPU seconds, t wall seconds and x
// the CPU seconds of every other thread (agent threads, libprofiler, the
// main thread's HTTP client) in a slice:
//   wall overhead   = 1 - (u_on / t_on) / (u_off / t_off)
//   worker overhead = 1 - (u_on / w_on) / (u_off / w_off)
//       the cost inside the workers only: signal delivery, handler,
//       unwinding, cache and TLB pollution;
//   cpu overhead    = 1 - (u_on / (w_on + x_on - x_off * t_on / t_off))
//                       / (u_off / w_off)
//       the worker overhead plus the ON slice's extra CPU in other threads,
//       charged to the workers' work; insensitive to another process taking
//       a core away for part of a slice.
// The medians, quartiles, means and a distribution-free 95% confidence
// interval of the median (order statistics) are printed over the pairs.
// ---------------------------------------------------------------------------

struct Slice {
  bool on = false;
  Snapshot start, end;
  std::string data;  // inprof: the response body; gperftools: the file path
  // Autocapture modes: CPU ns of the agent's threads by name at start and
  // end, the flight recorder's history samples at the end of an ON slice,
  // and the wall time of the POSTs that turned auto-capture on and off.
  std::map<std::string, int64_t> threads_start, threads_end;
  int64_t history_samples = -1;
  int64_t captures = -1;  // slow-request captures so far (expected: 0)
  double post_on_ms = 0, post_off_ms = 0;

  double wall_s() const { return (end.wall_ns - start.wall_ns) / 1e9; }
  double worker_cpu_s() const {
    return (end.worker_cpu_ns - start.worker_cpu_ns) / 1e9;
  }
  double other_cpu_s() const {
    return (end.process_cpu_ns - start.process_cpu_ns) / 1e9 - worker_cpu_s();
  }
  double units() const { return static_cast<double>(end.units - start.units); }
};

struct Stats {
  size_t n = 0;
  double median = 0, q1 = 0, q3 = 0, mean = 0, se = 0, ci_lo = 0, ci_hi = 0;
};

Stats Summarize(std::vector<double> v) {
  Stats s;
  s.n = v.size();
  if (v.empty()) return s;
  std::sort(v.begin(), v.end());
  auto quantile = [&](double p) {  // linear interpolation (R type 7)
    double h = (v.size() - 1) * p;
    size_t lo = static_cast<size_t>(h);
    size_t hi = std::min(lo + 1, v.size() - 1);
    return v[lo] + (h - lo) * (v[hi] - v[lo]);
  };
  s.median = quantile(0.5);
  s.q1 = quantile(0.25);
  s.q3 = quantile(0.75);
  double sum = 0, sum2 = 0;
  for (double x : v) sum += x;
  s.mean = sum / v.size();
  for (double x : v) sum2 += (x - s.mean) * (x - s.mean);
  s.se = v.size() > 1 ? std::sqrt(sum2 / (v.size() - 1) / v.size()) : 0;
  // Order statistics j < k with P(x_(j) <= median <= x_(k)) ~ 95%.
  double n = static_cast<double>(v.size());
  double half = 0.98 * std::sqrt(n);
  long j = std::max(1L, static_cast<long>(std::floor(n / 2 - half)));
  long k = std::min(static_cast<long>(n),
                    static_cast<long>(std::ceil(n / 2 + 1 + half)));
  s.ci_lo = v[j - 1];
  s.ci_hi = v[k - 1];
  return s;
}

// Runs one ON slice's profiler part (interleaved-labels: every slice's; the
// slice's snapshots are taken by the caller). Returns false if no profile was
// taken.
bool InterleavedOn(const Flags& flags, int index, std::string& data) {
  if (flags.fetches_profile()) {
    return FetchProfile(flags.seconds, data);
  }
  if (flags.mode == "interleaved-gperftools") {
    std::string path = GperftoolsPath(flags) + "." + std::to_string(index);
    if (!g_gperftools.start(path.c_str())) {
      std::fprintf(stderr, "ProfilerStart(%s) failed\n", path.c_str());
      return false;
    }
    std::this_thread::sleep_for(std::chrono::seconds(flags.seconds));
    g_gperftools.stop();
    data = std::move(path);
    return true;
  }
  std::this_thread::sleep_for(std::chrono::seconds(flags.seconds));
  return true;
}

// What the profile of an ON slice holds: samples, and (inprof) the length
// of the sampling window and the lost / truncated counts from its comments.
struct ProfileFacts {
  int64_t samples = -1;
  double sampling_s = 0;  // 0: unknown, use the slice's wall time
  int64_t lost = 0, truncated = 0;
  size_t bytes = 0;
  int64_t labeled = 0;  // samples with an `endpoint` label
};

bool InspectProfile(const Flags& flags, const std::string& data,
                    ProfileFacts& facts) {
  if (flags.fetches_profile()) {
    StatusOr<internal::Profile> profile = internal::DecodeProfile(data);
    if (!profile.ok()) {
      std::fprintf(stderr, "profile does not decode: %s\n",
                   profile.status().ToString().c_str());
      return false;
    }
    facts.samples = 0;
    for (const internal::Sample& sample : profile->samples) {
      if (!sample.values.empty()) facts.samples += sample.values[0];
      for (const internal::Label& label : sample.labels) {
        if (label.key == "endpoint" && !sample.values.empty()) {
          facts.labeled += sample.values[0];
        }
      }
    }
    facts.sampling_s = profile->duration_nanos / 1e9;
    facts.lost = CommentNumber(profile->comments, "lost samples: ");
    facts.truncated = CommentNumber(profile->comments, "truncated stacks: ");
    facts.bytes = data.size();
    return true;
  }
  if (flags.mode == "interleaved-gperftools") {
    std::optional<std::string> bytes = ReadFile(data);
    std::remove(data.c_str());
    int64_t period_us = 0;
    if (!bytes.has_value() ||
        (facts.samples = CountLegacySamples(*bytes, period_us)) < 0) {
      std::fprintf(stderr, "cannot read the gperftools profile %s\n",
                   data.c_str());
      return false;
    }
    facts.bytes = bytes->size();
    return true;
  }
  return true;  // interleaved-none: no profile
}

// CPU nanoseconds of the process's threads named "inprof-*", summed by name
// (/proc/self/task/TID/schedstat: the first field is the time on a CPU).
std::map<std::string, int64_t> AgentThreadCpu() {
  std::map<std::string, int64_t> cpu;
  DIR* dir = opendir("/proc/self/task");
  if (dir == nullptr) return cpu;
  while (dirent* entry = readdir(dir)) {
    if (entry->d_name[0] == '.') continue;
    std::string task = std::string("/proc/self/task/") + entry->d_name;
    std::optional<std::string> comm = ReadFile(task + "/comm");
    std::optional<std::string> stat = ReadFile(task + "/schedstat");
    if (!comm.has_value() || !stat.has_value()) continue;  // exited
    while (!comm->empty() && comm->back() == '\n') comm->pop_back();
    if (comm->rfind("inprof-", 0) != 0) continue;
    cpu[*comm] += std::atoll(stat->c_str());
  }
  closedir(dir);
  return cpu;
}

// POSTs /debug/pprof/autocapture?`query` to the agent, as curl -X POST
// would. Returns the response body, or nullopt (and a message) on failure.
std::optional<std::string> PostAutoCapture(const std::string& query) {
  httplib::Client client("127.0.0.1", g_agent->port());
  std::string path = "/debug/pprof/autocapture?" + query;
  httplib::Result result = client.Post(path.c_str());
  if (!result || result->status != 200) {
    std::fprintf(stderr, "POST %s failed: %s\n", path.c_str(),
                 result ? result->body.c_str()
                        : httplib::to_string(result.error()).c_str());
    return std::nullopt;
  }
  return result->body;
}

// The value of the sample `name` (no labels) in GET /metrics; -1 if absent.
int64_t MetricValue(const std::string& name) {
  httplib::Client client("127.0.0.1", g_agent->port());
  httplib::Result result = client.Get("/metrics");
  if (!result || result->status != 200) return -1;
  std::istringstream lines(result->body);
  std::string line;
  while (std::getline(lines, line)) {
    if (line.rfind(name + " ", 0) == 0) {
      return std::atoll(line.c_str() + name.size() + 1);
    }
  }
  return -1;
}

// Starts the agent into g_agent on any free port; false (and a message) if
// it cannot start.
bool StartGlobalAgent(int hz = 100, int64_t heap_rate = -1) {
  Options options;
  options.port = 0;
  options.hz = hz;
  if (heap_rate >= 0) options.heap_sample_rate = heap_rate;
  StatusOr<Agent> agent = Agent::Start(options);
  if (!agent.ok()) {
    std::fprintf(stderr, "Agent::Start: %s\n",
                 agent.status().ToString().c_str());
    return false;
  }
  g_agent.emplace(std::move(*agent));
  return true;
}

int InterleavedMain(const Flags& flags) {
  if (flags.agent()) {
    if (!StartGlobalAgent()) return 1;
    // A threshold no request reaches, then off until the first ON slice.
    if (flags.autocapture() && (!PostAutoCapture("threshold_ms=60000") ||
                                !PostAutoCapture("enabled=0"))) {
      return 1;
    }
  } else if (flags.mode == "interleaved-gperftools") {
    if (!LoadGperftools()) return 1;
  }

  // Slice 0 is the discarded warm-up ON slice; then blocks of OFF ON ON OFF.
  std::vector<Slice> slices;
  slices.reserve(1 + 2 * static_cast<size_t>(flags.pairs));
  {
    Workers workers(flags.threads, flags.workload());
    std::this_thread::sleep_for(std::chrono::milliseconds(flags.warmup_ms));
    int64_t last_on_ns = flags.seconds * 1000000000LL;
    auto run = [&](bool on) {
      Slice& slice = slices.emplace_back();
      slice.on = on;
      int index = static_cast<int>(slices.size() - 1);
      g_labels_on.store(flags.autocapture() || (on && flags.labels()),
                        std::memory_order_relaxed);
      if (flags.autocapture()) {
        // Turned on before the first snapshot and off after the last, so
        // the slice measures auto-capture running, not being switched.
        auto post = [](const char* query, const char* expect, double& ms) {
          int64_t t0 = ClockNanos(CLOCK_MONOTONIC);
          std::optional<std::string> body = PostAutoCapture(query);
          ms = (ClockNanos(CLOCK_MONOTONIC) - t0) / 1e6;
          if (body.has_value() && body->find(expect) == std::string::npos) {
            std::fprintf(stderr, "POST %s: unexpected %s\n", query,
                         body->c_str());
            return false;
          }
          return body.has_value();
        };
        if (on && !post("enabled=1", "\"enabled\":true", slice.post_on_ms)) {
          return false;
        }
        slice.start = workers.Take();
        slice.threads_start = AgentThreadCpu();
        std::this_thread::sleep_for(std::chrono::seconds(flags.seconds));
        slice.threads_end = AgentThreadCpu();
        slice.end = workers.Take();
        if (on) {
          slice.history_samples =
              MetricValue("inprof_flight_history_samples_total");
          slice.captures = MetricValue("inprof_slow_request_captures_total");
          if (!post("enabled=0", "\"enabled\":false", slice.post_off_ms)) {
            return false;
          }
        }
        return true;
      }
      slice.start = workers.Take();
      if (on || flags.profile_both()) {
        if (!InterleavedOn(flags, index, slice.data)) return false;
      } else {
        std::this_thread::sleep_for(std::chrono::nanoseconds(last_on_ns));
      }
      slice.end = workers.Take();
      if (on) last_on_ns = slice.end.wall_ns - slice.start.wall_ns;
      return true;
    };
    if (!run(true)) return 1;  // warm-up
    for (int block = 0; block < flags.pairs / 2; ++block) {
      if (!run(false) || !run(true) || !run(true) || !run(false)) return 1;
    }
  }
  g_agent.reset();

  std::vector<ProfileFacts> facts(slices.size());
  for (size_t i = 0; i < slices.size(); ++i) {
    if ((slices[i].on || flags.profile_both()) &&
        !InspectProfile(flags, slices[i].data, facts[i])) {
      return 1;
    }
  }

  auto quiet = [&](const Slice& s) {
    return s.worker_cpu_s() >= 0.95 * flags.threads * s.wall_s();
  };
  std::vector<double> wall_all, worker_all, cpu_all, wall_q, worker_q, cpu_q;
  std::vector<double> samples, hz, extra_ms, on_excess_ms, off_rate;
  // Autocapture modes: ratios ON / OFF, and per agent thread the ON slice's
  // CPU beyond the OFF slice's (scaled to the ON slice's wall time).
  std::vector<double> wall_ratio, worker_ratio, cpu_ratio, history, post_on,
      post_off;
  std::map<std::string, std::vector<double>> thread_extra_ms;
  int64_t lost = 0, truncated = 0;
  size_t bytes = 0;
  int quiet_pairs = 0;
  for (int p = 0; p < flags.pairs; ++p) {
    // Block b = p / 2 holds slices 1 + 4b .. 4 + 4b: OFF ON ON OFF.
    size_t base = 1 + 4 * static_cast<size_t>(p / 2);
    bool off_first = p % 2 == 0;
    const Slice& off = slices[off_first ? base : base + 3];
    size_t on_index = off_first ? base + 1 : base + 2;
    const Slice& on = slices[on_index];
    const ProfileFacts& f = facts[on_index];
    double wall_ovh =
        1 - (on.units() / on.wall_s()) / (off.units() / off.wall_s());
    double worker_ovh = 1 - (on.units() / on.worker_cpu_s()) /
                                (off.units() / off.worker_cpu_s());
    double extra_s =
        on.other_cpu_s() - off.other_cpu_s() * on.wall_s() / off.wall_s();
    double cpu_ovh = 1 - (on.units() / (on.worker_cpu_s() + extra_s)) /
                             (off.units() / off.worker_cpu_s());
    bool q = quiet(on) && quiet(off);
    double rate = -1;
    if (f.samples >= 0) {
      double sampling_s = f.sampling_s > 0 ? f.sampling_s : on.wall_s();
      rate = f.samples / (on.worker_cpu_s() * sampling_s / on.wall_s());
      samples.push_back(static_cast<double>(f.samples));
      hz.push_back(rate);
      lost += std::max<int64_t>(f.lost, 0);
      truncated += std::max<int64_t>(f.truncated, 0);
      bytes += f.bytes;
    }
    wall_all.push_back(100 * wall_ovh);
    worker_all.push_back(100 * worker_ovh);
    cpu_all.push_back(100 * cpu_ovh);
    if (q) {
      ++quiet_pairs;
      wall_q.push_back(100 * wall_ovh);
      worker_q.push_back(100 * worker_ovh);
      cpu_q.push_back(100 * cpu_ovh);
    }
    extra_ms.push_back(1000 * extra_s);
    on_excess_ms.push_back(1000 * (on.wall_s() - flags.seconds));
    off_rate.push_back(off.units() / off.wall_s());
    if (flags.autocapture()) {
      wall_ratio.push_back(1 - wall_ovh);
      worker_ratio.push_back(1 - worker_ovh);
      cpu_ratio.push_back(1 - cpu_ovh);
      history.push_back(static_cast<double>(on.history_samples));
      post_on.push_back(on.post_on_ms);
      post_off.push_back(on.post_off_ms);
      std::map<std::string, double> on_ms, off_ms;
      for (const auto& [name, ns] : on.threads_end) {
        auto it = on.threads_start.find(name);
        on_ms[name] =
            (ns - (it == on.threads_start.end() ? 0 : it->second)) / 1e6;
      }
      for (const auto& [name, ns] : off.threads_end) {
        auto it = off.threads_start.find(name);
        off_ms[name] =
            (ns - (it == off.threads_start.end() ? 0 : it->second)) / 1e6;
        on_ms.try_emplace(name, 0.0);
      }
      std::printf("kind=threads mode=%s pair=%d", flags.mode.c_str(), p + 1);
      for (const auto& [name, ms] : on_ms) {
        double off_scaled = off_ms[name] * on.wall_s() / off.wall_s();
        thread_extra_ms[name].push_back(ms - off_scaled);
        std::printf(" %s_on_ms=%.3f %s_off_ms=%.3f", name.c_str(), ms,
                    name.c_str(), off_ms[name]);
      }
      std::printf(" history_samples=%" PRId64 " captures=%" PRId64 "\n",
                  on.history_samples, on.captures);
    }
    std::printf(
        "kind=pair mode=%s pair=%d order=%s quiet=%d on_wall_s=%.4f "
        "off_wall_s=%.4f on_units=%.0f off_units=%.0f on_worker_cpu_s=%.4f "
        "off_worker_cpu_s=%.4f on_other_cpu_ms=%.2f off_other_cpu_ms=%.2f "
        "wall_ovh_pct=%.3f worker_ovh_pct=%.3f cpu_ovh_pct=%.3f "
        "samples=%" PRId64 " hz_per_cpu_s=%.2f\n",
        flags.mode.c_str(), p + 1, off_first ? "off_on" : "on_off", q ? 1 : 0,
        on.wall_s(), off.wall_s(), on.units(), off.units(), on.worker_cpu_s(),
        off.worker_cpu_s(), 1000 * on.other_cpu_s(), 1000 * off.other_cpu_s(),
        100 * wall_ovh, 100 * worker_ovh, 100 * cpu_ovh, f.samples, rate);
  }
  auto print = [&](const char* metric, const std::vector<double>& v) {
    Stats s = Summarize(v);
    std::printf(
        "kind=summary mode=%s metric=%s n=%zu median=%.3f q1=%.3f q3=%.3f "
        "mean=%.3f se=%.3f median_ci95_lo=%.3f median_ci95_hi=%.3f\n",
        flags.mode.c_str(), metric, s.n, s.median, s.q1, s.q3, s.mean, s.se,
        s.ci_lo, s.ci_hi);
  };
  print("wall_ovh_pct", wall_all);
  print("worker_ovh_pct", worker_all);
  print("cpu_ovh_pct", cpu_all);
  print("wall_ovh_pct_quiet", wall_q);
  print("worker_ovh_pct_quiet", worker_q);
  print("cpu_ovh_pct_quiet", cpu_q);
  print("on_extra_other_cpu_ms", extra_ms);
  print("on_wall_beyond_s_ms", on_excess_ms);
  print("off_units_per_s", off_rate);
  if (!samples.empty()) {
    print("samples_per_profile", samples);
    print("samples_per_worker_cpu_s", hz);
  }
  if (flags.autocapture()) {
    print("ratio_units_per_wall_s", wall_ratio);
    print("ratio_units_per_worker_cpu_s", worker_ratio);
    print("ratio_units_per_process_cpu_s", cpu_ratio);
    for (const auto& [name, v] : thread_extra_ms) {
      print(("extra_cpu_ms_" + name).c_str(), v);
    }
    print("history_samples_per_on_slice", history);
    print("post_enable_ms", post_on);
    print("post_disable_ms", post_off);
  }
  std::printf(
      "kind=info mode=%s seconds=%d pairs=%d quiet_pairs=%d "
      "threads=%d lost_samples=%" PRId64 " truncated_stacks=%" PRId64
      " mean_profile_bytes=%zu\n",
      flags.mode.c_str(), flags.seconds, flags.pairs, quiet_pairs,
      flags.threads, lost, truncated,
      samples.empty() ? 0 : bytes / samples.size());
  if (flags.profile_both()) {
    // Labels checked: ON profiles should have them on every sample, OFF
    // profiles on none.
    int64_t on_samples = 0, on_labeled = 0, off_samples = 0, off_labeled = 0;
    size_t on_bytes = 0, off_bytes = 0;
    for (size_t i = 1; i < slices.size(); ++i) {
      (slices[i].on ? on_samples : off_samples) += facts[i].samples;
      (slices[i].on ? on_labeled : off_labeled) += facts[i].labeled;
      (slices[i].on ? on_bytes : off_bytes) += facts[i].bytes;
    }
    std::printf("kind=labels mode=%s on_samples=%" PRId64 " on_labeled=%" PRId64
                " off_samples=%" PRId64 " off_labeled=%" PRId64
                " on_mean_profile_bytes=%zu off_mean_profile_bytes=%zu\n",
                flags.mode.c_str(), on_samples, on_labeled, off_samples,
                off_labeled, on_bytes / flags.pairs, off_bytes / flags.pairs);
  }
  return 0;
}

int Main(int argc, char** argv) {
  Flags flags;
  if (!ParseFlags(argc, argv, flags)) return 2;
  if (flags.interleaved()) return InterleavedMain(flags);

  WindowFn window = WindowNone;
  DescribeFn describe = DescribeNone;
  bool prefetch = flags.mode == "inprof_warm";
  if (flags.mode == "inprof" || flags.mode == "inprof_warm") {
    if (!StartGlobalAgent(flags.hz, flags.heap_rate)) return 1;
    window = WindowInprof;
    describe = DescribeInprof;
  } else if (flags.mode == "gperftools") {
    if (!LoadGperftools(flags.hz)) return 1;
    window = WindowGperftools;
    describe = DescribeGperftools;
  }

  std::string data;
  Snapshot before, after;
  bool ok;
  {
    Workers workers(flags.threads);
    std::string first_profile;
    if (prefetch && !FetchProfile(1, first_profile)) return 1;
    std::this_thread::sleep_for(std::chrono::milliseconds(flags.warmup_ms));
    before = workers.Take();
    ok = window(flags, data);
    after = workers.Take();
    g_run_threads.tags = workers.Tags();
    for (size_t i = 0; i < after.thread_cpu_ns.size(); ++i) {
      g_run_threads.cpu_ns.push_back(after.thread_cpu_ns[i] -
                                     before.thread_cpu_ns[i]);
    }
  }
  g_agent.reset();
  std::ostringstream details;
  if (!ok || !describe(flags, data, details)) return 1;

  double wall_s = (after.wall_ns - before.wall_ns) / 1e9;
  double worker_cpu_s = (after.worker_cpu_ns - before.worker_cpu_ns) / 1e9;
  double other_cpu_s =
      (after.process_cpu_ns - before.process_cpu_ns) / 1e9 - worker_cpu_s;
  uint64_t units = after.units - before.units;
  // Last, the window on CLOCK_MONOTONIC and the main thread, for
  // run_cpu_handler_cost.sh: it cuts the window out of a perf recording made
  // with that clock.
  std::printf("mode=%s threads=%d window_s=%.3f work_units=%" PRIu64
              " work_units_per_second=%.1f worker_cpu_s=%.3f"
              " units_per_worker_cpu_second=%.1f other_cpu_ms=%.1f%s"
              " window_start_s=%.6f window_end_s=%.6f main_tid=%d\n",
              flags.mode.c_str(), flags.threads, wall_s, units, units / wall_s,
              worker_cpu_s, units / worker_cpu_s, other_cpu_s * 1000,
              details.str().c_str(), before.wall_ns / 1e9, after.wall_ns / 1e9,
              static_cast<int>(getpid()));
  return 0;
}

}  // namespace
}  // namespace inprof::bench

int main(int argc, char** argv) { return inprof::bench::Main(argc, argv); }
