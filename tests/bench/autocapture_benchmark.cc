// Auto-capture's history and its time to capture (issue 14, item 8;
// BENCHMARKS.md "Auto-capture: history and time to capture").
//
//   autocapture_benchmark history SECONDS [THREADS]
//     THREADS (default 64) threads serve requests inside RequestScopes (a
//     little CPU, then blocked) while the CPU and wall-clock samplers run as
//     auto-capture runs them; every sample of a request goes into a
//     HistoryRing of FlightRecorder::kHistoryBytes and, for comparison, into
//     a model of the ring before it (4096 fixed RawSample slots). Prints the
//     samples' rates, depths and bytes, and how many seconds each ring holds.
//
//   autocapture_benchmark add COUNT
//     The cost of HistoryRing::Add on a full ring, for stacks of 8 to 128
//     frames whose pcs are spread over a binary and two libraries as a
//     server's are, against the ring before it (a RawSample copied into a
//     fixed slot under a mutex); and the bytes each stack takes.
//
//   autocapture_benchmark capture COUNT [THREADS [warm]]
//     The agent with auto-capture on (threshold 100 ms) and THREADS
//     (default 64) threads of fast requests in the background; COUNT slow
//     requests (150 ms: 60 ms of CPU, then asleep) one after another. Each
//     one's time from its end to its capture being listed in GET
//     /debug/pprof/captures (polled every 0.5 ms). The first capture is the
//     process's first profile (symbolizer setup), reported apart; with
//     `warm`, a 1 s CPU profile is fetched before it.
//
// Timings are wall clock on a shared machine: compare within one run.
#include <httplib.h>
#include <time.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "agent/base/clock.h"
#include "agent/cpu/cpu_sampler.h"
#include "agent/flight/autocapture_settings.h"
#include "agent/flight/flight_recorder.h"
#include "agent/flight/history.h"
#include "agent/flight/request_latency.h"
#include "agent/flight/wall_sampler.h"
#include "inprof/agent.h"
#include "inprof/request.h"
#include "tests/support/thread_cpu.h"

namespace {

using inprof::internal::HistoryRing;
using inprof::internal::RawSample;

using inprof::test::ThreadCpuNanos;

// A handler `frames` calls deep (as a server's handler sits below its
// framework's frames), burning `cpu_nanos` and then asleep for `sleep`.
__attribute__((noinline)) int64_t Handle(int frames, int64_t cpu_nanos,
                                         std::chrono::microseconds sleep) {
  if (frames > 0) {
    const int64_t x = Handle(frames - 1, cpu_nanos, sleep);
    asm volatile("" ::: "memory");  // no tail call: one frame per level
    return x;
  }
  const int64_t x = inprof::test::BurnThreadCpu(cpu_nanos);
  std::this_thread::sleep_for(sleep);
  return x;
}

// THREADS threads each serving fast requests (0.5 ms of CPU, 30 ms asleep:
// about one core for 64 threads) in RequestScopes until stopped.
class BackgroundRequests {
 public:
  static constexpr int kFrames = 20;

  explicit BackgroundRequests(int threads) {
    for (int i = 0; i < threads; ++i) {
      threads_.emplace_back([this] {
        while (!stop_.load()) {
          inprof::RequestScope scope("GET /fast");
          Handle(kFrames, 500'000, std::chrono::milliseconds(30));
          requests_.fetch_add(1);
        }
      });
    }
  }
  ~BackgroundRequests() {
    stop_.store(true);
    for (std::thread& t : threads_) t.join();
  }
  uint64_t requests() const { return requests_.load(); }

 private:
  std::atomic<bool> stop_{false};
  std::atomic<uint64_t> requests_{0};
  std::vector<std::thread> threads_;
};

// The ring before the compact history: 4096 RawSample slots; only the
// timestamps are kept, which is all that its span needs.
class FixedSlotModel {
 public:
  static constexpr size_t kSlots = 4096;
  void Add(uint64_t timestamp_ns) { slots_[added_++ % kSlots] = timestamp_ns; }
  // Seconds between the oldest and newest sample held, once full.
  double SpanSeconds() const {
    if (added_ < kSlots) return 0;
    const uint64_t newest = slots_[(added_ - 1) % kSlots];
    const uint64_t oldest = slots_[added_ % kSlots];
    return (newest - oldest) / 1e9;
  }

 private:
  uint64_t slots_[kSlots] = {};
  uint64_t added_ = 0;
};

// The ring before the compact history, whole: what its Add cost.
class FixedSlotRing {
 public:
  void Add(const RawSample& sample) {
    if (sample.request_id == 0 || sample.depth == 0) return;
    std::lock_guard<std::mutex> lock(mu_);
    slots_[next_] = sample;
    next_ = (next_ + 1) % slots_.size();
  }

