#!/usr/bin/env bash
# Heap sampling overhead (paired ON/OFF slices in one process) and the cost
# of serving a heap profile of 10,000 distinct stacks; see BENCHMARKS.md.
#
# Usage: tests/bench/run_heap_overhead.sh [ROUNDS [SECONDS]]
# Environment: BUILD_DIR (default <repo>/build-bench)
set -euo pipefail
repo=$(cd "$(dirname "$0")/../.." && pwd)
build=${BUILD_DIR:-${repo}/build-bench}
cmake -S "${repo}" -B "${build}" -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DINPROF_BUILD_BENCH=ON -DINPROF_BUILD_TESTS=ON >/dev/null
cmake --build "${build}" --target heap_overhead_benchmark \
  heap_overhead_shim_benchmark -j2 >/dev/null
echo "# $(date -u +%FT%TZ) nproc=$(nproc) loadavg $(cut -d' ' -f1-3 /proc/loadavg)"
for variant in heap_overhead_benchmark heap_overhead_shim_benchmark; do
  echo "# ${variant}"
  "${build}/tests/bench/${variant}" overhead "${1:-20}" "${2:-1}"
  "${build}/tests/bench/${variant}" serve 10000
done
