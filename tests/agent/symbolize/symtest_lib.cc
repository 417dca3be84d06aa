// A shared library for symbolizer_test: dlopen'd, symbolized, dlclose'd.
namespace symtest {

__attribute__((noinline)) int Triple(int x) { return 3 * x + 1; }

}  // namespace symtest

extern "C" __attribute__((visibility("default"))) int SymtestEntry(int x) {
  return symtest::Triple(x) + 1;
}

// Returns the address of a mangled C++ function of this library.
extern "C" __attribute__((visibility("default"))) void* SymtestTripleAddress() {
  return reinterpret_cast<void*>(&symtest::Triple);
}
