// The metric families every sampler reports under its own `source` label
// (cpu, heap): samples taken, samples lost, time spent in the host's
// threads. Each sampler's metrics writer calls WriteSamplerMetrics with its
// figures; PrometheusText puts the sources of a family together.
#ifndef INPROF_AGENT_BASE_SAMPLER_METRICS_H_
#define INPROF_AGENT_BASE_SAMPLER_METRICS_H_

#include <cstdint>
#include <string_view>

#include "agent/base/prometheus_text.h"

namespace inprof::internal {

struct SamplerFigures {
  uint64_t samples = 0;
  uint64_t dropped = 0;
  uint64_t nanos_in_host = 0;  // in the signal handler or allocation hooks
};

inline void WriteSamplerMetrics(std::string_view source,
                                const SamplerFigures& figures,
                                PrometheusText& text) {
  const MetricLabels labels = {{"source", std::string(source)}};
  text.Family("inprof_samples_total", "counter",
              "Samples the agent took, by source.");
  text.Sample("inprof_samples_total", labels,
              static_cast<double>(figures.samples));
  text.Family("inprof_samples_dropped_total", "counter",
              "Samples lost, by source (CPU: ring full, re-entered handler, "
              "no map; heap: tables full).");
  text.Sample("inprof_samples_dropped_total", labels,
              static_cast<double>(figures.dropped));
  text.Family("inprof_sampler_seconds_total", "counter",
              "Time the agent spent taking samples inside the host's threads "
              "(signal handler, allocation hooks).");
  text.Sample("inprof_sampler_seconds_total", labels,
              static_cast<double>(figures.nanos_in_host) / 1e9);
}

}  // namespace inprof::internal

#endif  // INPROF_AGENT_BASE_SAMPLER_METRICS_H_
