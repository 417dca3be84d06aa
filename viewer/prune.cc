#include "viewer/prune.h"

#include <optional>
#include <regex>
#include <string>
#include <vector>

namespace inprof::viewer {
namespace {

std::optional<std::regex> WholeMatch(const std::string& pattern) {
  if (pattern.empty()) return std::nullopt;
  try {
    return std::regex("^(?:" + pattern + ")$");
  } catch (const std::regex_error&) {
    return std::nullopt;
  }
}

// "ns::f(int) const" -> "ns::f", keeping "(anonymous namespace)" and
// "operator()" (pprof simplifyFunc).
std::string WithoutParameters(const std::string& name) {
  size_t from = 0;
  while (true) {
    size_t open = name.find('(', from);
    if (open == std::string::npos) return name;
    std::string_view rest = std::string_view(name).substr(open);
    if (rest.starts_with("(anonymous namespace)")) {
      from = open + 21;
    } else if (open >= 8 && name.compare(open - 8, 10, "operator()") == 0) {
      from = open + 2;
    } else {
      return name.substr(0, open);
    }
  }
}

}  // namespace

void ApplyDropFrames(internal::Profile* profile) {
  std::optional<std::regex> drop = WholeMatch(profile->drop_frames);
  if (!drop) return;
  std::optional<std::regex> keep = WholeMatch(profile->keep_frames);
  std::vector<bool> dropped_function(profile->functions.size(), false);
  for (size_t i = 0; i < profile->functions.size(); ++i) {
    const std::string& name = profile->functions[i].name;
    if (name.empty()) continue;
    std::string simple = WithoutParameters(name);
    dropped_function[i] = std::regex_match(simple, *drop) &&
                          !(keep && std::regex_match(simple, *keep));
  }
  // Per location: cut entirely (its outermost line matched), or cut
  // beneath (an inner line matched: the lines inside it are removed).
  size_t n = profile->locations.size();
  std::vector<bool> prune(n, false), prune_beneath(n, false);
  for (size_t i = 0; i < n; ++i) {
    internal::Location& loc = profile->locations[i];
    int match = -1;
    for (int j = static_cast<int>(loc.lines.size()) - 1; j >= 0; --j) {
      uint64_t f = loc.lines[j].function_id;
      if (f != 0 && f <= dropped_function.size() && dropped_function[f - 1]) {
        match = j;
        break;
      }
    }
    if (match < 0) continue;
    prune_beneath[i] = true;
    if (match == static_cast<int>(loc.lines.size()) - 1) {
      prune[i] = true;
    } else {
      loc.lines.erase(loc.lines.begin(), loc.lines.begin() + match + 1);
    }
  }
  for (internal::Sample& s : profile->samples) {
    bool found_user = false;
    for (int i = static_cast<int>(s.location_ids.size()) - 1; i >= 0; --i) {
      size_t loc = s.location_ids[i] - 1;
      if (!prune[loc] && !prune_beneath[loc]) {
        found_user = true;
        continue;
      }
      if (!found_user) continue;
      auto cut = s.location_ids.begin() + i + (prune[loc] ? 1 : 0);
      s.location_ids.erase(s.location_ids.begin(), cut);
      break;
    }
  }
}

}  // namespace inprof::viewer
