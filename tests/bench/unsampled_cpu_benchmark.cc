// CPU time nobody sampled (issue 16, item 5): N threads that each run in
// short bursts, thread i busy (i+1)/N of every 10 ms, profiled through the
// agent's /debug/pprof/profile as a user fetches it; each thread's samples
// against the CPU time it measured on its own clock, before (samples
// alone) and after (samples + its inprof.UnsampledCPU sample) the
// correction of agent/cpu/unsampled_cpu.h.
//
//   unsampled_cpu_benchmark [--threads=8] [--rounds=9] [--seconds=5]
//       [--profile_out=PATH]  (the last round's profile, as served)
//
// Each round starts the threads half a second into a profile of `seconds`
// and stops them 1.5 s before its end.
//
// Per round, one line of key=value pairs:
//   total_before / total_after: the threads' profile CPU time over their
//     measured CPU time, %;
//   share_err_before / share_err_after: the largest difference, in points,
//     between a thread's share of the profile and its share of the
//     measured CPU time;
//   zero_sample_threads: threads with no sample at all (before);
//   zero_after: threads with neither a sample nor inprof.UnsampledCPU;
//   corrected_threads, unsampled_ms: the inprof.UnsampledCPU samples.
// Then the medians over the rounds, and in how many rounds some thread had
// no sample. tests/bench/run_unsampled_cpu.sh runs 8 and 32 threads.

#include <httplib.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "agent/profile/decode.h"
#include "inprof/agent.h"
#include "tests/support/cpu_accounts.h"

namespace {

struct Round {
  double total_before = 0, total_after = 0;
  double share_err_before = 0, share_err_after = 0;
  int zero_sample_threads = 0;
  int zero_after = 0;  // threads with neither samples nor a correction
  int corrected_threads = 0;
  double unsampled_ms = 0;
  bool valid = false;
};

double Median(std::vector<double> values) {
  if (values.empty()) return 0;
  std::sort(values.begin(), values.end());
  const size_t n = values.size();
  return n % 2 == 1 ? values[n / 2] : (values[n / 2 - 1] + values[n / 2]) / 2;
}

// Where to write each round's profile as served ("" for nowhere).
std::string g_profile_out;

// Whether one of the agent's threads is waiting out a profile's window
// (its stack, in the agent's own thread dump, names WaitForWindow).
bool AgentIsInAWindow(int port) {
  httplib::Client client("127.0.0.1", port);
  httplib::Result r = client.Get("/debug/pprof/goroutine?debug=2");
  return r && r->status == 200 &&
         r->body.find("WaitForWindow") != std::string::npos;
}

Round RunRound(int port, int threads, int seconds) {
  using inprof::test::ParkedWorker;
  Round round;
  std::atomic<bool> go{false}, stop{false}, release{false};
  std::vector<std::unique_ptr<ParkedWorker>> workers;
  for (int i = 0; i < threads; ++i) {
    const int64_t busy = 10'000'000LL * (i + 1) / threads;
    workers.push_back(std::make_unique<ParkedWorker>(
        "bursty-" + std::to_string(i),
        [busy, &stop] { inprof::test::BurnInBursts(busy, 1 << 30, &stop); },
        &go, &release));
  }
  for (const auto& worker : workers) worker->WaitStarted();
  std::string body;
  std::thread fetch([&] {
    httplib::Client client("127.0.0.1", port);
    client.set_read_timeout(seconds + 60, 0);
    httplib::Result r =
        client.Get("/debug/pprof/profile?seconds=" + std::to_string(seconds));
    if (r && r->status == 200) {
      body = r->body;
    } else {
      std::fprintf(stderr, "GET /debug/pprof/profile: %s\n",
                   r ? (std::to_string(r->status) + " " + r->body).c_str()
                     : httplib::to_string(r.error()).c_str());
    }
  });
  // The agent arms its timers and reads the threads' clocks as the request
  // arrives, then waits out the window; the workers use no CPU until `go`.
  while (!AgentIsInAWindow(port)) {
  }
  go = true;
  go.notify_all();
  // How long the bursts run (the workload's length, not a judgement): about
  // the window, less a margin; AgentIsInAWindow below checks they ended
  // inside it.
  usleep((seconds - 2) * 1'000'000);
  stop = true;
  for (const auto& worker : workers) worker->WaitDone();
  // Still inside the window: all the work is in the profile.
  const bool inside = AgentIsInAWindow(port);
  fetch.join();
  round.valid = inside && !body.empty();
  std::vector<int64_t> measured, sampled, unsampled;
  for (const auto& worker : workers) measured.push_back(worker->cpu_ns());
  release = true;
  release.notify_all();
  if (!round.valid) return round;
  if (!g_profile_out.empty()) {
    if (FILE* out = std::fopen(g_profile_out.c_str(), "wb")) {
      std::fwrite(body.data(), 1, body.size(), out);
      std::fclose(out);
    }
  }
  auto profile = inprof::internal::DecodeProfile(body);
  if (!profile.ok()) {
    round.valid = false;
    return round;
  }
  const inprof::test::CpuAccounts accounts =
      inprof::test::ReadCpuAccounts(*profile);
  double sum_measured = 0, sum_sampled = 0, sum_after = 0;
  for (const auto& worker : workers) {
    sampled.push_back(accounts.SampledNanos(worker->name()));
    unsampled.push_back(accounts.UnsampledNanos(worker->tid()));
    round.zero_sample_threads += sampled.back() == 0;
    round.zero_after += sampled.back() + unsampled.back() == 0;
    round.corrected_threads += unsampled.back() > 0;
    round.unsampled_ms += unsampled.back() / 1e6;
  }
  for (int i = 0; i < threads; ++i) {
    sum_measured += measured[i];
    sum_sampled += sampled[i];
    sum_after += sampled[i] + unsampled[i];
  }
  round.total_before = 100.0 * sum_sampled / sum_measured;
  round.total_after = 100.0 * sum_after / sum_measured;
  for (int i = 0; i < threads; ++i) {
    const double share = 100.0 * measured[i] / sum_measured;
    round.share_err_before =
        std::max(round.share_err_before,
                 std::fabs(100.0 * sampled[i] / sum_sampled - share));
    round.share_err_after = std::max(
        round.share_err_after,
        std::fabs(100.0 * (sampled[i] + unsampled[i]) / sum_after - share));
  }
  workers.clear();  // joins them
  return round;
}

int IntFlag(int argc, char** argv, const char* name, int fallback) {
  const size_t length = std::strlen(name);
  for (int i = 1; i < argc; ++i) {
    if (std::strncmp(argv[i], name, length) == 0 && argv[i][length] == '=') {
      return std::atoi(argv[i] + length + 1);
    }
  }
  return fallback;
}

}  // namespace

