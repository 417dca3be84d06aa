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
cmake --build "${build}" --target heap_overhead_benchmark -j2 >/dev/null
bin=${build}/tests/bench/heap_overhead_benchmark
echo "# $(date -u +%FT%TZ) nproc=$(nproc) loadavg $(cut -d' ' -f1-3 /proc/loadavg)"
"${bin}" overhead "${1:-20}" "${2:-1}"
"${bin}" serve 10000
