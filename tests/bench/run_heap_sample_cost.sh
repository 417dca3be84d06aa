#!/usr/bin/env bash
# The heap sampler's cost, counted by perf the same way for every mode
# (issue 16, item 2; BENCHMARKS.md, "Heap sampling against a build without
# inprof"). A whole-process throughput comparison (run_heap_front.sh) does
# not resolve 1 % here: one process runs 7 % faster than the next, with or
# without inprof. This one divides instead of subtracting.
#
# Each mode runs the same program binary, byte for byte (no relinking: the
# workload's code sits at the same addresses in every mode), under perf;
# the samples counted are those of the workload's window, as the program
# reports it (the agent's start, ~10 ms once per process, is not in it).
# The program's own code does the same work in every mode, so the share of the
# samples that fall in it measures everything else: if that share is s in
# the plain run and s' in a mode, the mode costs s / s' - 1 of the plain
# run's CPU time, whole process (the agent's threads, the kernel, the
# allocator, libstdc++'s or the front's operators). A slower or busier
# machine slows every part alike and leaves the shares where they are.
# Not in it: the program's own code running slower because of the mode
# (cache pollution); the instruction count (callgrind, in BENCHMARKS.md)
# bounds that separately.
#
# Modes (the program is heap_front_benchmark_<allocator>, built without
# inprof):
#   glibc, tcmalloc        the plain program (the base of its allocator)
#   glibc_preload, tcmalloc_preload
#                          under LD_PRELOAD=libinprof_preload.so: the agent
#                          started, heap and allocs sampled at 512 KiB
#   glibc_preload_rate0, tcmalloc_preload_rate0
#                          the same with INPROF_HEAP_RATE=0: the front in
#                          place, nothing sampled
#   gperftools             tcmalloc's own sampler
#                          (TCMALLOC_SAMPLE_PARAMETER=524288)
#   glibc_inprof, tcmalloc_inprof
#                          not in the default set: the same source linked
#                          with inprof::agent (heap_front_benchmark_*_inprof,
#                          the agent started by the program): how a program
#                          that links the agent pays. A different binary,
#                          so the workload's code sits at other addresses;
#                          the agent's code inside it (inprof::, the front's
#                          operators and C functions) is counted as inprof,
#                          by symbol
#   jemalloc, jemalloc_preload, jemalloc_preload_rate0
#                          not in the default set: the glibc program with
#                          jemalloc preloaded (Debian's libjemalloc2),
#                          alone and after libinprof_preload.so
# Each run is also split by where its samples fell, per 100 samples of the
# program's own code: libc, libstdc++, inprof (libinprof_preload.so),
# allocator (libtcmalloc or libjemalloc), kernel, other (the loader, libm,
# the vDSO). And "added": what is neither the program nor the C library nor
# the allocator library (libstdc++, inprof, the kernel, the rest), per 100
# samples of those three, against the plain run: steadier than the cost,
# which moves with the allocator's and the C library's shares from one
# process to the next; it leaves out gperftools' sampler, which runs inside
# tcmalloc.
#
# Usage: tests/bench/run_heap_sample_cost.sh [ROUNDS [UNITS [WORKLOAD]]]
#   ROUNDS    rounds of every mode, in an order that rotates (default 7)
#   UNITS     units per thread (default 8000000, ~2 s of two cores)
#   WORKLOAD  mixed | malloc (tests/bench/alloc_workload.h; default mixed)
# Environment: BUILD_DIR (default <repo>/build-bench); MODES (a subset of
#   the modes above, space-separated); PERF_FREQ (default 4000); PRELOAD
#   (default the build's libinprof_preload.so); PRELOAD_OTHER (another
#   build's, for the modes <allocator>_preload_other:
#   two versions of the agent side by side in one run); SUMMARIZE (a file
#   of this script's output: print its summary again, nothing run);
#   JEMALLOC (default /usr/lib/x86_64-linux-gnu/libjemalloc.so.2).
# Needs perf (Debian: apt-get install linux-perf).
set -euo pipefail
repo=$(cd "$(dirname "$0")/../.." && pwd)
build=${BUILD_DIR:-${repo}/build-bench}
rounds=${1:-7}
units=${2:-8000000}
workload=${3:-mixed}
perf_freq=${PERF_FREQ:-4000}
if ! command -v perf >/dev/null; then
  echo "$0: perf is missing (Debian: apt-get install linux-perf)" >&2
  exit 2
