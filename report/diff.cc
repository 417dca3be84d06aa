#include "report/diff.h"

#include <algorithm>
#include <cmath>
#include <unordered_map>

#include "agent/base/json_string.h"
#include "report/format.h"

namespace inprof::report {
namespace {

using internal::JsonString;
using internal::Profile;
using internal::ValueType;

// pprof compares sample type names ignoring a trailing 's'.
std::string Singular(std::string_view name) {
  if (name.size() > 1 && name.back() == 's') name.remove_suffix(1);
  return std::string(name);
}

std::string Describe(const ValueType& t) { return t.type + "/" + t.unit; }

// The type in `base` matching `type`, as an index string for BuildStackSet.
StatusOr<std::string> MatchingType(const Profile& base, const ValueType& type) {
  std::string list;
  for (size_t i = 0; i < base.sample_types.size(); ++i) {
    if (Singular(base.sample_types[i].type) == Singular(type.type)) {
      return std::to_string(i);
    }
    list += (list.empty() ? "" : ", ") + base.sample_types[i].type;
  }
  return InvalidArgumentError(
      "cannot compare: the new profile's sample type " + type.type +
      " is not in the base profile (it has: " + (list.empty() ? "none" : list) +
      ")");
}

Status CheckPeriods(const Profile& base, const Profile& next,
                    const ValueType& type) {
  const ValueType& bp = base.period_type;
  const ValueType& np = next.period_type;
  bool both = !bp.type.empty() && !np.type.empty();
  if (both && (Singular(bp.type) != Singular(np.type) ||
               FamilyOf(bp.unit) != FamilyOf(np.unit))) {
    return InvalidArgumentError(
        "cannot compare: the profiles measure different things (period type " +
        Describe(bp) + " in the base, " + Describe(np) + " in the new one)");
  }
  // Raw sample counts only compare at equal sampling periods; other values
  // are already scaled to real units (time, bytes, unbiased counts).
  if (Singular(type.type) == "sample" && base.period != next.period &&
      base.period != 0 && next.period != 0) {
    return InvalidArgumentError(
        "cannot compare sample counts taken at different periods (" +
        std::to_string(base.period) + " vs " + std::to_string(next.period) +
        " " + np.unit +
        " per sample); choose a sample type in real units, "
        "e.g. --sample_index=cpu");
  }
  return OkStatus();
}

Status Scale(StackSet* stacks, double factor) {
  if (factor == 1) return OkStatus();
  // BuildStackSet bounds the total by 2^62; converted, it must stay there.
  if (static_cast<double>(stacks->total) * factor > 0x1p62) {
    return InvalidArgumentError("cannot compare: values converted to " +
                                std::string("the finer unit overflow"));
  }
  stacks->total = 0;
  for (StackSet::Stack& s : stacks->stacks) {
    s.value = static_cast<int64_t>(std::llround(s.value * factor));
    stacks->total += Magnitude(s.value);
  }
  return OkStatus();
}

// Converts both stack sets to the finer of their two units.
Status ConvertUnits(ComparedStacks* c) {
  const std::string& bu = c->base.value_type.unit;
  const std::string& nu = c->next.value_type.unit;
  if (bu == nu) return OkStatus();
  std::optional<double> bf = UnitFactor(bu);
  std::optional<double> nf = UnitFactor(nu);
  if (!bf || !nf || FamilyOf(bu) != FamilyOf(nu)) {
    return InvalidArgumentError(
        "cannot compare: sample type " + c->next.value_type.type + " is in " +
        nu + " in the new profile and in " + bu + " in the base profile");
  }
  if (*bf < *nf) {
    c->next.value_type.unit = bu;
    return Scale(&c->next, *nf / *bf);
  }
  c->base.value_type.unit = nu;
  return Scale(&c->base, *bf / *nf);
}

}  // namespace

StatusOr<ComparedStacks> CompareStacks(const Profile& base, const Profile& next,
                                       const StackOptions& options) {
  StatusOr<StackSet> next_stacks = BuildStackSet(next, options);
  if (!next_stacks.ok()) return next_stacks.status();
  StatusOr<std::string> base_index =
      MatchingType(base, next_stacks->value_type);
  if (!base_index.ok()) return base_index.status();
  Status periods = CheckPeriods(base, next, next_stacks->value_type);
  if (!periods.ok()) return periods;
  StackOptions base_options = options;
  base_options.sample_index = *base_index;
  StatusOr<StackSet> base_stacks = BuildStackSet(base, base_options);
  if (!base_stacks.ok()) return base_stacks.status();
  ComparedStacks compared{std::move(base_stacks).value(),
                          std::move(next_stacks).value()};
  Status units = ConvertUnits(&compared);
  if (!units.ok()) return units;
  return compared;
}

DiffReport MakeDiff(const ComparedStacks& stacks, SourceInfo base_source,
                    SourceInfo next_source, bool by_cum) {
  DiffReport report;
  report.base_source = std::move(base_source);
  report.next_source = std::move(next_source);
  report.type = stacks.next.value_type;
  report.base_total = stacks.base.total;
  report.next_total = stacks.next.total;
  std::unordered_map<std::string_view, size_t> row_of;
  auto add = [&](const StackSet& set, FlatCum DiffRow::*side) {
    std::vector<FlatCum> values = ComputeFlatCum(set);
    for (size_t node = 0; node < values.size(); ++node) {
      if (values[node].flat == 0 && values[node].cum == 0) continue;
      auto [it, inserted] =
          row_of.try_emplace(set.names[node], report.rows.size());
      if (inserted) report.rows.push_back({set.names[node], {}, {}});
      report.rows[it->second].*side = values[node];
    }
  };
  add(stacks.base, &DiffRow::base);
  add(stacks.next, &DiffRow::next);
  std::sort(report.rows.begin(), report.rows.end(),
            [by_cum](const DiffRow& a, const DiffRow& b) {
              int64_t a1 = Magnitude(by_cum ? a.delta_cum() : a.delta_flat());
              int64_t b1 = Magnitude(by_cum ? b.delta_cum() : b.delta_flat());
              if (a1 != b1) return a1 > b1;
              int64_t a2 = Magnitude(by_cum ? a.delta_flat() : a.delta_cum());
              int64_t b2 = Magnitude(by_cum ? b.delta_flat() : b.delta_cum());
              if (a2 != b2) return a2 > b2;
              return a.name < b.name;
            });
  return report;
}

namespace {

// Text shows only functions that changed: a diff of two similar profiles
// is mostly zeros otherwise.
std::vector<const DiffRow*> ChangedRows(const DiffReport& report) {
  std::vector<const DiffRow*> rows;
  for (const DiffRow& r : report.rows) {
    if (r.delta_flat() != 0 || r.delta_cum() != 0) rows.push_back(&r);
  }
  return rows;
}

std::string RenderText(const DiffReport& report, const OutputOptions& options) {
  std::vector<const DiffRow*> changed = ChangedRows(report);
  changed.resize(RowsShown(changed.size(), options));
  const std::string& unit = report.type.unit;
  int64_t min_abs = 0;
  int64_t max_abs = std::max(report.base_total, report.next_total);
  for (const DiffRow* r : changed) {
    for (int64_t v : {r->base.flat, r->next.flat, r->delta_flat()}) {
      if (v != 0 && (min_abs == 0 || Magnitude(v) < min_abs)) {
        min_abs = Magnitude(v);
      }
    }
  }
  std::string display = SelectDisplayUnit(unit, min_abs, max_abs);
  auto value = [&](int64_t v) { return ScaledValue(v, unit, display); };
  auto signed_value = [&](int64_t v) { return (v > 0 ? "+" : "") + value(v); };
  std::string out;
  auto source_line = [&](const char* label, const SourceInfo& s,
                         int64_t total) {
    out += std::string(label) + s.source + " (total " + value(total);
    if (s.duration_nanos > 0) {
      out += " in " + FormatDuration(s.duration_nanos);
    }
    out += ")\n";
  };
  source_line("Base: ", report.base_source, report.base_total);
  source_line("New:  ", report.next_source, report.next_total);
  int64_t change = report.next_total - report.base_total;
  out += "Type: " + report.type.type + ", total change " +
         signed_value(change) + " (" +
         RelativeChange(change, report.base_total) + ")\n";
  size_t all_changed = ChangedRows(report).size();
  out += "Showing " + std::to_string(changed.size()) + " of " +
         std::to_string(all_changed) + " changed functions";
  if (size_t same = report.rows.size() - all_changed; same > 0) {
    out += " (" + std::to_string(same) + " unchanged)";
  }
  out += options.by_cum ? ", biggest cum change first\n"
                        : ", biggest flat change first\n";
  std::string what = options.by_cum ? "cum" : "flat";
  std::string other = options.by_cum ? "flat" : "cum";
  TextTable table(2);
  table.AddRow({"base " + what, "new " + what, what + " change", "change%",
                other + " change", ""},
               kAnsiBold);
  for (const DiffRow* r : changed) {
    int64_t bv = options.by_cum ? r->base.cum : r->base.flat;
    int64_t nv = options.by_cum ? r->next.cum : r->next.flat;
    int64_t delta = nv - bv;
    int64_t other_delta = options.by_cum ? r->delta_flat() : r->delta_cum();
    int64_t sign = delta != 0 ? delta : other_delta;
    std::string_view color = sign > 0 ? kAnsiRed : sign < 0 ? kAnsiBlue : "";
    table.AddRow(
        {value(bv), value(nv), signed_value(delta), RelativeChange(delta, bv),
         signed_value(other_delta), r->name},
        color);
  }
  return out + table.Render(options.color);
}

std::string RenderJson(const DiffReport& report, const OutputOptions& options) {
  size_t shown = RowsShown(report.rows.size(), options);
  auto source = [](const SourceInfo& s, int64_t total) {
    return "{\"source\":" + JsonString(s.source) +
           ",\"total\":" + std::to_string(total) +
           ",\"duration_nanos\":" + std::to_string(s.duration_nanos) + "}";
  };
  std::string out =
      "{\"base\":" + source(report.base_source, report.base_total) +
      ",\"new\":" + source(report.next_source, report.next_total) +
      ",\"sample_type\":{\"type\":" + JsonString(report.type.type) +
      ",\"unit\":" + JsonString(report.type.unit) +
      "},\"function_count\":" + std::to_string(report.rows.size()) +
      ",\"functions\":[";
  for (size_t i = 0; i < shown; ++i) {
    const DiffRow& r = report.rows[i];
    if (i > 0) out += ',';
    out += "\n{\"name\":" + JsonString(r.name) +
           ",\"base_flat\":" + std::to_string(r.base.flat) +
           ",\"base_cum\":" + std::to_string(r.base.cum) +
           ",\"new_flat\":" + std::to_string(r.next.flat) +
           ",\"new_cum\":" + std::to_string(r.next.cum) +
           ",\"delta_flat\":" + std::to_string(r.delta_flat()) +
           ",\"delta_cum\":" + std::to_string(r.delta_cum()) + "}";
  }
  return out + "]}\n";
}

std::string RenderCsv(const DiffReport& report, const OutputOptions& options) {
  size_t shown = RowsShown(report.rows.size(), options);
  std::string out =
      "function,base_flat,new_flat,delta_flat,base_cum,new_cum,delta_cum,"
      "unit\n";
  for (size_t i = 0; i < shown; ++i) {
    const DiffRow& r = report.rows[i];
    out += CsvField(r.name);
    for (int64_t v : {r.base.flat, r.next.flat, r.delta_flat(), r.base.cum,
                      r.next.cum, r.delta_cum()}) {
      out += "," + std::to_string(v);
    }
    out += "," + CsvField(report.type.unit) + "\n";
  }
  return out;
}

}  // namespace

std::string RenderDiff(const DiffReport& report, const OutputOptions& options) {
  return RenderIn(report, options, RenderText, RenderJson, RenderCsv);
}

}  // namespace inprof::report
