// Functions with known names and line ranges for the symbolizer tests. Each
// returns an address inside itself (a return address minus one, as an
// unwinder would report a caller frame).
#ifndef INPROF_TESTS_AGENT_SYMBOLIZE_TEST_FUNCTIONS_H_
#define INPROF_TESTS_AGENT_SYMBOLIZE_TEST_FUNCTIONS_H_

#include <cstdint>

namespace app {

struct LineRange {
  int first = 0;
  int last = 0;
  bool Contains(int64_t line) const { return line >= first && line <= last; }
};

class Worker {
 public:
  // Overloads, so that names must carry parameters to tell them apart.
  static uint64_t Spin(int n);
  static uint64_t Spin(double x);
  static LineRange SpinIntLines();
  static LineRange SpinDoubleLines();
};

// An address inside InlinedLeaf, which is always inlined into
// OuterWithInline (this file is compiled with -O2).
uint64_t OuterWithInline();
LineRange InlinedLeafLines();
LineRange OuterWithInlineLines();

}  // namespace app

#endif  // INPROF_TESTS_AGENT_SYMBOLIZE_TEST_FUNCTIONS_H_
