// Reads the table `go tool pprof -top` prints, for tests that judge what the
// real pprof shows (which functions, how much) rather than its exact text.
//
// Example:
//
//   CommandResult r = GoToolPprof({"-top", url});
//   PprofTop top = ParsePprofTop(r.out);
//   EXPECT_GT(PprofMagnitude(top.shown), 0.0);
//
// Thread safety: thread-safe (the functions share no state).
#ifndef INPROF_TESTS_SUPPORT_PPROF_TOP_H_
#define INPROF_TESTS_SUPPORT_PPROF_TOP_H_

#include <string>
#include <vector>

namespace inprof::test {

// One row of the table, values as printed.
struct PprofTopRow {
  std::string flat;  // with its unit ("810.21ms", "0")
  double flat_percent = 0;
  std::string cum;   // with its unit, as flat
  std::string name;  // the function (or library+offset) the row is about
};

// The whole -top output.
struct PprofTop {
  std::string shown;              // "Showing nodes accounting for <shown>, ..."
  double shown_percent = -1;      // "..., <shown_percent>% of <total> total"
  std::vector<PprofTopRow> rows;  // in pprof's order (by flat)
};

// Parses `go tool pprof -top` output. Rows are read only below the
// "flat flat% sum% cum cum%" header; lines that do not parse are skipped.
// shown stays "" without the "Showing nodes" line; shown_percent stays -1
// when that line has no percentage in the usual form.
PprofTop ParsePprofTop(const std::string& out);

// The number in a pprof value, without its unit ("810.21ms" -> 810.21,
// "0" -> 0); 0 when it does not start with a number.
double PprofMagnitude(const std::string& value);

}  // namespace inprof::test

#endif  // INPROF_TESTS_SUPPORT_PPROF_TOP_H_
