#include "tests/support/pprof_top.h"

#include <cstdlib>
#include <regex>
#include <sstream>

namespace inprof::test {

PprofTop ParsePprofTop(const std::string& out) {
  // The percentage is optional in the pattern: a caller that needs it checks
  // shown_percent, and one that only needs `shown` is not failed by a
  // percentage pprof spells otherwise (it prints tiny ones as "1e-05%").
  const std::regex showing(
      R"(Showing nodes accounting for (\S+), (?:([0-9.]+)% of \S+ total)?)");
  const std::regex header(R"(\s*flat\s+flat%\s+sum%\s+cum\s+cum%\s*)");
  const std::regex row(
      R"(\s*(\S+)\s+([0-9.]+)%\s+[0-9.]+%\s+(\S+)\s+[0-9.]+%\s+(.+))");
  PprofTop top;
  std::istringstream in(out);
  std::string line;
  bool rows = false;
  while (std::getline(in, line)) {
    std::smatch m;
    if (rows && std::regex_match(line, m, row)) {
      top.rows.push_back({m[1].str(), std::strtod(m[2].str().c_str(), nullptr),
                          m[3].str(), m[4].str()});
    } else if (std::regex_search(line, m, showing)) {
      top.shown = m[1].str();
      if (m[2].matched) {
        top.shown_percent = std::strtod(m[2].str().c_str(), nullptr);
      }
    } else if (std::regex_match(line, header)) {
      rows = true;
    }
  }
  return top;
}

double PprofMagnitude(const std::string& value) {
  return std::strtod(value.c_str(), nullptr);
}

}  // namespace inprof::test
