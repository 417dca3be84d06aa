#include "agent/cpu/cpu_metrics.h"

#include "agent/base/sampler_metrics.h"

namespace inprof::internal {

void WriteCpuMetrics(const CpuSamplerStats& stats, PrometheusText& text) {
  WriteSamplerMetrics("cpu",
                      {.samples = stats.samples,
                       .dropped = stats.lost,
                       .nanos_in_host = stats.nanos_in_handler},
                      text);
  text.Single("inprof_cpu_timer_failures_total", "counter",
              "Per-thread CPU timers the kernel refused to create.",
              static_cast<double>(stats.timer_failures));
  text.Single("inprof_cpu_signal_handler_replaced", "gauge",
              "1 if the host installed its own handler for the CPU "
              "profiling signal over inprof's (CPU sampling is then off).",
              stats.handler_replaced ? 1.0 : 0.0);
  text.Single("inprof_cpu_unsampled_seconds_total", "counter",
              "CPU time threads used during CPU profiles that no timer "
              "signal sampled (the kernel checks a thread's timer only at "
              "a tick that finds it running), shown in the profiles as "
              "inprof.UnsampledCPU.",
              static_cast<double>(stats.unsampled_nanos) / 1e9);
  text.Single("inprof_cpu_unsampled_threads_total", "counter",
              "inprof.UnsampledCPU samples added to CPU profiles: threads "
              "whose CPU time exceeded their samples by a period or more.",
              static_cast<double>(stats.unsampled_threads));
  text.Single("inprof_stack_map_rebuilds_total", "counter",
              "Rebuilds of the unwinder's address map (dlopen, new stacks).",
              static_cast<double>(stats.map_rebuilds));
}

}  // namespace inprof::internal
