#!/usr/bin/env bash
# What request labels cost the CPU, heap and contention profilers: each
# benchmark's workload with a RequestScope around every request (ON) against
# none (OFF), paired ABBA slices in one process, profiling on in both
# halves; then the same without profiling (the scopes' own cost). See
# BENCHMARKS.md, "Request labels".
#
# Usage: tests/bench/run_labels_overhead.sh [PAIRS [ROUNDS]]
#   PAIRS   CPU benchmark: pairs of 1 s slices per process (default 40)
#   ROUNDS  heap and contention benchmarks: ABBA rounds (default 10)
# Environment: BUILD_DIR (default <repo>/build-bench); RAW_OUT keeps the CPU
# benchmark's raw pair lines (run_cpu_overhead_interleaved.sh).
set -euo pipefail
repo=$(cd "$(dirname "$0")/../.." && pwd)
build=${BUILD_DIR:-${repo}/build-bench}
pairs=${1:-40}
rounds=${2:-10}
cmake -S "${repo}" -B "${build}" -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DINPROF_BUILD_BENCH=ON >/dev/null
cmake --build "${build}" --target cpu_overhead_benchmark \
  heap_overhead_shim_benchmark contention_benchmark -j2 >/dev/null
echo "# $(date -u +%FT%TZ) nproc=$(nproc) loadavg $(cut -d' ' -f1-3 /proc/loadavg)"
echo "## CPU profile"
BUILD_DIR="${build}" MODES="labels labels-unprofiled" \
  "${repo}/tests/bench/run_cpu_overhead_interleaved.sh" "${pairs}" 1 1 |
  grep -v '^process=.*kind=pair'
echo "## heap profile (malloc shim), sampling at 512 KiB / no agent"
"${build}/tests/bench/heap_overhead_shim_benchmark" labels "${rounds}" 1
"${build}/tests/bench/heap_overhead_shim_benchmark" labels-unprofiled \
  "${rounds}" 1
echo "## contention profiles (inprof::Mutex), default rates / rates 0"
"${build}/tests/bench/contention_benchmark" labels inprof "${rounds}" 0.5
INPROF_BENCH_BLOCK_RATE=0 INPROF_BENCH_MUTEX_FRACTION=0 \
  "${build}/tests/bench/contention_benchmark" labels inprof "${rounds}" 0.5
echo "# end $(date -u +%FT%TZ) loadavg $(cut -d' ' -f1-3 /proc/loadavg)"
