// PrometheusText writes the Prometheus text exposition format (version
// 0.0.4), the body of /metrics: one "# HELP" and "# TYPE" line per family,
// then its samples, label values escaped as the format requires. Each
// component writes its own metrics into one PrometheusText; a family that
// several write (inprof_samples_total{source}) is declared by each and
// comes out once, its samples together, as the format requires.
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
  // `type`: "gauge" or "counter". Call before the family's samples; a
  // second call for the same name adds nothing (the first help and type
  // stay). Families come out in the order first declared.
  void Family(std::string_view name, std::string_view type,
              std::string_view help);
  // Appends a sample to family `name`, which must have been declared.
  void Sample(std::string_view name, const MetricLabels& labels, double value);
  // The same for a histogram's series: the sample is named `family` +
  // `suffix` ("_bucket", "_sum", "_count") and kept with its family.
  void Sample(std::string_view family, std::string_view suffix,
              const MetricLabels& labels, double value);
  // A family of one unlabelled sample.
  void Single(std::string_view name, std::string_view type,
              std::string_view help, double value) {
    Family(name, type, help);
    Sample(name, {}, value);
  }

  // The content type /metrics answers with.
  static constexpr char kContentType[] =
      "text/plain; version=0.0.4; charset=utf-8";

  std::string Take() &&;

 private:
  struct Block {
    std::string name;
    std::string header;  // HELP and TYPE, once declared
    std::string samples;
  };
  Block& BlockFor(std::string_view name);

  std::vector<Block> blocks_;
};

}  // namespace inprof::internal

#endif  // INPROF_AGENT_BASE_PROMETHEUS_TEXT_H_
