// What every report shares: where its profile came from, the output format,
// and small writers for aligned text tables and CSV fields.
//
// Thread safety: thread-compatible (plain value types).
#ifndef INPROF_REPORT_OUTPUT_H_
#define INPROF_REPORT_OUTPUT_H_

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "agent/profile/profile.h"

namespace inprof::report {

enum class OutputFormat { kText, kJson, kCsv };

struct OutputOptions {
  OutputFormat format = OutputFormat::kText;
  bool color = false;   // ANSI colors in text output
  size_t rows = 0;      // at most this many rows; 0 = all
  bool by_cum = false;  // sort (and, in diffs, show) by cum instead of flat
};

// The facts about one input that reports print.
struct SourceInfo {
  std::string source;          // the path or URL as the user gave it
  std::string binary;          // basename of the main mapping's file, or ""
  int64_t duration_nanos = 0;  // 0 for instant profiles
};

// How many of `available` rows a report shows under `options.rows`.
inline size_t RowsShown(size_t available, const OutputOptions& options) {
  return options.rows == 0 || options.rows > available ? available
                                                       : options.rows;
}

inline int64_t Magnitude(int64_t v) { return v < 0 ? -v : v; }

// Calls the renderer for `options.format` (one per format, same signature).
template <typename Report>
std::string RenderIn(const Report& report, const OutputOptions& options,
                     std::string (*text)(const Report&, const OutputOptions&),
                     std::string (*json)(const Report&, const OutputOptions&),
                     std::string (*csv)(const Report&, const OutputOptions&)) {
  switch (options.format) {
    case OutputFormat::kJson:
      return json(report, options);
    case OutputFormat::kCsv:
      return csv(report, options);
    case OutputFormat::kText:
      break;
  }
  return text(report, options);
}

SourceInfo DescribeSource(const internal::Profile& profile, std::string source);

// "5s", "1m30s", "250ms": a duration for report headers.
std::string FormatDuration(int64_t nanos);

// A CSV field (RFC 4180): quoted when it holds a comma, quote or newline.
std::string CsvField(std::string_view text);

// TextTable aligns cells in columns: every column but the last is
// right-aligned (numbers), the last left-aligned (names). A row may carry an
// ANSI color used when rendering with color.
class TextTable {
 public:
  // `gap` spaces between columns (two before the last).
  explicit TextTable(size_t gap = 1) : gap_(gap) {}

  void AddRow(std::vector<std::string> cells, std::string_view color = "");
  std::string Render(bool color) const;

 private:
  struct Row {
    std::vector<std::string> cells;
    std::string color;
  };
  size_t gap_;
  std::vector<Row> rows_;
};

// ANSI colors used by the text reports.
inline constexpr std::string_view kAnsiBold = "\x1b[1m";
inline constexpr std::string_view kAnsiRed = "\x1b[31m";
inline constexpr std::string_view kAnsiBlue = "\x1b[34m";
inline constexpr std::string_view kAnsiDim = "\x1b[2m";
inline constexpr std::string_view kAnsiReset = "\x1b[0m";

}  // namespace inprof::report

#endif  // INPROF_REPORT_OUTPUT_H_
