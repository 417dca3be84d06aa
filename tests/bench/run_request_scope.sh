#!/usr/bin/env bash
# inprof::RequestScope enter+exit (with a label, nested, AdoptRequest,
# CurrentRequest) against a baseline loop, 1 and 2 threads; see
# BENCHMARKS.md, "Request labels".
#
# Usage: tests/bench/run_request_scope.sh [ROUNDS [OPS_PER_THREAD]]
# Environment: BUILD_DIR (default <repo>/build-bench)
set -euo pipefail
repo=$(cd "$(dirname "$0")/../.." && pwd)
build=${BUILD_DIR:-${repo}/build-bench}
cmake -S "${repo}" -B "${build}" -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DINPROF_BUILD_BENCH=ON >/dev/null
cmake --build "${build}" --target request_scope_benchmark -j2 >/dev/null
echo "# $(date -u +%FT%TZ) nproc=$(nproc) loadavg $(cut -d' ' -f1-3 /proc/loadavg)"
"${build}/tests/bench/request_scope_benchmark" "${1:-11}" "${2:-5000000}"
