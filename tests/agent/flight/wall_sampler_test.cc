// The account of a request's wall time (issue 14, item 2): the wall samples
// of a thread inside a request add up to the time from its start to its
// last sample, even when the kernel drops signals. The wall signal is not
// realtime: one sent while another is pending is dropped, so each sample
// stands for the time since the thread's previous one
// (agent/cpu/wall_signal.h), not for a tick.
//
// No sleep and no waiting: the thread asks for its own wall samples
// (SendWallSignal, as the wall sampler's tick does) with the signal blocked,
// so that several are sent while one is pending, and takes them when it
// unblocks the signal (ThreadSanitizer runs a deferred handler there too).
// The samples are judged against the monotonic times the thread itself
// read, never against how long anything was expected to take.

#include "agent/flight/wall_sampler.h"

#include <gtest/gtest.h>
#include <pthread.h>
#include <signal.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <mutex>
#include <thread>
#include <vector>

#include "agent/base/clock.h"
#include "agent/base/thread_labels.h"
#include "agent/labels/active_requests.h"

namespace inprof::internal {
namespace {

constexpr uint64_t kRequestId = 0x5eed0001;

// Keeps the wall samples of kRequestId.
class WallSink : public CpuSampleSink {
 public:
  void OnSample(const RawSample& sample) override {
    if (sample.request_id != kRequestId || sample.wall_nanos == 0) return;
    std::lock_guard<std::mutex> lock(mu_);
    samples_.push_back(sample);
  }
  void OnLost(uint64_t) override {}

  std::vector<RawSample> samples() const {
    std::lock_guard<std::mutex> lock(mu_);
    return samples_;
  }

 private:
  mutable std::mutex mu_;
  std::vector<RawSample> samples_;
};

void SetSignalBlocked(int signo, bool blocked) {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, signo);
  pthread_sigmask(blocked ? SIG_BLOCK : SIG_UNBLOCK, &set, nullptr);
}

// Sends `count` wall signals to the calling thread while `signo` is
// blocked, then unblocks it: one is taken, the others were dropped.
void TakeWallSamples(int signo, int count) {
  const pid_t tid = static_cast<pid_t>(syscall(SYS_gettid));
  SetSignalBlocked(signo, true);
  for (int i = 0; i < count; ++i) {
    ASSERT_TRUE(SendWallSignal(signo, getpid(), getuid(), tid));
  }
  SetSignalBlocked(signo, false);
}

TEST(WallSamplerTest, SignalsTheKernelDroppedLoseNoTime) {
  CpuSamplerOptions options;
  options.hz = 100;
  auto sampler = CpuSampler::Start(options);
  ASSERT_TRUE(sampler.ok()) << sampler.status().ToString();
  const int signo = (*sampler)->signo();
  WallSink sink;
  (*sampler)->Subscribe(&sink);

  uint64_t entered_ns = 0;
  uint64_t sent_ns = 0;
  std::thread worker([&] {
    entered_ns = MonotonicNanos();
    ActiveRequests::Global().EnterOwn(kRequestId, 0, entered_ns);
    SetCurrentRequestId(kRequestId);
    sent_ns = MonotonicNanos();
    TakeWallSamples(signo, 3);  // two of the three dropped
    TakeWallSamples(signo, 1);
    TakeWallSamples(signo, 1);
    SetCurrentRequestId(0);
    ActiveRequests::Global().Leave();
  });
  worker.join();
  (*sampler)->Unsubscribe(&sink);  // delivers what is still in the ring

  const std::vector<RawSample> samples = sink.samples();
  ASSERT_EQ(samples.size(), 3u);
  // The first sample stands for all the time since the request began,
  // whatever the dropped signals would have said.
  EXPECT_GE(samples[0].wall_nanos, samples[0].timestamp_ns - sent_ns);
  // Together: exactly from the request's start to the last sample.
  uint64_t total = 0;
  for (const RawSample& sample : samples) total += sample.wall_nanos;
  EXPECT_EQ(total, samples.back().timestamp_ns - entered_ns);
}

}  // namespace
}  // namespace inprof::internal
