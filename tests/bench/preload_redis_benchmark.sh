#!/usr/bin/env bash
# Throughput of an unmodified Debian redis-server under its own load tool,
# with libinprof_preload.so and without (issue 15, item 2; BENCHMARKS.md,
# "Attach by LD_PRELOAD"). Target: within 5% of without.
#
# Three variants, each round a fresh server and one redis-benchmark run:
#   off        redis-server as installed
#   preload    LD_PRELOAD=libinprof_preload.so: the agent serving, idle
#              (the pthread interposer in every lock call, contention
#              sampling at its defaults)
#   profiling  the same while a 100 Hz CPU profile is being taken for the
#              whole run (the cost while someone looks)
# The variants are interleaved within each round, in alternating order
# (off preload profiling, then profiling preload off), so that drift of the
# machine falls on all of them alike; the summary is the median over rounds
# of each variant's requests per second, its ratio to off's median, and the
# median over rounds of the ratio to the same round's off (paired).
#
# Usage: tests/bench/preload_redis_benchmark.sh [ROUNDS [REQUESTS]]
#   ROUNDS    rounds (default 7; each runs every variant once)
#   REQUESTS  redis-benchmark -n (default 200000)
# Environment:
#   BUILD_DIR  build directory holding agent/libinprof_preload.so
#              (default <repo>/build)
#   PRELOAD    the library itself, overriding BUILD_DIR
#   CLIENTS    redis-benchmark -c (default 50)
#   IO_THREADS redis-server --io-threads (default 2)
# Needs redis-server (package redis-server), redis-benchmark and redis-cli
# (redis-tools) and curl.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
rounds="${1:-7}"
requests="${2:-200000}"
clients="${CLIENTS:-50}"
io_threads="${IO_THREADS:-2}"
build_dir="${BUILD_DIR:-${root}/build}"
preload="${PRELOAD:-${build_dir}/agent/libinprof_preload.so}"
[[ -f "${preload}" ]] || { echo "no ${preload}: build target inprof_preload (or set PRELOAD)" >&2; exit 2; }
for tool in redis-server redis-benchmark redis-cli curl; do
  command -v "${tool}" >/dev/null ||
    { echo "${tool} not found: apt-get install redis-server redis-tools curl" >&2; exit 2; }
done

work="$(mktemp -d -t inprof-preload-bench.XXXXXX)"
server_pid=""
profile_pid=""
cleanup() {
  [[ -n "${profile_pid}" ]] && kill "${profile_pid}" 2>/dev/null || true
  [[ -n "${server_pid}" ]] && kill "${server_pid}" 2>/dev/null || true
  wait 2>/dev/null || true
  rm -rf "${work}"
}
trap cleanup EXIT

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

# run_variant <variant>: prints "<set rps> <get rps>".
run_variant() {
  local variant="$1" redis_port agent_port
  redis_port="$(free_port)"
  agent_port="$(free_port)"
  local -a env=()
  if [[ "${variant}" != off ]]; then
    env=(LD_PRELOAD="${preload}" INPROF_ADDR="127.0.0.1:${agent_port}"
         INPROF_PRELOAD_PROGRAM=redis-server)
  fi
  env "${env[@]}" redis-server --port "${redis_port}" --bind 127.0.0.1 \
    --save '' --appendonly no --daemonize no --io-threads "${io_threads}" \
    >"${work}/redis.log" 2>&1 &
  server_pid=$!
  until redis-cli -p "${redis_port}" ping >/dev/null 2>&1; do sleep 0.05; done
  if [[ "${variant}" == profiling ]]; then
    until curl -sf "http://127.0.0.1:${agent_port}/debug/pprof/cmdline" >/dev/null; do
      sleep 0.05
    done
    curl -s -o /dev/null "http://127.0.0.1:${agent_port}/debug/pprof/profile?seconds=300" &
    profile_pid=$!
    sleep 0.2  # the profile's timers armed before the load starts
  fi
  redis-benchmark -p "${redis_port}" -t set,get -n "${requests}" -c "${clients}" \
    -q --threads 1 2>&1 | tr '\r' '\n' |
    awk '/requests per second/ { sub(":", "", $1); rps[$1] = $2 }
         END { print rps["SET"], rps["GET"] }'
  if [[ -n "${profile_pid}" ]]; then
    kill "${profile_pid}" 2>/dev/null || true
    wait "${profile_pid}" 2>/dev/null || true
    profile_pid=""
  fi
  kill "${server_pid}"
  wait "${server_pid}" 2>/dev/null || true
  server_pid=""
}

echo "# redis-server $(redis-server --version | awk '{print $3}'), redis-benchmark -t set,get -n ${requests} -c ${clients} --threads 1, --io-threads ${io_threads}"
echo "# preload: ${preload}"
echo "round variant set_rps get_rps"
for ((round = 1; round <= rounds; round++)); do
  if ((round % 2)); then order=(off preload profiling); else order=(profiling preload off); fi
  for variant in "${order[@]}"; do
    echo "${round} ${variant} $(run_variant "${variant}")" | tee -a "${work}/raw"
  done
done

echo
echo "variant   median SET rps  ratio  paired   median GET rps  ratio  paired"
awk '
  function median(list, n,   sorted, i, j, t) {
    for (i = 1; i <= n; i++) sorted[i] = list[i]
    for (i = 2; i <= n; i++)
      for (j = i; j > 1 && sorted[j - 1] > sorted[j]; j--) {
        t = sorted[j]; sorted[j] = sorted[j - 1]; sorted[j - 1] = t
      }
    return n % 2 ? sorted[(n + 1) / 2] : (sorted[n / 2] + sorted[n / 2 + 1]) / 2
  }
  # Rounds are numbered from 1 and run every variant once.
  { n[$2]++; set[$2, $1] = $3; get[$2, $1] = $4 }
  END {
    split("off preload profiling", variants, " ")
    for (v = 1; v <= 3; v++) {
      name = variants[v]
      delete s; delete g; delete ps; delete pg
      for (i = 1; i <= n[name]; i++) {
        s[i] = set[name, i]; g[i] = get[name, i]
        ps[i] = set[name, i] / set["off", i]; pg[i] = get[name, i] / get["off", i]
      }
      ms[name] = median(s, n[name]); mg[name] = median(g, n[name])
      printf "%-9s %14.0f  %5.3f  %6.3f   %14.0f  %5.3f  %6.3f\n", name,
        ms[name], ms[name] / ms["off"], median(ps, n[name]),
        mg[name], mg[name] / mg["off"], median(pg, n[name])
    }
  }' "${work}/raw"
