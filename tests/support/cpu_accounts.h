// Threads whose CPU time a test or benchmark measures on their own clocks,
// and a CPU profile read back per thread: what each thread's samples show
// (by the endpoint label of the request scope it runs in) and its
// inprof.UnsampledCPU sample (agent/cpu/unsampled_cpu.h), to compare with
// what it measured. Used by tests/agent/sources/cpu_source_test.cc and
// tests/bench/unsampled_cpu_benchmark.cc.
#ifndef INPROF_TESTS_SUPPORT_CPU_ACCOUNTS_H_
#define INPROF_TESTS_SUPPORT_CPU_ACCOUNTS_H_

#include <pthread.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "agent/base/clock.h"
#include "agent/cpu/cpu_profile.h"
#include "agent/profile/profile.h"
#include "inprof/request.h"
#include "tests/support/thread_cpu.h"

namespace inprof::test {

// A thread named `name` (pthread_setname_np: at most 15 characters) that
// parks until `go`, runs `work` inside RequestScope(name) (so its samples
// carry the endpoint label `name`), records the CPU time `work` took on its
// own clock, and parks again until `release`: alive and idle at the end of
// a profile taken meanwhile. Parked in the kernel (atomic wait), not
// polling: a poll's wake-ups would burn CPU time `work` does not measure.
// The destructor joins the thread (set and notify `release` first).
class ParkedWorker {
 public:
  ParkedWorker(std::string name, std::function<void()> work,
               const std::atomic<bool>* go, const std::atomic<bool>* release)
      : name_(std::move(name)) {
    thread_ = std::thread([this, work = std::move(work), go, release] {
      pthread_setname_np(pthread_self(), name_.c_str());
      inprof::RequestScope scope(name_);
      tid_ = static_cast<pid_t>(syscall(SYS_gettid));
      tid_.notify_all();
      go->wait(false);
      const int64_t before = ThreadCpuNanos();
      work();
      cpu_ns_ = ThreadCpuNanos() - before;
      done_ = true;
      done_.notify_all();
      release->wait(false);
    });
  }
  ~ParkedWorker() { thread_.join(); }
  ParkedWorker(const ParkedWorker&) = delete;
  ParkedWorker& operator=(const ParkedWorker&) = delete;

  const std::string& name() const { return name_; }
  pid_t tid() const { return tid_.load(); }  // 0 until it runs
  bool done() const { return done_.load(); }
  // Block until the thread runs (its tid is known), or its work is done.
  void WaitStarted() const { tid_.wait(0); }
  void WaitDone() const { done_.wait(false); }
  int64_t cpu_ns() const { return cpu_ns_.load(); }

 private:
  const std::string name_;
  std::atomic<pid_t> tid_{0};
  std::atomic<bool> done_{false};
  std::atomic<int64_t> cpu_ns_{0};
  std::thread thread_;
};

// Busy `busy_ns` of CPU time at the start of every 10 ms of wall time,
// `cycles` times or until `*stop`, asleep the rest: a thread that is often
// asleep again before the scheduler tick, which is when the kernel checks
// its timer. (On a machine with fewer cores than the bursts need, threads
// fall behind and sleep less.)
// (The wall clock paces the bursts here; nothing is judged by it.)
__attribute__((noipa)) inline void BurnInBursts(
    int64_t busy_ns, int cycles, const std::atomic<bool>* stop = nullptr) {
  using inprof::internal::MonotonicNanos;
  uint64_t next = MonotonicNanos();
  for (int i = 0; i < cycles; ++i) {
    if (stop != nullptr && stop->load()) return;
    BurnThreadCpu(busy_ns);
    next += 10'000'000;
    const uint64_t now = MonotonicNanos();
    if (next > now) {
      timespec until{static_cast<time_t>(next / 1'000'000'000),
                     static_cast<long>(next % 1'000'000'000)};
      clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &until, nullptr);
    } else {
      next = now;  // behind (a busy machine): no catching up in a burst
    }
  }
}

// One inprof.UnsampledCPU sample.
struct UnsampledCpuSample {
  bool has_tid = false;
  int64_t tid = 0;  // its thread_id label
  bool has_name = false;
  std::string name;   // its thread_name label
  int64_t count = 0;  // samples/count
  int64_t nanos = 0;  // cpu/nanoseconds
};

// A CPU profile read per thread.
struct CpuAccounts {
  // cpu/nanoseconds of the samples carrying each endpoint label.
  std::map<std::string, int64_t> sampled_by_endpoint;
  std::vector<UnsampledCpuSample> unsampled;
  int64_t total_ns = 0;  // every sample's
  int64_t unsampled_total_ns = 0;

  int64_t SampledNanos(const std::string& endpoint) const {
    const auto found = sampled_by_endpoint.find(endpoint);
    return found == sampled_by_endpoint.end() ? 0 : found->second;
  }
  // The inprof.UnsampledCPU nanoseconds of thread `tid`, and how many
  // samples it has (one at most, by design).
  int64_t UnsampledNanos(int64_t tid, int* samples = nullptr) const {
    int64_t nanos = 0;
    int found = 0;
    for (const UnsampledCpuSample& sample : unsampled) {
      if (sample.tid != tid) continue;
      nanos += sample.nanos;
      ++found;
    }
    if (samples != nullptr) *samples = found;
    return nanos;
  }
};

inline std::string FunctionAt(const internal::Profile& profile,
                              uint64_t location_id) {
  for (const internal::Location& location : profile.locations) {
    if (location.id != location_id || location.lines.empty()) continue;
    for (const internal::Function& function : profile.functions) {
      if (function.id == location.lines[0].function_id) return function.name;
    }
  }
  return "";
}

inline CpuAccounts ReadCpuAccounts(const internal::Profile& profile) {
  CpuAccounts accounts;
  for (const internal::Sample& sample : profile.samples) {
    accounts.total_ns += sample.values[1];
    if (sample.location_ids.size() == 1 &&
        FunctionAt(profile, sample.location_ids[0]) ==
            internal::kUnsampledCpuFrame) {
      UnsampledCpuSample unsampled;
      unsampled.count = sample.values[0];
      unsampled.nanos = sample.values[1];
      for (const internal::Label& label : sample.labels) {
        if (label.key == internal::kUnsampledThreadIdLabel) {
          unsampled.has_tid = true;
          unsampled.tid = label.num;
        } else if (label.key == internal::kUnsampledThreadNameLabel) {
          unsampled.has_name = true;
          unsampled.name = label.str;
        }
      }
      accounts.unsampled_total_ns += unsampled.nanos;
      accounts.unsampled.push_back(std::move(unsampled));
      continue;
    }
    for (const internal::Label& label : sample.labels) {
      if (label.key == "endpoint") {
        accounts.sampled_by_endpoint[label.str] += sample.values[1];
      }
    }
  }
  return accounts;
}

}  // namespace inprof::test

#endif  // INPROF_TESTS_SUPPORT_CPU_ACCOUNTS_H_
