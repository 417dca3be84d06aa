#include "report/output.h"

#include <algorithm>
#include <cstdio>

#include "report/stacks.h"

namespace inprof::report {

SourceInfo DescribeSource(const internal::Profile& profile,
                          std::string source) {
  SourceInfo info;
  info.source = std::move(source);
  if (!profile.mappings.empty()) {
    info.binary = FileBasename(profile.mappings.front().filename);
  }
  info.duration_nanos = profile.duration_nanos;
  return info;
}

std::string FormatDuration(int64_t nanos) {
  char buf[64];
  double seconds = static_cast<double>(nanos) / 1e9;
  if (seconds >= 60) {
    int64_t whole = static_cast<int64_t>(seconds);
    std::snprintf(buf, sizeof(buf), "%lldm%llds",
                  static_cast<long long>(whole / 60),
                  static_cast<long long>(whole % 60));
  } else if (seconds >= 1) {
    std::snprintf(buf, sizeof(buf), "%.3gs", seconds);
  } else {
    std::snprintf(buf, sizeof(buf), "%.3gms", seconds * 1e3);
  }
  return buf;
}

std::string CsvField(std::string_view text) {
  if (text.find_first_of(",\"\r\n") == std::string_view::npos) {
    return std::string(text);
  }
  std::string out = "\"";
  for (char c : text) {
    if (c == '"') out += '"';
    out += c;
  }
  return out + "\"";
}

void TextTable::AddRow(std::vector<std::string> cells, std::string_view color) {
  rows_.push_back({std::move(cells), std::string(color)});
}

std::string TextTable::Render(bool color) const {
  std::vector<size_t> widths;
  for (const Row& row : rows_) {
    if (widths.size() < row.cells.size()) widths.resize(row.cells.size(), 0);
    for (size_t i = 0; i + 1 < row.cells.size(); ++i) {
      widths[i] = std::max(widths[i], row.cells[i].size());
    }
  }
  std::string out;
  for (const Row& row : rows_) {
    bool colored = color && !row.color.empty();
    if (colored) out += row.color;
    for (size_t i = 0; i < row.cells.size(); ++i) {
      const std::string& cell = row.cells[i];
      if (i + 1 < row.cells.size()) {
        out.append(widths[i] - std::min(widths[i], cell.size()), ' ');
        out += cell;
        out.append(i + 2 == row.cells.size() ? std::max<size_t>(gap_, 2) : gap_,
                   ' ');
      } else {
        out += cell;
      }
    }
    while (!out.empty() && out.back() == ' ') out.pop_back();
    if (colored) out += kAnsiReset;
    out += '\n';
  }
  return out;
}

}  // namespace inprof::report
