// The heap sampler's and the allocator's parts of /metrics.
#ifndef INPROF_AGENT_HEAP_HEAP_METRICS_H_
#define INPROF_AGENT_HEAP_HEAP_METRICS_H_

#include "agent/base/prometheus_text.h"
#include "agent/heap/allocator_stats.h"
#include "agent/heap/heap_sampler.h"

namespace inprof::internal {

// `sampler` is null when heap sampling could not start: the sampler
// families then say 0 for the heap source, and the heap estimates are
// absent.
void WriteHeapMetrics(const HeapSampler* sampler, PrometheusText& text);

void WriteAllocatorMetrics(const AllocatorStats& stats, PrometheusText& text);

}  // namespace inprof::internal

#endif  // INPROF_AGENT_HEAP_HEAP_METRICS_H_
