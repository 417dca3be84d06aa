#include "agent/heap/heap_metrics.h"

#include <cstdint>

#include "agent/base/sampler_metrics.h"

namespace inprof::internal {
namespace {

void WriteEstimates(const HeapSampler& sampler, PrometheusText& text) {
  // Totals only: summed in place, no stacks copied.
  int64_t alloc_objects = 0, alloc_bytes = 0, inuse_objects = 0,
          inuse_bytes = 0;
  sampler.tables().ForEachBucket([&](const HeapTables::BucketView& view) {
    const HeapBucketCounts& c = view.counts;
    alloc_objects += static_cast<int64_t>(c.alloc_weight);
    alloc_bytes += static_cast<int64_t>(c.alloc_bytes_weight);
    inuse_objects += static_cast<int64_t>(c.alloc_weight - c.free_weight);
    inuse_bytes +=
        static_cast<int64_t>(c.alloc_bytes_weight - c.free_bytes_weight);
  });
  const double one = static_cast<double>(kWeightOne);
  text.Single("inprof_heap_sample_rate_bytes", "gauge",
              "Mean bytes allocated between two heap samples.",
              static_cast<double>(sampler.rate()));
  text.Single("inprof_heap_inuse_bytes", "gauge",
              "Live heap bytes, estimated from the heap profile's samples.",
              inuse_bytes / one);
  text.Single("inprof_heap_inuse_objects", "gauge",
              "Live heap objects, estimated from the heap profile.",
              inuse_objects / one);
  text.Single("inprof_heap_allocated_bytes_total", "counter",
              "Bytes allocated since the agent started, estimated from "
              "the heap profile.",
              alloc_bytes / one);
  text.Single("inprof_heap_allocated_objects_total", "counter",
              "Objects allocated since the agent started, estimated from "
              "the heap profile.",
              alloc_objects / one);
}

}  // namespace

void WriteHeapMetrics(const HeapSampler* sampler, PrometheusText& text) {
  SamplerFigures figures;
  if (sampler != nullptr) {
    HeapSamplerStats stats = sampler->stats();
    figures = {.samples = stats.samples,
               .dropped = stats.untracked + stats.overflowed,
               .nanos_in_host = stats.nanos_in_sampler};
  }
  WriteSamplerMetrics("heap", figures, text);
  if (sampler != nullptr) WriteEstimates(*sampler, text);
}

void WriteAllocatorMetrics(const AllocatorStats& stats, PrometheusText& text) {
  text.Family("inprof_allocator_bytes", "gauge",
              "Memory as the allocator accounts it, by kind (bytes_in_use: "
              "held by the application; heap_size: obtained from the OS).");
  for (const auto& [kind, value] : stats.values) {
    if (kind.ends_with("_chunks")) continue;  // counts, not bytes
    text.Sample("inprof_allocator_bytes",
                {{"allocator", stats.allocator}, {"kind", kind}},
                static_cast<double>(value));
  }
}

}  // namespace inprof::internal
