#include "agent/labels/label_metrics.h"

namespace inprof::internal {

void WriteLabelMetrics(const LabelRegistry& registry, PrometheusText& text) {
  text.Single("inprof_label_sets", "gauge",
              "Distinct request label sets interned (RequestScope).",
              static_cast<double>(registry.size()));
  text.Single("inprof_label_sets_capacity", "gauge",
              "Label sets the registry holds at most.",
              static_cast<double>(kMaxLabelSets));
  text.Single("inprof_label_set_overflows_total", "counter",
              "Scopes given the overflow set endpoint=\"inprof.LabelSetsFull\" "
              "because the registry was full.",
              static_cast<double>(registry.overflows()));
}

}  // namespace inprof::internal
