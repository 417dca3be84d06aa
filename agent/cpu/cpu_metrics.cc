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
  text.Single("inprof_stack_map_rebuilds_total", "counter",
              "Rebuilds of the unwinder's address map (dlopen, new stacks).",
              static_cast<double>(stats.map_rebuilds));
}

}  // namespace inprof::internal
