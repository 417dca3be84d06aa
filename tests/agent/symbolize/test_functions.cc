#include "tests/agent/symbolize/test_functions.h"

// noipa keeps GCC from cloning (Spin.constprop.0) or inlining these.
#if defined(__GNUC__) && !defined(__clang__)
#define INPROF_TEST_NOINLINE __attribute__((noinline, noipa))
#else
#define INPROF_TEST_NOINLINE __attribute__((noinline))
#endif

namespace app {
namespace {

// Returns the address of the call instruction that called it.
INPROF_TEST_NOINLINE uint64_t CallSiteAddress() {
  return reinterpret_cast<uint64_t>(__builtin_return_address(0)) - 1;
}

// Uses `value` after the call, so the call cannot become a tail jump.
inline void Keep(uint64_t value) { asm volatile("" : : "r"(value) : "memory"); }

}  // namespace

constexpr int kSpinIntFirst = __LINE__ + 1;
uint64_t Worker::Spin(int n) {
  uint64_t pc = CallSiteAddress();
  Keep(pc + static_cast<uint64_t>(n));
  return pc;
}
constexpr int kSpinIntLast = __LINE__ - 1;

constexpr int kSpinDoubleFirst = __LINE__ + 1;
uint64_t Worker::Spin(double x) {
  uint64_t pc = CallSiteAddress();
  Keep(pc + static_cast<uint64_t>(x));
  return pc;
}
constexpr int kSpinDoubleLast = __LINE__ - 1;

LineRange Worker::SpinIntLines() { return {kSpinIntFirst, kSpinIntLast}; }
LineRange Worker::SpinDoubleLines() {
  return {kSpinDoubleFirst, kSpinDoubleLast};
}

constexpr int kLeafFirst = __LINE__ + 1;
__attribute__((always_inline)) inline uint64_t InlinedLeaf() {
  return CallSiteAddress();
}
constexpr int kLeafLast = __LINE__ - 1;

constexpr int kOuterFirst = __LINE__ + 1;
INPROF_TEST_NOINLINE uint64_t OuterWithInline() {
  uint64_t pc = InlinedLeaf();
  Keep(pc);
  return pc;
}
constexpr int kOuterLast = __LINE__ - 1;

LineRange InlinedLeafLines() { return {kLeafFirst, kLeafLast}; }
LineRange OuterWithInlineLines() { return {kOuterFirst, kOuterLast}; }

}  // namespace app