int main(int argc, char** argv) {
  const int threads = IntFlag(argc, argv, "--threads", 8);
  const int rounds = IntFlag(argc, argv, "--rounds", 9);
  const int seconds = std::max(3, IntFlag(argc, argv, "--seconds", 5));
  for (int i = 1; i < argc; ++i) {
    if (std::strncmp(argv[i], "--profile_out=", 14) == 0) {
      g_profile_out = argv[i] + 14;
    }
  }
  inprof::Options options;
  options.port = 0;
  auto agent = inprof::Agent::Start(options);
  if (!agent.ok()) {
    std::fprintf(stderr, "agent: %s\n", agent.status().ToString().c_str());
    return 1;
  }
  std::vector<double> before, after, err_before, err_after, zero, corrected,
      unsampled_ms;
  int rounds_with_zero = 0, valid = 0;
  for (int r = 0; r < rounds; ++r) {
    const Round round = RunRound(agent->port(), threads, seconds);
    if (!round.valid) {
      std::printf("threads=%d round=%d invalid (work outlasted the profile)\n",
                  threads, r);
      continue;
    }
    ++valid;
    std::printf(
        "threads=%d round=%d total_before=%.1f total_after=%.1f "
        "share_err_before=%.2f share_err_after=%.2f zero_sample_threads=%d "
        "zero_after=%d corrected_threads=%d unsampled_ms=%.0f\n",
        threads, r, round.total_before, round.total_after,
        round.share_err_before, round.share_err_after,
        round.zero_sample_threads, round.zero_after, round.corrected_threads,
        round.unsampled_ms);
    std::fflush(stdout);
    before.push_back(round.total_before);
    after.push_back(round.total_after);
    err_before.push_back(round.share_err_before);
    err_after.push_back(round.share_err_after);
    zero.push_back(round.zero_sample_threads);
    corrected.push_back(round.corrected_threads);
    unsampled_ms.push_back(round.unsampled_ms);
    rounds_with_zero += round.zero_sample_threads > 0;
  }
  std::printf(
      "threads=%d rounds=%d median total_before=%.1f total_after=%.1f "
      "share_err_before=%.2f share_err_after=%.2f zero_sample_threads=%.0f "
      "corrected_threads=%.0f unsampled_ms=%.0f "
      "rounds_with_a_zero_sample_thread=%d\n",
      threads, valid, Median(before), Median(after), Median(err_before),
      Median(err_after), Median(zero), Median(corrected), Median(unsampled_ms),
      rounds_with_zero);
  return 0;
}
