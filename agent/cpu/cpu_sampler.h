// CpuSampler owns the CPU-sampling pipeline: the signal handler, the
// per-thread timers, the sample ring and the collector thread that drains the
// ring into any number of sinks (ARCHITECTURE.md decision 1: two people
// fetching a CPU profile at once both get one).
//
//   timer signal ─► handler ─► SampleRing ─► collector ─► sink, sink, ...
//
// Timers run only while at least one sink is subscribed; with none, the
// collector thread sleeps and the process pays nothing but an installed
// signal handler. If the host installs its own handler for the signal over
// ours, the sampler notices (at the next subscription or drain, 50 ms at
// most), stops its timers for good and says so in stats(); it never
// reinstalls its handler over the host's.
//
// Ownership: owns everything above. The StackWalker is borrowed (the agent
// shares one between samplers) or owned when none is given. Sinks are
// borrowed between Subscribe() and Unsubscribe().
// Thread safety: thread-safe. Sinks are called on the collector thread or on
// the thread calling Subscribe/Unsubscribe, always under the sampler's mutex
// (so one sink never sees two calls at once).
#ifndef INPROF_AGENT_CPU_CPU_SAMPLER_H_
#define INPROF_AGENT_CPU_CPU_SAMPLER_H_

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "agent/cpu/raw_sample.h"
#include "agent/cpu/sample_ring.h"
#include "agent/cpu/signal_handler.h"
#include "agent/cpu/thread_timers.h"
#include "agent/unwind/stack_walker.h"
#include "inprof/status.h"

namespace inprof::internal {

// A consumer of CPU samples.
class CpuSampleSink {
 public:
  virtual ~CpuSampleSink() = default;
  // One sample from the ring. Samples taken before the sink subscribed may
  // still arrive: compare sample.timestamp_ns with your own start.
  virtual void OnSample(const RawSample& sample) = 0;
  // `count` samples were lost (ring full, handler re-entered, no map yet).
  virtual void OnLost(uint64_t count) = 0;
};

struct CpuSamplerOptions {
  int signo = 0;  // 0: SIGPROF
  int hz = 100;
  int max_depth = kMaxStackDepth;
  // Samples arrive at most at (busy cores x hz), plus wall samples; the
  // ring is drained every 50 ms. 0: twice what a drain interval can bring
  // on this machine's cores, at least 256 slots (~1.1 KiB each).
  size_t ring_capacity = 0;
};

// The ring size CpuSamplerOptions::ring_capacity = 0 stands for, on
// `cores` online cores: twice what one drain interval (50 ms) can bring,
// every core busy at `hz` plus the wall sampler's samples; at least 256.
size_t DefaultRingCapacity(long cores, int hz);

// Health counters, for profile comments and (later) /metrics.
struct CpuSamplerStats {
  uint64_t signals = 0;
  uint64_t samples = 0;  // drained from the ring
  uint64_t lost = 0;     // ring full + re-entered + no map + no stack
  // Process-timer signals on threads with a timer of their own: dropped,
  // neither samples nor lost (thread_coverage.h).
  uint64_t counted_elsewhere = 0;
  uint64_t truncated = 0;  // unwinds that stopped at a bad frame
  uint64_t timer_failures = 0;
  uint64_t threads_armed = 0;  // per-thread timers alive now
  // Threads that armed their own timer as they started (thread_start.h),
  // since the process started.
  uint64_t threads_armed_at_start = 0;
  uint64_t map_rebuilds = 0;
  uint64_t nanos_in_handler = 0;  // time the signal handler spent sampling
  // CPU time profiles found that no timer signalled, shown as
  // inprof.UnsampledCPU (unsampled_cpu.h), and the threads it was
  // found on, summed over profiles.
  uint64_t unsampled_nanos = 0;
  uint64_t unsampled_threads = 0;
  // The host installed its own handler for the signal over ours: sampling
  // stopped for good, and our timers with it.
  bool handler_replaced = false;
};

class CpuSampler {
 public:
  // Installs the signal handler and starts the (idle) collector thread.
  // Fails if the signal is taken by the host; leaves nothing behind then.
  // `walker` must outlive the sampler; nullptr: the sampler starts its own.
  [[nodiscard]] static StatusOr<std::unique_ptr<CpuSampler>> Start(
      const CpuSamplerOptions& options, StackWalker* walker = nullptr);

  CpuSampler(const CpuSampler&) = delete;
  CpuSampler& operator=(const CpuSampler&) = delete;
  // Stops the timers, restores the previous signal action, joins the thread.
  ~CpuSampler();

  // Starts delivering samples to `sink`; arms the timers if it is the first.
  void Subscribe(CpuSampleSink* sink);

  // Delivers every sample already in the ring (to all sinks), then stops
  // delivering to `sink`; disarms the timers if it was the last.
  void Unsubscribe(CpuSampleSink* sink);

  // Hands the samples taken so far to the sinks now, not at the next drain
  // (a slow request's capture wants them at once).
  void Drain();

  // In a forked child, instead of the destructor: the collector thread and
  // the timers were not copied by fork, so nothing is joined or deleted;
  // only the signal handler is uninstalled (unless the host replaced it).
  // The object must then be leaked, not destroyed. Not thread-safe.
  void AbandonAfterFork();

  // Counts what a profile added as inprof.UnsampledCPU, for stats().
  void CountUnsampled(uint64_t nanos, uint64_t threads);

  int hz() const { return options_.hz; }
  int signo() const { return options_.signo; }
  CpuSamplerStats stats() const;

 private:
  explicit CpuSampler(const CpuSamplerOptions& options);
  [[nodiscard]] Status Init();
  void CollectorLoop();
  void DrainLocked();
  void MaintainLocked(bool force_sync);
  // Notices a handler the host installed over ours; stops the timers then.
  void CheckHandlerLocked();

  // Immutable after construction.
  const CpuSamplerOptions options_;

  // Shared with signal handlers (internally synchronized, lock-free).
  SampleRing ring_;
  HandlerCounters counters_;
  std::unique_ptr<StackWalker> owned_walker_;
  StackWalker* walker_ = nullptr;

  mutable std::mutex mu_;
  std::condition_variable wake_;
  // Guarded by mu_.
  std::vector<CpuSampleSink*> sinks_;
  ThreadTimers timers_;
  bool stopping_ = false;
  bool handler_installed_ = false;
  bool handler_replaced_ = false;
  bool timers_pending_ = false;  // threads still without a timer
  uint64_t samples_ = 0;
  uint64_t lost_reported_ = 0;
  uint64_t unsampled_nanos_ = 0;
  uint64_t unsampled_threads_ = 0;
  std::chrono::steady_clock::time_point last_timer_sync_;
  // Until the next scan of the threads (MaintainLocked); 0 before the first.
  std::chrono::milliseconds timer_sync_interval_{0};

  std::thread collector_;
};

}  // namespace inprof::internal

#endif  // INPROF_AGENT_CPU_CPU_SAMPLER_H_
