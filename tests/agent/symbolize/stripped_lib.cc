// A shared library for stripped_test: built without debug information and
// stripped of .symtab after linking (tests/agent/symbolize/CMakeLists.txt),
// so that only its exported functions have names, in .dynsym, as in a
// Debian package's library or a vendor's stripped server.
#include <cstdint>

namespace stripped {

// Exported, and laid out just before Hidden: a symbolizer that takes the
// nearest symbol below an address without honouring st_size names Hidden's
// addresses after it.
__attribute__((visibility("default"), noinline)) uint64_t Exported(int n) {
  uint64_t x = 7;
  for (int i = 0; i < n; ++i) x = x * 13 + static_cast<uint64_t>(i);
  return x;
}

// Internal linkage: no dynamic symbol names it.
__attribute__((noinline)) static uint64_t Hidden(int n) {
  uint64_t x = 5;
  for (int i = 0; i < n; ++i) x = x * 17 + static_cast<uint64_t>(i) * 3;
  return x ^ (x >> 7);
}

}  // namespace stripped

// Exported hand-written assembly without a .size directive (st_size 0) and
// without unwind information, like some of a libc's: its symbol would reach
// up to the next exported one, across HiddenAfterAsm.
asm(R"(
  .pushsection .text
  .globl StrippedSizelessAsm
  .type StrippedSizelessAsm, @function
StrippedSizelessAsm:
  ret
  .popsection
)");

namespace stripped {

// Internal linkage, laid out after the sizeless symbol.
__attribute__((noinline)) static uint64_t HiddenAfterAsm(int n) {
  uint64_t x = 3;
  for (int i = 0; i < n; ++i) x = x * 19 + static_cast<uint64_t>(i) * 5;
  return x ^ (x >> 9);
}

}  // namespace stripped

extern "C" __attribute__((visibility("default"))) uint64_t StrippedEntry(
    int n) {
  return stripped::Hidden(n) + stripped::Exported(n) +
         stripped::HiddenAfterAsm(n);
}

// Return the addresses of the library's non-exported functions.
extern "C" __attribute__((visibility("default"))) void*
StrippedHiddenAddress() {
  return reinterpret_cast<void*>(&stripped::Hidden);
}
extern "C" __attribute__((visibility("default"))) void*
StrippedHiddenAfterAsmAddress() {
  return reinterpret_cast<void*>(&stripped::HiddenAfterAsm);
}
