// The CPU sampler's part of /metrics.
#ifndef INPROF_AGENT_CPU_CPU_METRICS_H_
#define INPROF_AGENT_CPU_CPU_METRICS_H_

#include "agent/base/prometheus_text.h"
#include "agent/cpu/cpu_sampler.h"

namespace inprof::internal {

void WriteCpuMetrics(const CpuSamplerStats& stats, PrometheusText& text);

}  // namespace inprof::internal

#endif  // INPROF_AGENT_CPU_CPU_METRICS_H_
