#include "report/format.h"

#include <cctype>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <span>

namespace inprof::report {
namespace {

struct UnitName {
  const char* display;  // canonical name printed after values
  const char* aliases;  // space-separated lowercase names, no plural 's'
  double factor;        // in base units
};

// pprof internal/measurement UnitTypes, bytes and time.
constexpr UnitName kByteUnits[] = {
    {"B", "b byte", 1},
    {"kB", "kb kbyte kilobyte", 1024.0},
    {"MB", "mb mbyte megabyte", 1024.0 * 1024},
    {"GB", "gb gbyte gigabyte", 1024.0 * 1024 * 1024},
    {"TB", "tb tbyte terabyte", 1024.0 * 1024 * 1024 * 1024},
    {"PB", "pb pbyte petabyte", 1024.0 * 1024 * 1024 * 1024 * 1024},
};
constexpr UnitName kTimeUnits[] = {
    {"ns", "ns nanosecond", 1},     {"us", "us \u03bcs microsecond", 1e3},
    {"ms", "ms millisecond", 1e6},  {"s", "s sec second", 1e9},
    {"hrs", "hrs hour hr", 3600e9},
};

std::string Lower(std::string_view unit) {
  std::string u;
  for (char c : unit) u += static_cast<char>(std::tolower(c));
  return u;
}

bool HasAlias(const UnitName& name, std::string_view unit) {
  std::string_view aliases = name.aliases;
  while (!aliases.empty()) {
    size_t space = aliases.find(' ');
    if (aliases.substr(0, space) == unit) return true;
    if (space == std::string_view::npos) break;
    aliases.remove_prefix(space + 1);
  }
  return false;
}

std::span<const UnitName> UnitsOf(UnitFamily family) {
  switch (family) {
    case UnitFamily::kTime:
      return kTimeUnits;
    case UnitFamily::kBytes:
      return kByteUnits;
    case UnitFamily::kNone:
      break;
  }
  return {};
}

const UnitName* Find(std::string_view unit, UnitFamily* family) {
  // As pprof: case-insensitive, and a plural 's' ignored ("seconds").
  std::string u = Lower(unit);
  std::string singular = u;
  if (singular.size() > 1 && singular.back() == 's') singular.pop_back();
  for (UnitFamily f : {UnitFamily::kTime, UnitFamily::kBytes}) {
    for (const UnitName& name : UnitsOf(f)) {
      if (HasAlias(name, u) || HasAlias(name, singular)) {
        if (family != nullptr) *family = f;
        return &name;
      }
    }
  }
  return nullptr;
}

// The largest unit of `family` in which |base_value| is at least 1.
const UnitName* AutoScale(UnitFamily family, double base_value) {
  const UnitName* best = nullptr;
  for (const UnitName& name : UnitsOf(family)) {
    if (std::fabs(base_value) / name.factor >= 1.0) best = &name;
  }
  return best;
}

}  // namespace

UnitFamily FamilyOf(std::string_view unit) {
  UnitFamily family = UnitFamily::kNone;
  Find(unit, &family);
  return family;
}

std::optional<double> UnitFactor(std::string_view unit) {
  const UnitName* name = Find(unit, nullptr);
  if (name == nullptr) return std::nullopt;
  return name->factor;
}

std::string SelectDisplayUnit(std::string_view unit, int64_t min_abs,
                              int64_t max_abs) {
  UnitFamily family = UnitFamily::kNone;
  const UnitName* from = Find(unit, &family);
  if (from == nullptr) return "";
  if (min_abs == 0) min_abs = max_abs;
  if (min_abs == 0) return from->display;
  const UnitName* min_unit = AutoScale(family, min_abs * from->factor);
  const UnitName* max_unit = AutoScale(family, max_abs * from->factor);
  // pprof: when the extremes differ in unit by more than 100x, the small
  // ones are shown at 100 times their size, so that the big ones stay short.
  if (min_unit != max_unit && static_cast<double>(min_abs) * 100 < max_abs) {
    min_unit = AutoScale(family, 100.0 * min_abs * from->factor);
  }
  return min_unit != nullptr ? min_unit->display : from->display;
}

std::string ScaledValue(int64_t value, std::string_view unit,
                        std::string_view display_unit) {
  double v = static_cast<double>(value);
  std::string suffix;
  const UnitName* from = Find(unit, nullptr);
  const UnitName* to = Find(display_unit, nullptr);
  if (from != nullptr && to != nullptr) {
    v = v * from->factor / to->factor;
    suffix = to->display;
  }
  char buf[64];
  std::snprintf(buf, sizeof(buf), "%.2f", v);
  std::string text = buf;
  if (text.size() > 3 && text.compare(text.size() - 3, 3, ".00") == 0) {
    text.resize(text.size() - 3);
  }
  if (text == "0" || text == "-0") return "0";
  return text + suffix;
}

std::string Percentage(int64_t value, int64_t total) {
  double ratio = 0;
  if (total != 0) {
    ratio = std::fabs(static_cast<double>(value) / static_cast<double>(total)) *
            100;
  }
  char buf[64];
  if (ratio >= 99.95 && ratio <= 100.05) return "  100%";
  if (ratio >= 1.0) {
    std::snprintf(buf, sizeof(buf), "%5.2f%%", ratio);
  } else {
    std::snprintf(buf, sizeof(buf), "%5.2g%%", ratio);
  }
  return buf;
}

std::string RelativeChange(int64_t delta, int64_t base) {
  if (base == 0) return delta == 0 ? "0%" : "new";
  double pct =
      static_cast<double>(delta) / std::fabs(static_cast<double>(base)) * 100;
  char buf[64];
  if (std::fabs(pct) >= 10 || pct == 0) {
    std::snprintf(buf, sizeof(buf), "%+.0f%%", pct);
  } else {
    std::snprintf(buf, sizeof(buf), "%+.1f%%", pct);
  }
  return buf;
}

}  // namespace inprof::report
