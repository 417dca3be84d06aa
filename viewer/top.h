// The `top` report: per function, flat and cum values and their shares of
// the total, biggest first — `go tool pprof -top` in text, JSON or CSV.
//
// Thread safety: thread-safe (no shared state).
#ifndef INPROF_VIEWER_TOP_H_
#define INPROF_VIEWER_TOP_H_

#include <string>
#include <vector>

#include "report/flat_table.h"
#include "report/output.h"
#include "report/stacks.h"

namespace inprof::viewer {

struct TopRow {
  std::string name;
  report::FlatCum values;
};

struct TopReport {
  report::SourceInfo source;
  internal::ValueType type;
  int64_t total = 0;
  size_t node_count = 0;     // functions with a nonzero flat or cum
  std::vector<TopRow> rows;  // all of them, in report order
};

// Builds the report over `stacks`, sorted as pprof sorts (|flat| desc, name,
// |cum| desc; with by_cum: |cum| desc, name, |flat| desc).
TopReport MakeTop(const report::StackSet& stacks, report::SourceInfo source,
                  bool by_cum);

// Renders at most `options.rows` rows (0: all) in `options.format`.
std::string RenderTop(const TopReport& report,
                      const report::OutputOptions& options);

}  // namespace inprof::viewer

#endif  // INPROF_VIEWER_TOP_H_
