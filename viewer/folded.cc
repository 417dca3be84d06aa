#include "viewer/folded.h"

#include <algorithm>
#include <map>

namespace inprof::viewer {
namespace {

std::string SafeName(std::string name) {
  for (char& c : name) {
    if (c == ';') c = ':';
    if (c == '\n' || c == '\r') c = ' ';
  }
  return name;
}

}  // namespace

std::string RenderFolded(const report::StackSet& stacks) {
  std::vector<std::string> names;
  names.reserve(stacks.names.size());
  for (const std::string& name : stacks.names) names.push_back(SafeName(name));
  std::map<std::string, int64_t> folded;
  std::string line;
  for (const report::StackSet::Stack& s : stacks.stacks) {
    line.clear();
    for (uint32_t node : stacks.FramesOf(s)) {
      if (!line.empty()) line += ';';
      line += names[node];
    }
    if (line.empty()) line = "<no frames>";
    folded[line] += s.value;
  }
  std::string out;
  for (const auto& [stack, value] : folded) {
    if (value == 0) continue;
    out += stack;
    out += ' ';
    out += std::to_string(value);
    out += '\n';
  }
  return out;
}

}  // namespace inprof::viewer
