// Per-function flat and cum values over a StackSet, with google/pprof's
// arithmetic (internal/graph, pprof-spec.md §3.4): a sample adds its value to
// the flat of its leaf node and, once per sample however often the node
// recurs, to the cum of every node on its stack. Values keep their sign.
//
// Thread safety: thread-safe (no shared state).
#ifndef INPROF_REPORT_FLAT_TABLE_H_
#define INPROF_REPORT_FLAT_TABLE_H_

#include <cstdint>
#include <vector>

#include "report/stacks.h"

namespace inprof::report {

struct FlatCum {
  int64_t flat = 0;
  int64_t cum = 0;
};

// Returns flat and cum per node of `stacks` (indexed by node id); nodes on
// no stack have zeros.
std::vector<FlatCum> ComputeFlatCum(const StackSet& stacks);

}  // namespace inprof::report

#endif  // INPROF_REPORT_FLAT_TABLE_H_