fi
cmake -S "${repo}" -B "${build}" -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DINPROF_BUILD_BENCH=ON -DINPROF_BUILD_TESTS=ON >/dev/null
cmake --build "${build}" -j2 --target heap_front_benchmark_glibc \
  heap_front_benchmark_tcmalloc heap_front_benchmark_glibc_inprof \
  heap_front_benchmark_tcmalloc_inprof inprof_preload >/dev/null
preload=${PRELOAD:-${build}/agent/libinprof_preload.so}
jemalloc=${JEMALLOC:-/usr/lib/x86_64-linux-gnu/libjemalloc.so.2}
read -r -a modes <<<"${MODES:-glibc glibc_preload glibc_preload_rate0 \
tcmalloc tcmalloc_preload tcmalloc_preload_rate0 gperftools}"

work=$(mktemp -d)
trap 'rm -rf "${work}"' EXIT

# run_mode MODE: runs it under perf; prints the samples' shares by place.
run_mode() {
  local mode="$1" allocator="${1%%_*}" env=() after=""
  if [[ "${allocator}" == jemalloc ]]; then
    [[ -f "${jemalloc}" ]] || {
      echo "$0: ${jemalloc} is missing (Debian: apt-get install libjemalloc2)" >&2
      exit 2
    }
    allocator=glibc after=" ${jemalloc}"
  fi
  case "${mode}" in
    gperftools) allocator=tcmalloc env=(TCMALLOC_SAMPLE_PARAMETER=524288) ;;
    jemalloc) env=(LD_PRELOAD="${jemalloc}") ;;
    *_preload) env=(LD_PRELOAD="${preload}${after}" INPROF_ADDR=127.0.0.1:0) ;;
    *_preload_other)
      env=(LD_PRELOAD="${PRELOAD_OTHER:?for ${mode}}${after}"
        INPROF_ADDR=127.0.0.1:0) ;;
    *_preload_rate0)
      env=(LD_PRELOAD="${preload}${after}" INPROF_ADDR=127.0.0.1:0
        INPROF_HEAP_RATE=0) ;;
  esac
  local binary="heap_front_benchmark_${allocator}"
  [[ "${mode}" == *_inprof ]] && binary+="_inprof"
  perf record -q -k CLOCK_MONOTONIC -e cpu-clock -F "${perf_freq}" \
    -o "${work}/perf.data" -- env "${env[@]}" \
    "${build}/tests/bench/${binary}" "${workload}" "${units}" \
    >"${work}/line" 2>"${work}/stderr" || {
    echo "run failed: ${mode}: $(head -3 "${work}/stderr")" >&2
    exit 1
  }
  local start end
  start=$(sed -n 's/.*window_start_s=\([0-9.]*\).*/\1/p' "${work}/line")
  end=$(sed -n 's/.*window_end_s=\([0-9.]*\).*/\1/p' "${work}/line")
  perf report -i "${work}/perf.data" --time "${start},${end}" \
    --sort dso,sym --stdio -g none 2>/dev/null |
    awk -v binary="${binary}" '
      # The agent code linked into a program: its namespace and the front
      # (the workload code is in namespace inprof_bench).
      function agent_symbol(sym) {
        if (sym ~ /^inprof_bench::/ || sym ~ /@plt$/) return 0
        return sym ~ /^inprof(::|_)/ || sym ~ /^operator (new|delete)/ ||
          sym ~ /^(malloc|free|calloc|realloc|reallocarray|memalign|posix_memalign|aligned_alloc|valloc|pvalloc|malloc_usable_size)$/
      }
      $1 ~ /%$/ {
        share = $1; sub(/%$/, "", share); dso = $2
        sym = $0; sub(/^ *[0-9.]+% +[^ ]+ +\[.\] /, "", sym)
        if (dso == binary) place = agent_symbol(sym) ? "inprof" : "program"
        else if (dso ~ /^libc\.so/) place = "libc"
        else if (dso ~ /^libstdc\+\+/) place = "libstdcxx"
        else if (dso ~ /^libinprof/) place = "inprof"
        else if (dso ~ /^lib(tcmalloc|jemalloc)/) place = "allocator"
        else if (dso ~ /kernel/) place = "kernel"
        else place = "other"
        sum[place] += share
      }
      END {
        printf "program=%.3f", sum["program"]
        split("libc libstdcxx inprof allocator kernel other", p, " ")
        for (i = 1; i <= 6; i++) printf " %s=%.3f", p[i], sum[p[i]] + 0
        printf "\n"
      }'
}

