#!/usr/bin/env bash
# Auto-capture's history and time to capture (issue 14, item 8): the
# history's bytes per sample and seconds held at 64 concurrent requests, the
# cost of adding a sample, the time from a slow request's end to its capture
# being listed, and the demo server's throughput under HTTP load with
# auto-capture on (nothing slow) against off. See BENCHMARKS.md,
# "Auto-capture: history and time to capture".
#
# Usage: tests/bench/run_autocapture.sh [PAIRS [SLICE_S [HISTORY_S [SLOW]]]]
#   PAIRS      demo throughput: ABBA pairs of slices (default 16)
#   SLICE_S    seconds per slice (default 2)
#   HISTORY_S  seconds of 64 concurrent requests for the history (default 35:
#              the 4 MiB ring fills in about 24 s)
#   SLOW       slow requests whose capture latency is measured (default 12)
# Environment: BUILD_DIR (default <repo>/build-bench); DEMO_PORT (default
# 28931) and AGENT_PORT (default 26931): the demo's ports, both free.
set -euo pipefail
repo=$(cd "$(dirname "$0")/../.." && pwd)
build=${BUILD_DIR:-${repo}/build-bench}
pairs=${1:-16}
slice=${2:-2}
history_s=${3:-35}
slow=${4:-12}
demo_port=${DEMO_PORT:-28931}
agent_port=${AGENT_PORT:-26931}
for port in "${demo_port}" "${agent_port}"; do
  if ss -ltn | grep -q ":${port} "; then
    echo "run_autocapture.sh: port ${port} is taken (DEMO_PORT, AGENT_PORT)" >&2
    exit 2
  fi
done
cmake -S "${repo}" -B "${build}" -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DINPROF_BUILD_BENCH=ON -DINPROF_BUILD_EXAMPLES=ON >/dev/null
cmake --build "${build}" --target autocapture_benchmark \
  autocapture_load_benchmark demo_server -j2 >/dev/null
bench=${build}/tests/bench
echo "# $(date -u +%FT%TZ) nproc=$(nproc) loadavg $(cut -d' ' -f1-3 /proc/loadavg)"
echo "## history: 64 concurrent requests, ${history_s} s"
"${bench}/autocapture_benchmark" history "${history_s}" 64
echo "## HistoryRing::Add on a full ring, by stack depth"
"${bench}/autocapture_benchmark" add 200000
echo "## time to capture: idle, then with 64 concurrent requests"
"${bench}/autocapture_benchmark" capture "${slow}" 0
"${bench}/autocapture_benchmark" capture "${slow}" 64
echo "## the same, a CPU profile fetched first (symbolizer set up)"
"${bench}/autocapture_benchmark" capture 3 64 warm

echo "## demo server under load: auto-capture on (threshold 10 s) / off"
INPROF_ADDR="127.0.0.1:${agent_port}" "${build}/examples/demo_server" \
  --no-load --port="${demo_port}" >/dev/null 2>&1 &
demo_pid=$!
trap 'kill "${demo_pid}" 2>/dev/null || true; wait "${demo_pid}" 2>/dev/null || true' EXIT
for _ in $(seq 100); do
  curl -sf "http://127.0.0.1:${agent_port}/debug/pprof/autocapture" \
    >/dev/null && break
  sleep 0.1
done
"${bench}/autocapture_load_benchmark" "${demo_port}" "${agent_port}" \
  "${demo_pid}" "${pairs}" "${slice}" 4
echo "## the same, A/A control: both halves off"
"${bench}/autocapture_load_benchmark" "${demo_port}" "${agent_port}" \
  "${demo_pid}" "${pairs}" "${slice}" 4 aa
echo "# end $(date -u +%FT%TZ) loadavg $(cut -d' ' -f1-3 /proc/loadavg)"
