// The wall sampler's account of a request's time (issue 14, item 2): the
// wall samples of a thread inside a request add up to the time from its
// start to its last sample, even when the kernel drops signals. The wall
// signal is not realtime: one sent while another is pending is dropped, so
// each sample stands for the time since the thread's previous one
// (agent/cpu/wall_signal.h), not for a tick.
//
// Judged against the monotonic clock the test thread itself read, never
// against how long anything was expected to take.

#include "agent/flight/wall_sampler.h"

#include <gtest/gtest.h>
#include <pthread.h>
#include <signal.h>

#include <atomic>
#include <chrono>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include "agent/base/clock.h"
#include "agent/base/thread_labels.h"
#include "agent/labels/active_requests.h"

namespace inprof::internal {
namespace {

constexpr uint64_t kRequestId = 0x5eed0001;

// Keeps the wall samples of kRequestId and counts them.
class WallSink : public CpuSampleSink {
 public:
  void OnSample(const RawSample& sample) override {
    if (sample.request_id != kRequestId || sample.wall_nanos == 0) return;
    {
      std::lock_guard<std::mutex> lock(mu_);
      samples_.push_back(sample);
    }
    seen_.fetch_add(1);
  }
  void OnLost(uint64_t) override {}

  uint32_t seen() const { return seen_.load(); }
  std::vector<RawSample> samples() const {
    std::lock_guard<std::mutex> lock(mu_);
    return samples_;
  }

 private:
  mutable std::mutex mu_;
  std::vector<RawSample> samples_;
  std::atomic<uint32_t> seen_{0};
};

void SetSignalBlocked(int signo, bool blocked) {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, signo);
  pthread_sigmask(blocked ? SIG_BLOCK : SIG_UNBLOCK, &set, nullptr);
}

TEST(WallSamplerTest, SignalsTheKernelDroppedLoseNoTime) {
  CpuSamplerOptions options;
  options.hz = 100;
  auto sampler = CpuSampler::Start(options);
  ASSERT_TRUE(sampler.ok()) << sampler.status().ToString();
  WallSink sink;
  (*sampler)->Subscribe(&sink);
  WallSampler wall(sampler->get());

  uint64_t entered_ns = 0;
  uint64_t unblocked_ns = 0;
  std::thread worker([&] {
    // Blocked before the request starts, so the first signals pile up.
    SetSignalBlocked(SIGPROF, true);
    entered_ns = MonotonicNanos();
    ActiveRequests::Global().EnterOwn(kRequestId, 0, entered_ns);
    SetCurrentRequestId(kRequestId);
    // Three wall signals sent while blocked: the kernel keeps the first
    // pending and drops the others (a timer's may be among them too).
    const uint64_t sent_before = WallSampler::Totals().signals;
    while (WallSampler::Totals().signals < sent_before + 3) {
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    unblocked_ns = MonotonicNanos();
    SetSignalBlocked(SIGPROF, false);  // the pending one is delivered here
    // Two more samples, taken while the thread waits in the kernel: in
    // nanosleep, where ThreadSanitizer runs a deferred handler at once (in
    // a futex wait it would not, and no sample would ever come).
    while (sink.seen() <= 2) {
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    SetCurrentRequestId(0);
    ActiveRequests::Global().Leave();
  });
  worker.join();
  (*sampler)->Unsubscribe(&sink);

  const std::vector<RawSample> samples = sink.samples();
  ASSERT_GE(samples.size(), 3u);
  // The first sample, delivered as the signal was unblocked, stands for all
  // the time since the request began: the dropped signals' share included.
  EXPECT_GE(samples[0].wall_nanos, unblocked_ns - entered_ns);
  // All of them together: from the request's start to the last one (each
  // sample's time is read a few instructions before its timestamp).
  uint64_t total = 0;
  for (const RawSample& sample : samples) total += sample.wall_nanos;
  const uint64_t span = samples.back().timestamp_ns - entered_ns;
  EXPECT_LE(total, span);
  EXPECT_GE(total + 2'000'000, span) << "wall time lost";
  EXPECT_GT(WallSampler::Totals().signals, 3u);
}

}  // namespace
}  // namespace inprof::internal
