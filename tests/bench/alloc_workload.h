// The allocation workloads the heap benchmarks share, so every figure in
// BENCHMARKS.md's heap rows comes from the same machine code.
//
// "mixed": build a string, hash its bytes, keep it in a 4,096-entry hash
// map (a server-like mix of allocation and work: about 150 ns and 2
// allocations per unit). "malloc": malloc/free of small blocks and nothing
// else, the worst case for anything on the allocation path.
#pragma once

#include <cstdint>
#include <cstdlib>
#include <string>
#include <unordered_map>

namespace inprof_bench {

// One thread's state; not shared.
struct AllocWorkload {
  std::unordered_map<uint32_t, std::string> window;
  void* slots[64] = {};
  uint32_t seed = 0;
  uint64_t sink = 0;

  explicit AllocWorkload(uint32_t s) : seed(s) {}
  AllocWorkload(const AllocWorkload&) = delete;
  AllocWorkload& operator=(const AllocWorkload&) = delete;
  ~AllocWorkload() {
    for (void* p : slots) std::free(p);
  }
};

__attribute__((noinline)) inline void MixedUnit(AllocWorkload& w) {
  w.seed = w.seed * 1664525u + 1013904223u;
  std::string value(16 + (w.seed >> 24),
                    static_cast<char>('a' + (w.seed & 15)));
  for (char c : value) w.sink = w.sink * 131 + static_cast<unsigned char>(c);
  w.window[w.seed & 4095] = std::move(value);
}

__attribute__((noinline)) inline void MallocUnit(AllocWorkload& w) {
  w.seed = w.seed * 1664525u + 1013904223u;
  void*& slot = w.slots[w.seed & 63];
  std::free(slot);
  slot = std::malloc(16 + (w.seed >> 23));
  w.sink += reinterpret_cast<uintptr_t>(slot) & 1;
}

}  // namespace inprof_bench
