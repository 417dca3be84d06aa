#include "agent/cpu/cpu_sampler.h"

#include <signal.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>

#include "agent/base/agent_thread_start.h"
#include "agent/cpu/thread_start.h"
#include "agent/cpu/wall_signal.h"

namespace inprof::internal {
namespace {

using std::chrono::milliseconds;
using std::chrono::steady_clock;

// The collector drains the ring this often while profiling: at most
// (busy cores x hz x 50 ms) CPU samples wait, 320 for 64 busy cores at
// 100 Hz, plus the wall sampler's (wall_signal.h).
constexpr milliseconds kDrainInterval{50};
constexpr size_t kWallSamplesPerDrain =
    kMaxWallSignalsPerTick *
    static_cast<size_t>(std::chrono::nanoseconds(kDrainInterval).count() /
                        kWallTickNanos);

// Threads created while profiling arm their own timer as they start
// (thread_start.h); the others (created before the profile, or whose
// arming failed) get one within this delay. Each rescan of /proc/self/task
// costs tens of microseconds: 50 ms rescans and 20 ms drains measured
// 1.7 ms of collector CPU per second of profiling.
constexpr milliseconds kTimerSyncInterval{100};
// Rescans that change nothing (ThreadTimers::settled()) double the delay to
// the next, up to this: a process whose threads all armed their own timers
// (thread_start.h) or live long needs the safety net rarely, and a scan of
// a thousand threads costs a millisecond. Any change brings it back to
// kTimerSyncInterval.
constexpr milliseconds kSettledTimerSyncInterval{800};
// Per-thread timers armed per collector round: 64 take well under a
// millisecond of CPU, so a round never holds the lock for long, even when
// thousands of busy threads starve the collector. The process timer samples
// the threads not reached yet.
constexpr size_t kTimersPerRound = 64;

}  // namespace

// Each slot is ~1.1 KiB and the ring cycles through all of them, so it is
// resident in full: 1024 slots on every machine cost a 2-core host 0.8 MiB
// more than it can use (issue 16, item 3).
size_t DefaultRingCapacity(long cores, int hz) {
  const size_t per_drain = static_cast<size_t>(std::max(1L, cores)) *
                               static_cast<size_t>(std::max(1, hz)) *
                               static_cast<size_t>(kDrainInterval.count()) /
                               1000 +
                           kWallSamplesPerDrain;
  return std::max<size_t>(256, 2 * per_drain);
}

CpuSampler::CpuSampler(const CpuSamplerOptions& options)
    : options_(options),
      ring_(
          options.ring_capacity != 0
              ? options.ring_capacity
              : DefaultRingCapacity(sysconf(_SC_NPROCESSORS_ONLN), options.hz)),
      timers_(options.signo, options.hz) {}

StatusOr<std::unique_ptr<CpuSampler>> CpuSampler::Start(
    const CpuSamplerOptions& requested, StackWalker* walker) {
  CpuSamplerOptions options = requested;
  if (options.signo == 0) options.signo = SIGPROF;
  if (options.hz < 1 || options.hz > 1000) {
    return InvalidArgumentError("hz=" + std::to_string(options.hz) +
                                ": must be between 1 and 1000");
  }
  options.max_depth = std::clamp(options.max_depth, 1, kMaxStackDepth);
  std::unique_ptr<CpuSampler> sampler(new CpuSampler(options));
  if (walker == nullptr) {
    StatusOr<std::unique_ptr<StackWalker>> owned = StackWalker::Start();
    if (!owned.ok()) return owned.status();
    sampler->owned_walker_ = std::move(*owned);
    walker = sampler->owned_walker_.get();
  }
  sampler->walker_ = walker;
  Status status = sampler->Init();
  if (!status.ok()) return status;
  return sampler;
}

Status CpuSampler::Init() {
  HandlerTarget target{&ring_, walker_, &counters_, options_.max_depth,
                       static_cast<uint64_t>(1'000'000'000 / options_.hz)};
  Status status = InstallCpuSignalHandler(options_.signo, target);
  if (!status.ok()) return status;
  handler_installed_ = true;
  // One sample now, on this thread, thrown away: every call on the
  // handler's path is bound here (clock_gettime, syscall, the unwinder),
  // never lazily inside a later signal on somebody's small stack.
  raise(options_.signo);
  ring_.Drain([](const RawSample&) {});
  counters_.Reset();
  // The agent's own threads are sampled like the host's, so a profile shows
  // what the agent itself costs (named so in thread lists).
  collector_ = StartAgentThread("inprof-collect", [this] { CollectorLoop(); });
  return OkStatus();
}

CpuSampler::~CpuSampler() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = true;
    timers_.DisarmAll();
  }
  wake_.notify_all();
  if (collector_.joinable()) collector_.join();
  if (handler_installed_) UninstallCpuSignalHandler();
}

void CpuSampler::AbandonAfterFork() {
  if (handler_installed_) UninstallCpuSignalHandler();
  handler_installed_ = false;
}

void CpuSampler::Subscribe(CpuSampleSink* sink) {
  std::lock_guard<std::mutex> lock(mu_);
  DrainLocked();  // earlier samples belong to earlier sinks
  sinks_.push_back(sink);
  CheckHandlerLocked();
  if (sinks_.size() == 1 && !handler_replaced_) {
    walker_->Rebuild();  // know every current thread's stack from the start
    MaintainLocked(/*force_sync=*/true);
  }
  wake_.notify_all();
}

void CpuSampler::Unsubscribe(CpuSampleSink* sink) {
  std::lock_guard<std::mutex> lock(mu_);
  DrainLocked();
  sinks_.erase(std::remove(sinks_.begin(), sinks_.end(), sink), sinks_.end());
  if (sinks_.empty()) {
    timers_.DisarmAll();
    DrainLocked();  // signals in flight at disarm time
  }
}

void CpuSampler::Drain() {
  std::lock_guard<std::mutex> lock(mu_);
  DrainLocked();
}

void CpuSampler::CollectorLoop() {
  std::unique_lock<std::mutex> lock(mu_);
  while (!stopping_) {
    if (sinks_.empty()) {
      wake_.wait(lock, [this] { return stopping_ || !sinks_.empty(); });
      continue;
    }
    wake_.wait_for(lock, kDrainInterval, [this] { return stopping_; });
    if (stopping_) break;
    // The last sink may have left while we waited: arming timers now would
    // sample with nobody listening until the next profile.
    if (sinks_.empty()) continue;
    DrainLocked();
    MaintainLocked(/*force_sync=*/false);
  }
}

void CpuSampler::DrainLocked() {
  samples_ += ring_.Drain([this](const RawSample& sample) {
    for (CpuSampleSink* sink : sinks_) sink->OnSample(sample);
  });
  uint64_t lost = ring_.dropped() +
                  counters_.reentrant.load(std::memory_order_relaxed) +
                  counters_.no_map.load(std::memory_order_relaxed) +
                  counters_.no_stack.load(std::memory_order_relaxed);
  if (lost > lost_reported_) {
    for (CpuSampleSink* sink : sinks_) sink->OnLost(lost - lost_reported_);
    lost_reported_ = lost;
  }
}

void CpuSampler::CheckHandlerLocked() {
  if (handler_replaced_ || CpuSignalHandlerInPlace()) return;
  handler_replaced_ = true;
  timers_.DisarmAll();
}

void CpuSampler::MaintainLocked(bool force_sync) {
  CheckHandlerLocked();
  if (handler_replaced_) return;
  walker_->RefreshIfNeeded();
  steady_clock::time_point now = steady_clock::now();
  if (force_sync || timers_pending_ ||
      now - last_timer_sync_ >= timer_sync_interval_) {
    timers_pending_ = !timers_.Sync(kTimersPerRound);
    last_timer_sync_ = now;
    timer_sync_interval_ =
        timers_.settled() ? std::min<milliseconds>(2 * timer_sync_interval_,
                                                   kSettledTimerSyncInterval)
                          : kTimerSyncInterval;
  }
}

void CpuSampler::CountUnsampled(uint64_t nanos, uint64_t threads) {
  std::lock_guard<std::mutex> lock(mu_);
  unsampled_nanos_ += nanos;
  unsampled_threads_ += threads;
}

CpuSamplerStats CpuSampler::stats() const {
  std::lock_guard<std::mutex> lock(mu_);
  CpuSamplerStats stats;
  stats.signals = counters_.signals.load(std::memory_order_relaxed);
  stats.samples = samples_;
  stats.lost = lost_reported_;
  stats.truncated = counters_.truncated.load(std::memory_order_relaxed);
  stats.counted_elsewhere =
      counters_.counted_elsewhere.load(std::memory_order_relaxed);
  stats.timer_failures = timers_.create_failures();
  stats.threads_armed = timers_.armed();
  stats.threads_armed_at_start = GetThreadStartStats().armed;
  stats.map_rebuilds = walker_->map_rebuilds();
  stats.nanos_in_handler = counters_.nanos.load(std::memory_order_relaxed);
  stats.handler_replaced = handler_replaced_;
  stats.unsampled_nanos = unsampled_nanos_;
  stats.unsampled_threads = unsampled_threads_;
  return stats;
}

}  // namespace inprof::internal
