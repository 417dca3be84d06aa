#!/usr/bin/env bash
# Heap sampling's cost against the same program built without inprof, one
# process per run (issue 16, item 2; BENCHMARKS.md, "Heap sampling against
# a build without inprof"). Seven modes per round, in an order that rotates
# each round and reverses every other round (ABBA):
#   glibc, tcmalloc            the program without inprof
#   glibc_inprof, tcmalloc_inprof
#                              the same source linked with inprof::agent
#   glibc_preload, tcmalloc_preload
#                              the program without inprof, byte for byte,
#                              under LD_PRELOAD=libinprof_preload.so: the
#                              workload's code and addresses are identical,
#                              so code layout cannot tip a 1% comparison
#   gperftools                 tcmalloc's own sampler
#                              (TCMALLOC_SAMPLE_PARAMETER=524288)
# Each run: two threads, UNITS units each; the figure is units per
# CPU-second of the whole process. Per round, each mode's slowdown against
# the program without inprof on the same allocator; medians and quartiles
# over the rounds.
#
# Usage: tests/bench/run_heap_front.sh [ROUNDS [MIXED_UNITS [MALLOC_UNITS]]]
# Environment: BUILD_DIR (default <repo>/build-bench); MODES (a subset of
#   the modes above, space-separated, plus glibc_preload_rate0 and
#   tcmalloc_preload_rate0: preloaded with INPROF_HEAP_RATE=0, the front in
#   place and nothing sampled); WORKLOADS (default "mixed malloc")
set -euo pipefail
repo=$(cd "$(dirname "$0")/../.." && pwd)
build=${BUILD_DIR:-${repo}/build-bench}
rounds=${1:-11}
mixed_units=${2:-8000000}
malloc_units=${3:-100000000}
cmake -S "${repo}" -B "${build}" -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DINPROF_BUILD_BENCH=ON -DINPROF_BUILD_TESTS=ON >/dev/null
variants=(glibc glibc_inprof tcmalloc tcmalloc_inprof)
cmake --build "${build}" -j2 \
  --target "${variants[@]/#/heap_front_benchmark_}" inprof_preload >/dev/null
preload="${build}/agent/libinprof_preload.so"
echo "# $(date -u +%FT%TZ) nproc=$(nproc) loadavg $(cut -d' ' -f1-3 /proc/loadavg)"
echo "# rounds=${rounds} mixed_units=${mixed_units} malloc_units=${malloc_units}"

read -r -a modes <<<"${MODES:-glibc glibc_inprof glibc_preload tcmalloc \
tcmalloc_inprof tcmalloc_preload gperftools}"
read -r -a workloads <<<"${WORKLOADS:-mixed malloc}"
run_mode() {  # run_mode MODE WORKLOAD UNITS: prints units per CPU-second
  local mode="$1" binary="heap_front_benchmark_$1" env=()
  case "${mode}" in
    gperftools)
      binary=heap_front_benchmark_tcmalloc
      env=(TCMALLOC_SAMPLE_PARAMETER=524288) ;;
    *_preload)
      binary="heap_front_benchmark_${mode%_preload}"
      env=(LD_PRELOAD="${preload}" INPROF_ADDR=127.0.0.1:0) ;;
    *_preload_rate0)
      binary="heap_front_benchmark_${mode%_preload_rate0}"
      env=(LD_PRELOAD="${preload}" INPROF_ADDR=127.0.0.1:0
        INPROF_HEAP_RATE=0) ;;
  esac
  env "${env[@]}" "${build}/tests/bench/${binary}" "$2" "$3" |
    sed -n 's/^units_per_cpu_s=\([0-9]*\).*/\1/p'
}

results=$(mktemp)
trap 'rm -f "${results}"' EXIT
for workload in "${workloads[@]}"; do
  units=${mixed_units}
  [[ "${workload}" == malloc ]] && units=${malloc_units}
  for ((round = 0; round < rounds; round++)); do
    order=()
    for ((i = 0; i < ${#modes[@]}; i++)); do
      order+=("${modes[(i + round) % ${#modes[@]}]}")
    done
    if ((round % 2 == 1)); then
      for ((i = ${#order[@]} - 1; i >= 0; i--)); do reversed+=("${order[i]}"); done
      order=("${reversed[@]}")
      reversed=()
    fi
    line="${workload} ${round}"
    for mode in "${order[@]}"; do
      rate=$(run_mode "${mode}" "${workload}" "${units}")
      echo "${workload} ${round} ${mode} ${rate}" >>"${results}"
      line+=" ${mode}=${rate}"
    done
    echo "${line}"
  done
done

# Per round: slowdown of each mode against the program without inprof on
# the same allocator.
awk '
  { rate[$1, $2, $3] = $4; workloads[$1] = 1; if ($2 + 1 > n) n = $2 + 1 }
  function median(a, k,   i, j, t) {
    for (i = 1; i <= k; i++) for (j = i + 1; j <= k; j++)
      if (a[j] < a[i]) { t = a[i]; a[i] = a[j]; a[j] = t }
    return k % 2 ? a[(k + 1) / 2] : (a[k / 2] + a[k / 2 + 1]) / 2
  }
  function quartile(a, k, q) { return a[int((k - 1) * q + 1.5)] }
  END {
    split("glibc_inprof:glibc glibc_preload:glibc glibc_preload_rate0:glibc tcmalloc_inprof:tcmalloc tcmalloc_preload:tcmalloc tcmalloc_preload_rate0:tcmalloc gperftools:tcmalloc tcmalloc:glibc", pairs, " ")
    for (w in workloads) for (p = 1; p in pairs; p++) {
      split(pairs[p], ab, ":")
      k = 0
      for (r = 0; r < n; r++) {
        if (rate[w, r, ab[1]] > 0 && rate[w, r, ab[2]] > 0)
          s[++k] = (rate[w, r, ab[2]] / rate[w, r, ab[1]] - 1) * 100
      }
      if (k == 0) continue
      m = median(s, k)
      printf "%s %-16s vs %-9s slowdown median %6.2f %%  [q1 %6.2f, q3 %6.2f]  rounds %d\n",
        w, ab[1], ab[2], m, quartile(s, k, 0.25), quartile(s, k, 0.75), k
      delete s
    }
  }' "${results}"
