// Number formatting shared by the reports (inprof-view's and the agent UI's),
// with google/pprof's conventions (internal/measurement), so that
// inprof-view's text reads like `go tool pprof -top`: "1.50s", "12.25MB",
// "55.56%".
//
// Thread safety: thread-safe (no shared state).
#ifndef INPROF_REPORT_FORMAT_H_
#define INPROF_REPORT_FORMAT_H_

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace inprof::report {

// A unit family: values in one family convert into each other.
enum class UnitFamily { kNone, kTime, kBytes };

// The family of a profile unit ("nanoseconds", "ms", "bytes", "kB", ...),
// matched as pprof does: case-insensitive, a trailing 's' ignored.
UnitFamily FamilyOf(std::string_view unit);

// How many base units (nanoseconds, bytes) one `unit` is: 1e6 for
// "milliseconds", 1024 for "kilobytes"; nullopt for units without a family.
std::optional<double> UnitFactor(std::string_view unit);

// The display unit a report uses for values in `unit`, chosen from the
// smallest nonzero |value| shown (`min_abs`) and the largest (`max_abs`) as
// pprof's selectOutputUnit does. "" for units without a family (counts).
std::string SelectDisplayUnit(std::string_view unit, int64_t min_abs,
                              int64_t max_abs);

// `value` (in `unit`) converted to `display_unit` and printed with two
// decimals, ".00" dropped, unit appended: "1.50s", "-20ms", "300"; exactly
// zero prints "0" (pprof's ScaledLabel).
std::string ScaledValue(int64_t value, std::string_view unit,
                        std::string_view display_unit);

// |value / total| as pprof prints percentages: "  100%", "55.56%", "  0.9%",
// "    0%".
std::string Percentage(int64_t value, int64_t total);

// A signed relative change "+12.5%" / "-100%" of `delta` against `base`;
// "new" when base is 0.
std::string RelativeChange(int64_t delta, int64_t base);

}  // namespace inprof::report

#endif  // INPROF_REPORT_FORMAT_H_
