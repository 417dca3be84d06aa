// /metrics families of the label-set registry: how full it is, and how many
// scopes got the overflow set (a sign of endpoint names that are URLs).
#ifndef INPROF_AGENT_LABELS_LABEL_METRICS_H_
#define INPROF_AGENT_LABELS_LABEL_METRICS_H_

#include "agent/base/prometheus_text.h"
#include "agent/labels/label_registry.h"

namespace inprof::internal {

void WriteLabelMetrics(const LabelRegistry& registry, PrometheusText& text);

}  // namespace inprof::internal

#endif  // INPROF_AGENT_LABELS_LABEL_METRICS_H_
