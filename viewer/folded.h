// Folded (collapsed) stacks, the input format of Brendan Gregg's
// flamegraph.pl, speedscope, inferno and most flame graph tools: one line per
// distinct stack, frames root first joined by ';', a space, and the summed
// value. Lines are sorted, so equal profiles give equal files.
//
// Thread safety: thread-safe (no shared state).
#ifndef INPROF_VIEWER_FOLDED_H_
#define INPROF_VIEWER_FOLDED_H_

#include <string>

#include "report/stacks.h"

namespace inprof::viewer {

// Returns `stacks` folded. Frame names have ';' replaced by ':' and line
// breaks by spaces, since both would split a line's fields.
std::string RenderFolded(const report::StackSet& stacks);

}  // namespace inprof::viewer

#endif  // INPROF_VIEWER_FOLDED_H_
