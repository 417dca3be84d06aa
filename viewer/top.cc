#include "viewer/top.h"

#include <algorithm>
#include <cstdlib>

#include "agent/base/json_string.h"
#include "report/format.h"

namespace inprof::viewer {

using report::ComputeFlatCum;
using report::CsvField;
using report::FlatCum;
using report::FormatDuration;
using report::kAnsiBold;
using report::kAnsiDim;
using report::Magnitude;
using report::OutputOptions;
using report::Percentage;
using report::RenderIn;
using report::RowsShown;
using report::ScaledValue;
using report::SelectDisplayUnit;
using report::SourceInfo;
using report::StackSet;
using report::TextTable;

namespace {

using internal::JsonString;

std::string DisplayUnit(const TopReport& report, size_t shown) {
  int64_t min_abs = Magnitude(report.total);
  int64_t max_abs = Magnitude(report.total);
  for (size_t i = 0; i < shown; ++i) {
    const FlatCum& v = report.rows[i].values;
    int64_t a = v.flat != 0 ? Magnitude(v.flat) : Magnitude(v.cum);
    if (a != 0 && (min_abs == 0 || a < min_abs)) min_abs = a;
    max_abs = std::max(max_abs, a);
  }
  return SelectDisplayUnit(report.type.unit, min_abs, max_abs);
}

std::string RenderText(const TopReport& report, const OutputOptions& options) {
  size_t shown = RowsShown(report.rows.size(), options);
  std::string unit = DisplayUnit(report, shown);
  auto value = [&](int64_t v) {
    return ScaledValue(v, report.type.unit, unit);
  };
  std::string out;
  if (!report.source.binary.empty()) {
    out += "File: " + report.source.binary + "\n";
  }
  out += "Type: " + report.type.type + "\n";
  int64_t shown_flat = 0;
  for (size_t i = 0; i < shown; ++i) shown_flat += report.rows[i].values.flat;
  if (report.source.duration_nanos > 0) {
    out += "Duration: " + FormatDuration(report.source.duration_nanos) +
           ", Total samples = " + value(report.total) + "\n";
  }
  out += "Showing nodes accounting for " + value(shown_flat) + ", " +
         Percentage(shown_flat, report.total) + " of " + value(report.total) +
         " total\n";
  if (shown < report.rows.size()) {
    out += "Showing top " + std::to_string(shown) + " nodes out of " +
           std::to_string(report.rows.size()) + "\n";
  }
  TextTable table;
  table.AddRow({"flat", "flat%", "sum%", "cum", "cum%", ""}, kAnsiBold);
  int64_t sum = 0;
  for (size_t i = 0; i < shown; ++i) {
    const TopRow& row = report.rows[i];
    sum += row.values.flat;
    bool unsymbolized = !row.name.empty() && row.name.front() == '[';
    table.AddRow(
        {value(row.values.flat), Percentage(row.values.flat, report.total),
         Percentage(sum, report.total), value(row.values.cum),
         Percentage(row.values.cum, report.total), row.name},
        unsymbolized ? kAnsiDim : "");
  }
  return out + table.Render(options.color);
}

std::string RenderJson(const TopReport& report, const OutputOptions& options) {
  size_t shown = RowsShown(report.rows.size(), options);
  std::string out =
      "{\"source\":" + JsonString(report.source.source) +
      ",\"sample_type\":{\"type\":" + JsonString(report.type.type) +
      ",\"unit\":" + JsonString(report.type.unit) +
      "},\"total\":" + std::to_string(report.total) +
      ",\"duration_nanos\":" + std::to_string(report.source.duration_nanos) +
      ",\"function_count\":" + std::to_string(report.node_count) +
      ",\"functions\":[";
  for (size_t i = 0; i < shown; ++i) {
    const TopRow& row = report.rows[i];
    if (i > 0) out += ',';
    out += "\n{\"name\":" + JsonString(row.name) +
           ",\"flat\":" + std::to_string(row.values.flat) +
           ",\"cum\":" + std::to_string(row.values.cum) + "}";
  }
  return out + "]}\n";
}

std::string RenderCsv(const TopReport& report, const OutputOptions& options) {
  size_t shown = RowsShown(report.rows.size(), options);
  std::string out = "function,flat,cum,unit\n";
  for (size_t i = 0; i < shown; ++i) {
    const TopRow& row = report.rows[i];
    out += CsvField(row.name) + "," + std::to_string(row.values.flat) + "," +
           std::to_string(row.values.cum) + "," + CsvField(report.type.unit) +
           "\n";
  }
  return out;
}

}  // namespace

TopReport MakeTop(const StackSet& stacks, SourceInfo source, bool by_cum) {
  TopReport report;
  report.source = std::move(source);
  report.type = stacks.value_type;
  report.total = stacks.total;
  std::vector<FlatCum> values = ComputeFlatCum(stacks);
  for (size_t node = 0; node < values.size(); ++node) {
    if (values[node].flat == 0 && values[node].cum == 0) continue;
    report.rows.push_back({stacks.names[node], values[node]});
  }
  report.node_count = report.rows.size();
  std::sort(report.rows.begin(), report.rows.end(),
            [by_cum](const TopRow& a, const TopRow& b) {
              int64_t a1 = Magnitude(by_cum ? a.values.cum : a.values.flat);
              int64_t b1 = Magnitude(by_cum ? b.values.cum : b.values.flat);
              if (a1 != b1) return a1 > b1;
              if (a.name != b.name) return a.name < b.name;
              int64_t a2 = Magnitude(by_cum ? a.values.flat : a.values.cum);
              int64_t b2 = Magnitude(by_cum ? b.values.flat : b.values.cum);
              return a2 > b2;
            });
  return report;
}

std::string RenderTop(const TopReport& report, const OutputOptions& options) {
  return RenderIn(report, options, RenderText, RenderJson, RenderCsv);
}

}  // namespace inprof::viewer
