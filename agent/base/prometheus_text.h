// PrometheusText writes the Prometheus text exposition format (version
// 0.0.4), the body of /metrics: one "# HELP" and "# TYPE" line per family,
// then its samples, label values escaped as the format requires.
//
// Example:
//
//   PrometheusText text;
//   text.Family("inprof_samples_total", "counter", "Samples taken.");
//   text.Sample("inprof_samples_total", {{"source", "cpu"}}, 12);
//   std::string body = std::move(text).Take();
//
// Thread safety: thread-compatible (a value type).
#ifndef INPROF_AGENT_BASE_PROMETHEUS_TEXT_H_
#define INPROF_AGENT_BASE_PROMETHEUS_TEXT_H_

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace inprof::internal {

using MetricLabels = std::vector<std::pair<std::string, std::string>>;

class PrometheusText {
 public:
  // `type`: "gauge" or "counter". Call once per family, before its samples.
  void Family(std::string_view name, std::string_view type,
              std::string_view help);
  void Sample(std::string_view name, const MetricLabels& labels, double value);
  // A family of one unlabelled sample.
  void Single(std::string_view name, std::string_view type,
              std::string_view help, double value) {
    Family(name, type, help);
    Sample(name, {}, value);
  }

  // The content type /metrics answers with.
  static constexpr char kContentType[] =
      "text/plain; version=0.0.4; charset=utf-8";

  std::string Take() && { return std::move(out_); }

 private:
  std::string out_;
};

}  // namespace inprof::internal

#endif  // INPROF_AGENT_BASE_PROMETHEUS_TEXT_H_
