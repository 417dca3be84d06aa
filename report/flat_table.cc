#include "report/flat_table.h"

#include <limits>

namespace inprof::report {

std::vector<FlatCum> ComputeFlatCum(const StackSet& stacks) {
  std::vector<FlatCum> values(stacks.names.size());
  // The last stack that added to a node's cum: recursion counts once.
  constexpr size_t kNever = std::numeric_limits<size_t>::max();
  std::vector<size_t> seen(stacks.names.size(), kNever);
  for (size_t i = 0; i < stacks.stacks.size(); ++i) {
    const StackSet::Stack& stack = stacks.stacks[i];
    std::span<const uint32_t> frames = stacks.FramesOf(stack);
    if (frames.empty()) continue;
    values[frames.back()].flat += stack.value;
    for (uint32_t node : frames) {
      if (seen[node] == i) continue;
      seen[node] = i;
      values[node].cum += stack.value;
    }
  }
  return values;
}

}  // namespace inprof::report
