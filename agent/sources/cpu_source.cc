#include "agent/sources/cpu_source.h"

#include <chrono>

#include "agent/base/clock.h"
#include "agent/cpu/signal_handler.h"

namespace inprof::internal {

StatusOr<Profile> CpuProfileSource::Build(const ProfileRequest& request) {
  using Clock = std::chrono::steady_clock;
  CpuProfileRecorder recorder(MonotonicNanos());
  CpuProfileInfo info;
  info.hz = sampler_->hz();
  info.start_unix_nanos = UnixNanos();
  const Clock::time_point start = Clock::now();
  sampler_->Subscribe(&recorder);
  const CpuSamplerStats stats_at_start = sampler_->stats();
  // Each thread's CPU clock is read inside the window, after the timers are
  // armed and before they stop (unsampled_cpu.h says why).
  const ThreadCpuClocks clocks_at_start = ReadThreadCpuClocks();
  // The window starts once sampling is set up, as Go's StartCPUProfile
  // returns before its handler sleeps: on a host saturated by thousands of
  // runnable threads, arming their timers takes seconds of wall time, and
  // the profile must still cover the seconds asked for. The duration
  // reported counts from `start`, since samples arrive from the first timer.
  const bool complete = WaitForWindow(request.seconds, request.cancelled);
  const ThreadCpuClocks clocks_at_end = ReadThreadCpuClocks();
  sampler_->Unsubscribe(&recorder);
  const CpuSamplerStats stats_at_end = sampler_->stats();
  info.duration_nanos =
      std::chrono::duration_cast<std::chrono::nanoseconds>(Clock::now() - start)
          .count();
  UnsampledCpu unsampled =
      FindUnsampledCpu(clocks_at_start, clocks_at_end,
                       recorder.periods_by_thread(), 1'000'000'000 / info.hz);
  if (complete) {  // else the profile is thrown away
    sampler_->CountUnsampled(static_cast<uint64_t>(unsampled.total_ns),
                             unsampled.threads.size());
  }
  info.comments = Comments(recorder, unsampled);
  info.comments.push_back(HandlerCostComment(stats_at_start, stats_at_end));
  info.unsampled = std::move(unsampled.threads);
  return symbolizer_->Build(request.cancelled, [&](Symbolizer* s) {
    return BuildCpuProfile(recorder, info, s);
  });
}

std::string HandlerCostComment(const CpuSamplerStats& start,
                               const CpuSamplerStats& end) {
  // What sampling cost the interrupted threads, as the handler measured it
  // (its own time, not the kernel's signal delivery): with the agent
  // threads' CPU (inprof_agent_thread samples), the agent's cost in the
  // profile.
  return std::string(kHandlerCostComment) +
         std::to_string((end.nanos_in_handler - start.nanos_in_handler) /
                        1000) +
         " us over " + std::to_string(end.signals - start.signals) + " signals";
}

std::vector<std::string> CpuProfileSource::Comments(
    const CpuProfileRecorder& recorder, const UnsampledCpu& unsampled) const {
  CpuSamplerStats stats = sampler_->stats();
  std::vector<std::string> comments = {
      "inprof cpu profile: " + std::to_string(sampler_->hz()) +
          " Hz per-thread CPU-time timers; " +
          std::to_string(recorder.threads()) + " threads sampled",
      "lost samples: " + std::to_string(recorder.lost()) + " (reported as " +
          kLostSamplesFrame + ")",
      "truncated stacks: " + std::to_string(recorder.truncated()),
      "unsampled CPU: " + std::to_string(unsampled.total_ns / 1'000'000) +
          " ms on " + std::to_string(unsampled.threads.size()) +
          " threads that used more CPU than their samples show (reported as " +
          kUnsampledCpuFrame + "); threads that ended during the profile, " +
          "not checked: " + std::to_string(unsampled.threads_ended),
      "agent totals since start: signals=" + std::to_string(stats.signals) +
          " lost=" + std::to_string(stats.lost) +
          " timer_failures=" + std::to_string(stats.timer_failures) +
          " map_rebuilds=" + std::to_string(stats.map_rebuilds),
  };
  if (stats.handler_replaced) {
    comments.push_back(
        "CPU sampling is off: the host process installed its own " +
        std::string(SignalName(sampler_->signo())) +
        " handler over inprof's; samples taken after that are missing "
        "(choose another signal with INPROF_SIGNAL)");
  }
  return comments;
}

}  // namespace inprof::internal
