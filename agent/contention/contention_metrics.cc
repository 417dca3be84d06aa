#include "agent/contention/contention_metrics.h"

namespace inprof::internal {

void WriteContentionMetrics(const ContentionProfiler& profiler,
                            PrometheusText& text) {
  const auto per_profile = [&](const char* name, const char* type,
                               const char* help, auto value) {
    text.Family(name, type, help);
    for (ContentionKind kind :
         {ContentionKind::kBlock, ContentionKind::kMutex}) {
      text.Sample(
          name,
          {{"profile", kind == ContentionKind::kMutex ? "mutex" : "block"}},
          value(kind));
    }
  };
  per_profile(
      "inprof_contention_delay_seconds_total", "counter",
      "Waiting on locks and conditions (block) and waiting caused by "
      "critical sections (mutex), estimated from the profiles.",
      [&](ContentionKind kind) {
        uint64_t delay = 0;
        profiler.table(kind).ForEach([&](const ContentionTable::View& view) {
          delay += view.delay_nanos;
        });
        return static_cast<double>(delay) / 1e9;
      });
  per_profile(
      "inprof_contention_events_total", "counter",
      "Contended lock events, estimated from the profiles.",
      [&](ContentionKind kind) {
        uint64_t count = 0;
        profiler.table(kind).ForEach(
            [&](const ContentionTable::View& view) { count += view.count; });
        return static_cast<double>(count) / kCountOne;
      });
  per_profile("inprof_contention_samples_total", "counter",
              "Contention samples taken with their stack.",
              [&](ContentionKind kind) {
                return static_cast<double>(profiler.stats(kind).samples);
              });
  per_profile(
      "inprof_contention_sampling_seconds_total", "counter",
      "Time spent taking contention samples inside the host's "
      "threads.",
      [&](ContentionKind kind) {
        return static_cast<double>(profiler.stats(kind).nanos_sampling) / 1e9;
      });
  text.Single("inprof_block_profile_rate_seconds", "gauge",
              "Waits at least this long are always in the block profile.",
              static_cast<double>(profiler.block_rate()) / 1e9);
  text.Single("inprof_mutex_profile_fraction", "gauge",
              "One contended unlock in this many is in the mutex profile.",
              static_cast<double>(profiler.mutex_fraction()));
}

}  // namespace inprof::internal
