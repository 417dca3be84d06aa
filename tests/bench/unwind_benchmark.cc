// Cost of one unwind as the CPU-profiling signal handler does it, for a stack
// of a given depth. Run: build-dir/tests/bench/unwind_benchmark
// (see BENCHMARKS.md for the figures).
#include <benchmark/benchmark.h>
#include <ucontext.h>

#include <cstdint>
#include <memory>

#include "agent/unwind/address_map.h"
#include "agent/unwind/unwind.h"

namespace inprof::internal {
namespace {

struct Fixture {
  std::unique_ptr<AddressMap> map = AddressMap::Build();
  Unwinder unwinder;
  Fixture() {
    if (!unwinder.Init(*map).ok()) std::abort();
  }
};

__attribute__((noinline)) void UnwindLoop(benchmark::State& state,
                                          Fixture& fixture) {
  ucontext_t context;
  getcontext(&context);
  uint64_t pcs[64];
  int depth = 0;
  for (auto _ : state) {
    UnwindResult result =
        fixture.unwinder.Unwind(context, *fixture.map, pcs, 64);
    depth = result.depth;
    benchmark::DoNotOptimize(pcs);
  }
  state.counters["frames"] = depth;
}

__attribute__((noinline)) void Nest(int depth, benchmark::State& state,
                                    Fixture& fixture) {
  if (depth == 0) {
    UnwindLoop(state, fixture);
  } else {
    Nest(depth - 1, state, fixture);
  }
  benchmark::ClobberMemory();
}

void BM_Unwind(benchmark::State& state) {
  static Fixture fixture;
  Nest(static_cast<int>(state.range(0)), state, fixture);
}
BENCHMARK(BM_Unwind)->Arg(5)->Arg(15)->Arg(40);

}  // namespace
}  // namespace inprof::internal

BENCHMARK_MAIN();