 private:
  std::mutex mu_;
  std::vector<RawSample> slots_ =
      std::vector<RawSample>(FixedSlotModel::kSlots);
  size_t next_ = 0;
};

// A stack of `depth` frames as a server's looks: runs of frames in the
// program (0x55..., a 4 MiB text) and in two libraries (0x7f...), each run
// of 1 to 6 frames, at random offsets.
RawSample SpreadStack(std::mt19937_64& random, uint32_t depth) {
  static constexpr uint64_t kBases[] = {0x55d4'1a20'0000, 0x7f3c'8e40'0000,
                                        0x7f3c'8f10'0000};
  RawSample s{};
  s.request_id = 1 + random() % 64;
  s.tid = 1000 + random() % 64;
  s.weight = 1;
  s.depth = depth;
  uint64_t base = kBases[0];
  for (uint32_t f = 0; f < depth; ++f) {
    if (random() % 4 == 0) base = kBases[random() % 3];
    s.pcs[f] = base + random() % (4 << 20);
  }
  return s;
}

template <typename Ring>
double NanosPerAdd(Ring& ring, const std::vector<RawSample>& samples,
                   int count) {
  // Thread CPU time: the machine is shared.
  const uint64_t start = ThreadCpuNanos();
  for (int i = 0; i < count; ++i) {
    RawSample sample = samples[i % samples.size()];
    sample.timestamp_ns = i;
    ring.Add(sample);
  }
  return double(ThreadCpuNanos() - start) / count;
}

int Add(int count) {
  std::mt19937_64 random(14);
  for (uint32_t depth : {8u, 16u, 32u, 64u, 128u}) {
    std::vector<RawSample> samples;
    size_t bytes = 0;
    for (int i = 0; i < 256; ++i) {
      samples.push_back(SpreadStack(random, depth));
      bytes += HistoryRing::RecordBytes(samples.back());
    }
    HistoryRing ring(inprof::internal::FlightRecorder::kHistoryBytes);
    FixedSlotRing before;
    NanosPerAdd(ring, samples, count);  // fill: every Add below evicts
    NanosPerAdd(before, samples, count);
    const double after_ns = NanosPerAdd(ring, samples, count);
    const double before_ns = NanosPerAdd(before, samples, count);
    std::printf(
        "depth=%u record_bytes=%.1f (RawSample %zu) add_ns after=%.0f "
        "before=%.0f\n",
        depth, double(bytes) / samples.size(), sizeof(RawSample), after_ns,
        before_ns);
  }
  return 0;
}

// Feeds the sampler's samples to a HistoryRing and the model, as
// FlightRecorder::OnSample does, and counts what they are.
class HistorySink : public inprof::internal::CpuSampleSink {
 public:
  explicit HistorySink(size_t bytes) : ring_(bytes) {}
  void OnSample(const RawSample& sample) override {
    if (sample.request_id == 0) return;
    const uint64_t start = inprof::internal::MonotonicNanos();
    ring_.Add(sample);
    add_nanos_ += inprof::internal::MonotonicNanos() - start;
    model_.Add(sample.timestamp_ns);
    (sample.wall_nanos != 0 ? wall_ : cpu_) += 1;
    depth_sum_ += sample.depth;
    record_bytes_sum_ += HistoryRing::RecordBytes(sample);
  }
  void OnLost(uint64_t count) override { lost_ += count; }

  void Print(double seconds) {
    const uint64_t n = cpu_ + wall_;
    if (n == 0) return;
    const HistoryRing::Usage usage = ring_.usage();
    const double rate = n / seconds;
    const double bytes_per_sample = double(record_bytes_sum_) / n;
    std::printf(
        "samples_per_s=%.0f cpu_per_s=%.0f wall_per_s=%.0f lost=%lu\n"
        "mean_depth=%.1f mean_record_bytes=%.1f raw_sample_bytes=%zu "
        "add_ns=%.0f\n",
        rate, cpu_ / seconds, wall_ / seconds, (unsigned long)lost_,
        double(depth_sum_) / n, bytes_per_sample, sizeof(RawSample),
        double(add_nanos_) / n);
    std::printf(
        "before: 4096 slots = %zu bytes, holds %.2f s (measured span)\n",
        FixedSlotModel::kSlots * sizeof(RawSample), model_.SpanSeconds());
    std::printf(
        "after: %zu bytes, holds %zu samples, %.2f s (measured span%s); "
        "capacity/rate %.2f s\n",
        ring_.capacity_bytes(), usage.samples,
        (usage.newest_ns - usage.oldest_ns) / 1e9,
        ring_.kept() > usage.samples ? ", full" : ", NOT full",
        ring_.capacity_bytes() / (bytes_per_sample * rate));
    const uint64_t start = inprof::internal::MonotonicNanos();
    const size_t found = ring_.ForRequest(1, 0).samples.size();
    std::printf("for_request_scan_ms=%.2f (full ring, %zu found)\n",
                (inprof::internal::MonotonicNanos() - start) / 1e6, found);
  }

