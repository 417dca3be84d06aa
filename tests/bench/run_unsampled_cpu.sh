#!/usr/bin/env bash
# CPU time nobody sampled (issue 16, item 5): 8 and 32 threads busy (i+1)/N
# of every 10 ms, each thread's profile against its own CPU clock, before
# and after inprof.UnsampledCPU; see BENCHMARKS.md.
#
# Usage: tests/bench/run_unsampled_cpu.sh [ROUNDS [SECONDS]]
# Environment: BUILD_DIR (default <repo>/build-bench)
set -euo pipefail
repo=$(cd "$(dirname "$0")/../.." && pwd)
build=${BUILD_DIR:-${repo}/build-bench}
cmake -S "${repo}" -B "${build}" -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DINPROF_BUILD_BENCH=ON -DINPROF_BUILD_TESTS=ON >/dev/null
cmake --build "${build}" --target unsampled_cpu_benchmark -j2 >/dev/null
echo "# $(date -u +%FT%TZ) nproc=$(nproc) loadavg $(cut -d' ' -f1-3 /proc/loadavg)"
for threads in 8 32; do
  "${build}/tests/bench/unsampled_cpu_benchmark" --threads="${threads}" \
    --rounds="${1:-9}" --seconds="${2:-5}"
done
