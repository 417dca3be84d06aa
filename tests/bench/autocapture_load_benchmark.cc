// The demo server's throughput with auto-capture on (nothing slow) against
// off, measured side by side (issue 14, item 8; BENCHMARKS.md "Auto-capture:
// history and time to capture"). Run it through
// tests/bench/run_autocapture.sh, which starts the demo.
//
//   autocapture_load_benchmark DEMO_PORT AGENT_PORT SERVER_PID PAIRS SLICE_S
//                              [CLIENT_THREADS [aa]]
//
// CLIENT_THREADS (default 4) keep-alive clients call the demo's endpoints in
// a loop for the whole run. Each pair is two slices of SLICE_S seconds, one
// with auto-capture on (POST /debug/pprof/autocapture?threshold_ms=10000)
// and one off (enabled=0), in ABBA order across pairs. A slice starts 0.3 s
// after its POST. Per slice: requests per wall second and the server's CPU
// per request (its CPU-time clock). Prints every pair and the median of
// ON / OFF with its interquartile range. With `aa`, both halves are OFF: an
// A/A control that shows the noise of the method on this machine.
#include <httplib.h>
#include <time.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <thread>
#include <vector>

namespace {

// One request of each kind the demo's own load generator sends, at its
// sizes (a few milliseconds each); the light ones make per-request costs
// visible.
const char* const kPaths[] = {
    "/primes?n=100000",  "/hash?rounds=2000000", "/sort?n=150000",
    "/cache?kb=128",     "/audit?entries=128",   "/ledger?rounds=4000000",
    "/checkout?items=5", "/audit?entries=64",
};

// CPU time of process `pid` so far, in nanoseconds (its CPU-time clock: all
// its threads, live and exited, at nanosecond resolution).
double ProcessCpuNanos(int pid) {
  clockid_t clock;
  timespec ts{};
  if (clock_getcpuclockid(pid, &clock) != 0 || clock_gettime(clock, &ts) != 0) {
    return 0;
  }
  return ts.tv_sec * 1e9 + ts.tv_nsec;
}

struct Slice {
  double per_second = 0;
  double cpu_us_per_request = 0;
};

class Load {
 public:
  Load(int port, int threads) {
    for (int i = 0; i < threads; ++i) {
      threads_.emplace_back([this, port, i] {
        httplib::Client client("127.0.0.1", port);
        client.set_keep_alive(true);
        client.set_read_timeout(30, 0);
        for (size_t n = i; !stop_.load(); ++n) {
          httplib::Result r = client.Get(kPaths[n % std::size(kPaths)]);
          (r && r->status == 200 ? done_ : failed_).fetch_add(1);
        }
      });
    }
  }
  ~Load() {
    stop_.store(true);
    for (std::thread& t : threads_) t.join();
  }
  uint64_t done() const { return done_.load(); }
  uint64_t failed() const { return failed_.load(); }

 private:
  std::atomic<bool> stop_{false};
  std::atomic<uint64_t> done_{0};
  std::atomic<uint64_t> failed_{0};
  std::vector<std::thread> threads_;
};

bool SetAutoCapture(httplib::Client& agent, bool on) {
  httplib::Result r =
      agent.Post(on ? "/debug/pprof/autocapture?threshold_ms=10000"
                    : "/debug/pprof/autocapture?enabled=0");
  return r && r->status == 200;
}

Slice Measure(const Load& load, int pid, double seconds) {
  const uint64_t done = load.done();
  const double cpu_nanos = ProcessCpuNanos(pid);
  const auto start = std::chrono::steady_clock::now();
  std::this_thread::sleep_for(std::chrono::duration<double>(seconds));
  const double elapsed =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start)
          .count();
  const uint64_t requests = load.done() - done;
  const double cpu_us = (ProcessCpuNanos(pid) - cpu_nanos) / 1e3;
  return Slice{requests / elapsed, requests ? cpu_us / requests : 0};
}

double Quantile(std::vector<double> v, double q) {
  std::sort(v.begin(), v.end());
  return v[static_cast<size_t>(q * (v.size() - 1) + 0.5)];
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 6) {
    std::fprintf(stderr,
                 "usage: autocapture_load_benchmark DEMO_PORT AGENT_PORT "
                 "SERVER_PID PAIRS SLICE_S [CLIENT_THREADS [aa]]\n");
    return 2;
  }
  const int demo_port = std::atoi(argv[1]);
  const int pid = std::atoi(argv[3]);
  const int pairs = std::atoi(argv[4]);
  const double slice_s = std::atof(argv[5]);
  const int threads = argc > 6 ? std::atoi(argv[6]) : 4;
  const bool control = argc > 7 && std::string(argv[7]) == "aa";
  httplib::Client agent("127.0.0.1", std::atoi(argv[2]));
  Load load(demo_port, threads);
  std::this_thread::sleep_for(std::chrono::seconds(1));  // warm up
  std::vector<double> rate_ratio, cpu_ratio;
  for (int pair = 0; pair < pairs; ++pair) {
    Slice on, off;
    for (int half = 0; half < 2; ++half) {
      // ABBA: ON first in even pairs' first half and odd pairs' second.
      const bool is_on = (half == 0) == (pair % 2 == 0);
      if (!SetAutoCapture(agent, is_on && !control)) {
        std::fprintf(stderr, "POST /debug/pprof/autocapture failed\n");
        return 1;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(300));
      (is_on ? on : off) = Measure(load, pid, slice_s);
    }
    rate_ratio.push_back(on.per_second / off.per_second);
    cpu_ratio.push_back(on.cpu_us_per_request / off.cpu_us_per_request);
    std::printf(
        "pair=%d on_per_s=%.1f off_per_s=%.1f ratio=%.4f "
        "cpu_us_per_req on=%.0f off=%.0f\n",
        pair, on.per_second, off.per_second, rate_ratio.back(),
        on.cpu_us_per_request, off.cpu_us_per_request);
    std::fflush(stdout);
  }
  (void)SetAutoCapture(agent, false);
  std::printf(
      "%sthroughput ON/OFF: median %.4f [IQR %.4f, %.4f]; server CPU per "
      "request ON/OFF: median %.4f [%.4f, %.4f]; %d pairs of %.1f s, %d "
      "clients, failed requests %lu\n",
      control ? "A/A control (both OFF) " : "", Quantile(rate_ratio, 0.5),
      Quantile(rate_ratio, 0.25), Quantile(rate_ratio, 0.75),
      Quantile(cpu_ratio, 0.5), Quantile(cpu_ratio, 0.25),
      Quantile(cpu_ratio, 0.75), pairs, slice_s, threads,
      static_cast<unsigned long>(load.failed()));
  return 0;
}
