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
  // The window starts once sampling is set up, as Go's StartCPUProfile
  // returns before its handler sleeps: on a host saturated by thousands of
  // runnable threads, arming their timers takes seconds of wall time, and
  // the profile must still cover the seconds asked for. The duration
  // reported counts from `start`, since samples arrive from the first timer.
  WaitForWindow(request.seconds, request.cancelled);
  sampler_->Unsubscribe(&recorder);
  info.duration_nanos =
      std::chrono::duration_cast<std::chrono::nanoseconds>(Clock::now() - start)
          .count();
  info.comments = Comments(recorder);
  return symbolizer_->Build(request.cancelled, [&](Symbolizer* s) {
    return BuildCpuProfile(recorder, info, s);
  });
}

std::vector<std::string> CpuProfileSource::Comments(
    const CpuProfileRecorder& recorder) const {
  CpuSamplerStats stats = sampler_->stats();
  std::vector<std::string> comments = {
      "inprof cpu profile: " + std::to_string(sampler_->hz()) +
          " Hz per-thread CPU-time timers; " +
          std::to_string(recorder.threads()) + " threads sampled",
      "lost samples: " + std::to_string(recorder.lost()) + " (reported as " +
          kLostSamplesFrame + ")",
      "truncated stacks: " + std::to_string(recorder.truncated()),
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
