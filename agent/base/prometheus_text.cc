#include "agent/base/prometheus_text.h"

#include <cmath>
#include <cstdio>

namespace inprof::internal {
namespace {

// HELP text escapes '\' and newline; label values also '"'.
std::string Escape(std::string_view text, bool quotes) {
  std::string out;
  for (char c : text) {
    if (c == '\\') {
      out += "\\\\";
    } else if (c == '\n') {
      out += "\\n";
    } else if (c == '"' && quotes) {
      out += "\\\"";
    } else {
      out += c;
    }
  }
  return out;
}

std::string FormatValue(double value) {
  if (std::isnan(value)) return "NaN";
  if (std::isinf(value)) return value > 0 ? "+Inf" : "-Inf";
  char buffer[32];
  if (value == std::floor(value) && std::fabs(value) < 1e15) {
    std::snprintf(buffer, sizeof(buffer), "%.0f", value);
  } else {
    std::snprintf(buffer, sizeof(buffer), "%.9g", value);
  }
  return buffer;
}

}  // namespace

PrometheusText::Block& PrometheusText::BlockFor(std::string_view name) {
  for (Block& block : blocks_) {
    if (block.name == name) return block;
  }
  blocks_.push_back(Block{std::string(name), {}, {}});
  return blocks_.back();
}

void PrometheusText::Family(std::string_view name, std::string_view type,
                            std::string_view help) {
  Block& block = BlockFor(name);
  if (!block.header.empty()) return;  // declared already
  std::string& out = block.header;
  out += "# HELP ";
  out += name;
  out += ' ';
  out += Escape(help, /*quotes=*/false);
  out += "\n# TYPE ";
  out += name;
  out += ' ';
  out += type;
  out += '\n';
}

void PrometheusText::Sample(std::string_view name, const MetricLabels& labels,
                            double value) {
  Sample(name, "", labels, value);
}

void PrometheusText::Sample(std::string_view family, std::string_view suffix,
                            const MetricLabels& labels, double value) {
  std::string& out = BlockFor(family).samples;
  out += family;
  out += suffix;
  if (!labels.empty()) {
    out += '{';
    for (size_t i = 0; i < labels.size(); ++i) {
      if (i > 0) out += ',';
      out += labels[i].first;
      out += "=\"";
      out += Escape(labels[i].second, /*quotes=*/true);
      out += '"';
    }
    out += '}';
  }
  out += ' ';
  out += FormatValue(value);
  out += '\n';
}

std::string PrometheusText::Take() && {
  std::string out;
  for (const Block& block : blocks_) out += block.header + block.samples;
  return out;
}

}  // namespace inprof::internal