echo "# perf-counted heap sampling cost: ${rounds} rounds, ${workload}," \
  "${units} units x 2 threads, perf at ${perf_freq} Hz"
echo "# $(date -u +%FT%TZ) nproc=$(nproc) kernel=$(uname -r)" \
  "loadavg $(cut -d' ' -f1-3 /proc/loadavg)"
raw="${work}/raw"
# SUMMARIZE=FILE: no runs, only the summary of FILE's round= lines (this
# script's output, kept from an earlier run).
if [[ -n "${SUMMARIZE:-}" ]]; then
  grep '^round=' "${SUMMARIZE}" >"${raw}"
  rounds=0
fi
for ((round = 0; round < rounds; round++)); do
  for ((i = 0; i < ${#modes[@]}; i++)); do
    mode=${modes[(i + round) % ${#modes[@]}]}
    echo "round=$((round + 1)) mode=${mode} $(run_mode "${mode}")" |
      tee -a "${raw}"
  done
done

awk -f "${repo}/tests/bench/stats.awk" -f <(cat <<'AWK'
{
  m = field("mode"); r = field("round"); p = field("program")
  if (p <= 0) next
  program[m, r] = p
  rounds[r] = 1; seen[m] = 1
  split("libc libstdcxx inprof allocator kernel other", places, " ")
  for (i = 1; i <= 6; i++) per100[m, r, places[i]] = 100 * field(places[i]) / p
  # added: what is neither the program nor the C library nor the allocator,
  # per 100 samples of those (their shares of one another move from one
  # process to the next by a point or two, with memory speed; the rest
  # does not)
  fixed = p + field("libc") + field("allocator")
  added[m, r] = 100 * (100 - fixed) / fixed
}
function base_of(m) {
  if (m ~ /^glibc/) return "glibc"
  return m ~ /^jemalloc/ ? "jemalloc" : "tcmalloc"
}
END {
  printf "\ncost against the plain program on the same allocator, %% of its CPU time\n"
  printf "cost%%: median over rounds of s/s'-1, whole process\n"
  printf "added%%: outside the program, libc and the allocator library, per 100 samples of those,\n"
  printf "  against the plain run (not for gperftools, whose sampler is inside tcmalloc)\n"
  printf "libc...other: per 100 samples of the program's own code, medians\n"
  printf "%-24s %6s %8s %8s %8s %8s %8s %8s %8s %8s %8s %8s\n", "mode",
    "rounds", "cost%", "q1", "q3", "added%", "libc", "libstdc++", "inprof",
    "allocator", "kernel", "other"
  n = split("glibc glibc_inprof glibc_preload glibc_preload_other glibc_preload_rate0 tcmalloc tcmalloc_inprof tcmalloc_preload tcmalloc_preload_other tcmalloc_preload_rate0 gperftools jemalloc jemalloc_preload jemalloc_preload_other jemalloc_preload_rate0", order, " ")
  for (o = 1; o <= n; o++) {
    m = order[o]
    if (!(m in seen)) continue
    b = base_of(m); k = 0
    for (r in rounds) {
      if (!((m, r) in program) || !((b, r) in program)) continue
      c[++k] = 100 * (program[b, r] / program[m, r] - 1)
      a[k] = added[m, r] - added[b, r]
      for (i = 1; i <= 6; i++) col[i, k] = per100[m, r, places[i]]
    }
    if (k == 0) continue
    printf "%-24s %6d %8.2f", m, k, median(c, k)
    printf " %8.2f %8.2f", c[int((k - 1) * 0.25 + 1.5)], c[int((k - 1) * 0.75 + 1.5)]
    if (m == "gperftools") printf " %8s", "-"
    else printf " %8.2f", median(a, k)
    for (i = 1; i <= 6; i++) {
      for (j = 1; j <= k; j++) v[j] = col[i, j]
      printf " %8.2f", median(v, k)
    }
    printf "\n"
  }
}
AWK
) "${raw}"
