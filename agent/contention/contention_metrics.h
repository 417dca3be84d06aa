// The contention profiler's part of /metrics: delay and events per profile
// (block, mutex), its sampling cost and rates.
#ifndef INPROF_AGENT_CONTENTION_CONTENTION_METRICS_H_
#define INPROF_AGENT_CONTENTION_CONTENTION_METRICS_H_

#include "agent/base/prometheus_text.h"
#include "agent/contention/contention_profiler.h"

namespace inprof::internal {

void WriteContentionMetrics(const ContentionProfiler& profiler,
                            PrometheusText& text);

}  // namespace inprof::internal

#endif  // INPROF_AGENT_CONTENTION_CONTENTION_METRICS_H_
