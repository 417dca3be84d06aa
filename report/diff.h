// Comparing two profiles: which sample type they share, whether their values
// can be compared (units converted to the finer one, as pprof's ScaleProfiles
// does; raw sample counts at different periods refused), and the `diff`
// report: per function, the value in each profile and the change. The
// numbers are `go tool pprof -top -diff_base=BASE NEW`'s (pprof-spec.md
// §3.2-3.9): flat and cum of NEW minus those of BASE.
//
// Thread safety: thread-safe (no shared state).
#ifndef INPROF_REPORT_DIFF_H_
#define INPROF_REPORT_DIFF_H_

#include <string>
#include <vector>

#include "report/flat_table.h"
#include "report/output.h"
#include "report/stacks.h"

namespace inprof::report {

// Both profiles reduced over the same sample type, in the same unit.
struct ComparedStacks {
  StackSet base;
  StackSet next;
};

// Selects `options.sample_index` in `next` (pprof's rule: the new profile's
// default or last type when unset) and the type of the same name in `base`,
// and builds both stack sets in a common unit. Fails with kInvalidArgument
// saying why the profiles cannot be compared: no common sample type, units
// of different kinds, different period types, or sample counts taken at
// different periods.
[[nodiscard]] StatusOr<ComparedStacks> CompareStacks(
    const internal::Profile& base, const internal::Profile& next,
    const StackOptions& options);

struct DiffRow {
  std::string name;
  FlatCum base;
  FlatCum next;

  int64_t delta_flat() const { return next.flat - base.flat; }
  int64_t delta_cum() const { return next.cum - base.cum; }
};

struct DiffReport {
  SourceInfo base_source;
  SourceInfo next_source;
  internal::ValueType type;
  int64_t base_total = 0;
  int64_t next_total = 0;
  std::vector<DiffRow> rows;  // every function in either, report order
};

// Builds the diff of `stacks`, biggest |change in flat| first (by_cum: in
// cum), then by name.
DiffReport MakeDiff(const ComparedStacks& stacks, SourceInfo base_source,
                    SourceInfo next_source, bool by_cum);

// Renders at most `options.rows` rows (0: all) in `options.format`. Text
// shows the functions whose flat or cum changed: flat values and the cum
// change (cum values and the flat change with options.by_cum). JSON and CSV
// carry every function with both values.
std::string RenderDiff(const DiffReport& report, const OutputOptions& options);

}  // namespace inprof::report

#endif  // INPROF_REPORT_DIFF_H_