 private:
  HistoryRing ring_;
  FixedSlotModel model_;
  uint64_t cpu_ = 0, wall_ = 0, lost_ = 0, depth_sum_ = 0;
  uint64_t record_bytes_sum_ = 0, add_nanos_ = 0;
};

int History(double seconds, int threads) {
  using namespace inprof::internal;
  auto sampler = CpuSampler::Start(CpuSamplerOptions{});
  if (!sampler.ok()) {
    std::fprintf(stderr, "%s\n", sampler.status().message().c_str());
    return 1;
  }
  // As auto-capture does: time requests (which lists their threads for the
  // wall sampler), CPU timers on, wall sampler running.
  AutoCaptureSettings settings;
  settings.enabled = true;
  settings.threshold_ms = 3'600'000;
  RequestLatency::Global().Configure(settings);
  HistorySink sink(FlightRecorder::kHistoryBytes);
  (*sampler)->Subscribe(&sink);
  const uint64_t start = MonotonicNanos();
  uint64_t requests = 0;
  {
    WallSampler wall(sampler->get());
    BackgroundRequests load(threads);
    std::this_thread::sleep_for(std::chrono::duration<double>(seconds));
    requests = load.requests();
  }
  (*sampler)->Unsubscribe(&sink);
  const double elapsed = (MonotonicNanos() - start) / 1e9;
  std::printf("threads=%d seconds=%.1f requests=%lu\n", threads, elapsed,
              (unsigned long)requests);
  sink.Print(elapsed);
  return 0;
}

// The number of captures GET /debug/pprof/captures lists.
int CountCaptures(httplib::Client& client) {
  httplib::Result result = client.Get("/debug/pprof/captures");
  if (!result || result->status != 200) return -1;
  int count = 0;
  for (size_t at = 0;
       (at = result->body.find("\"id\"", at)) != std::string::npos; ++at) {
    ++count;
  }
  return count;
}

double Median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v.empty() ? 0 : v[v.size() / 2];
}

int Capture(int count, int threads, bool warm) {
  inprof::Options options;
  options.port = 0;
  // Only the slow endpoint can be slow: a background request delayed
  // past 100 ms on a busy machine must not add a capture.
  options.autocapture_threshold_ms = 3'600'000;
  options.autocapture_endpoint_threshold_ms = {{"GET /slow", 100}};
  auto agent = inprof::Agent::Start(options);
  if (!agent.ok()) {
    std::fprintf(stderr, "%s\n", agent.status().message().c_str());
    return 1;
  }
  httplib::Client client("127.0.0.1", agent->port());
  client.set_keep_alive(true);
  BackgroundRequests load(threads);
  std::this_thread::sleep_for(std::chrono::seconds(3));  // history fills
  if (warm) {
    // A CPU profile first sets the symbolizer up: the first capture then
    // costs what the others do, which shows what the first one pays for.
    httplib::Result profile = client.Get("/debug/pprof/profile?seconds=1");
    std::printf("warm-up profile: %s\n",
                profile && profile->status == 200 ? "ok" : "failed");
  }
  std::vector<double> warm_ms;
  for (int i = 0; i < count; ++i) {
    const int before = CountCaptures(client);
    {
      inprof::RequestScope scope("GET /slow");
      Handle(BackgroundRequests::kFrames, 60'000'000,
             std::chrono::milliseconds(90));
    }
    const auto end = std::chrono::steady_clock::now();
    int now = before;
    while (now == before &&
           std::chrono::steady_clock::now() - end < std::chrono::seconds(10)) {
      std::this_thread::sleep_for(std::chrono::microseconds(500));
      now = CountCaptures(client);
    }
    const double ms = std::chrono::duration<double, std::milli>(
                          std::chrono::steady_clock::now() - end)
                          .count();
    std::printf("slow_request=%d listed_after_ms=%.1f%s\n", i, ms,
                now == before ? " (NOT listed in 10 s)" : "");
    if (i > 0) warm_ms.push_back(ms);
    // Under the capture rate (2 a second), so none is dropped.
    std::this_thread::sleep_for(std::chrono::milliseconds(600));
  }
  if (!warm_ms.empty()) {
    std::printf("threads=%d warm: n=%zu median_ms=%.1f max_ms=%.1f\n", threads,
                warm_ms.size(), Median(warm_ms),
                *std::max_element(warm_ms.begin(), warm_ms.end()));
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  const std::string mode = argc > 1 ? argv[1] : "";
  const double amount = argc > 2 ? std::atof(argv[2]) : 0;
  const int threads = argc > 3 ? std::atoi(argv[3]) : 64;
  if (mode == "history" && amount > 0) return History(amount, threads);
  if (mode == "add" && amount >= 1) return Add(static_cast<int>(amount));
  if (mode == "capture" && amount >= 1) {
    const bool warm = argc > 4 && std::string(argv[4]) == "warm";
    return Capture(static_cast<int>(amount), threads, warm);
  }
  std::fprintf(stderr,
               "usage: autocapture_benchmark history SECONDS [THREADS]\n"
               "       autocapture_benchmark add COUNT\n"
               "       autocapture_benchmark capture COUNT [THREADS [warm]]\n");
  return 2;
}
