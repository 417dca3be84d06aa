#!/usr/bin/env bash
# inprof::Pool<T> against new/delete (glibc malloc and tcmalloc) and a
# mutex-protected free list, 1 and 2 threads; see BENCHMARKS.md.
#
# Usage: tests/bench/run_pool.sh [ROUNDS [OPS_PER_THREAD]]
# Environment: BUILD_DIR (default <repo>/build-bench)
set -euo pipefail
repo=$(cd "$(dirname "$0")/../.." && pwd)
build=${BUILD_DIR:-${repo}/build-bench}
cmake -S "${repo}" -B "${build}" -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DINPROF_BUILD_BENCH=ON -DINPROF_BUILD_TESTS=ON >/dev/null
cmake --build "${build}" --target pool_benchmark pool_benchmark_tcmalloc \
  -j2 >/dev/null
echo "# $(date -u +%FT%TZ) nproc=$(nproc) loadavg $(cut -d' ' -f1-3 /proc/loadavg)"
echo "## glibc malloc"
"${build}/tests/bench/pool_benchmark" "${1:-11}" "${2:-5000000}"
echo "## tcmalloc"
"${build}/tests/bench/pool_benchmark_tcmalloc" "${1:-11}" "${2:-5000000}"
