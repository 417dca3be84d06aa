#!/usr/bin/env bash
# Contention profiling costs, with Go's runtime as the peer; see
# BENCHMARKS.md "Contention".
#
# Usage: tests/bench/run_contention.sh [ROUNDS [SECONDS]]
# Environment: BUILD_DIR (default <repo>/build-bench)
set -euo pipefail
repo=$(cd "$(dirname "$0")/../.." && pwd)
build=${BUILD_DIR:-${repo}/build-bench}
rounds=${1:-10}
seconds=${2:-0.5}
cmake -S "${repo}" -B "${build}" -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DINPROF_BUILD_BENCH=ON -DINPROF_BUILD_TESTS=ON >/dev/null
cmake --build "${build}" --target contention_benchmark \
  contention_interposed_benchmark -j2 >/dev/null
echo "# $(date -u +%FT%TZ) nproc=$(nproc) loadavg $(cut -d' ' -f1-3 /proc/loadavg)"
echo "# uncontended lock+unlock"
"${build}/tests/bench/contention_benchmark" uncontended 10
"${build}/tests/bench/contention_interposed_benchmark" uncontended 10
echo "# contended: inprof::Mutex"
"${build}/tests/bench/contention_benchmark" contended inprof "${rounds}" "${seconds}"
echo "# contended: std::mutex through the interposer"
"${build}/tests/bench/contention_interposed_benchmark" contended std "${rounds}" "${seconds}"
echo "# contended: std::mutex, agent (with the interposer) started vs not at all"
"${build}/tests/bench/contention_interposed_benchmark" agent std "${rounds}" "${seconds}"
echo "# peer: Go $(go version | cut -d' ' -f3), sync.Mutex"
scratch=$(mktemp -d)
trap 'rm -rf "${scratch}"' EXIT
HOME="${scratch}" GOCACHE="${scratch}/cache" GOPATH="${scratch}/gopath" \
  GO111MODULE=off GOFLAGS= GOPROXY=off \
  go run "${repo}/tests/bench/go_contention/main.go" "${rounds}" "${seconds}"
