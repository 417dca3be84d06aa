#!/usr/bin/env bash
# CPU overhead of a 100 Hz profile, measured paired and interleaved inside
# one process (BENCHMARKS.md, "Paired, interleaved measurement").
#
# Each process of tests/bench/cpu_overhead_benchmark --mode=interleaved-*
# keeps its two worker threads busy for the whole run and alternates OFF
# slices (no profiler) and ON slices (a profile of SECONDS seconds) in ABBA
# order, pairing every ON slice with the adjacent OFF slice; see the comment
# above InterleavedMain() in cpu_overhead_benchmark.cc. Because both halves
# of a pair run in the same process a few seconds apart, the
# process-to-process variation of the separate-process benchmark
# (run_cpu_overhead.sh; +-5% here) cancels.
#
# This script runs REPEATS processes of each mode, alternating the modes
# (inprof, gperftools, and the A/A control `none`, whose ON slice is the same
# sleep as its OFF slice), and prints every pair, then per mode over all
# pairs of all its processes: median, quartiles, mean +- standard error and a
# 95% confidence interval of the median (order statistics), and a bootstrap
# interval for the difference of the inprof and gperftools medians.
#
# Usage: tests/bench/run_cpu_overhead_interleaved.sh [PAIRS [SECONDS [REPEATS]]]
#   PAIRS    measured (OFF, ON) pairs per process, even (default 80)
#   SECONDS  profile length = ON slice length (default 1; see BENCHMARKS.md
#            for why short slices resolve more on a noisy host)
#   REPEATS  processes per mode (default 4)
# Environment:
#   BUILD_DIR  build directory (default <repo>/build-bench)
#   THREADS    worker threads (default 2)
#   MODES      modes to run (default "inprof gperftools none"); also
#              "labels" (a profile in every slice, ON slices with a
#              RequestScope around every request) and "labels-unprofiled"
#              (the same without any agent): BENCHMARKS.md, "Request labels";
#              "autocapture" (requests in RequestScopes and the agent running
#              in both halves, auto-capture on in ON slices with a 60 s
#              threshold) and "autocapture-blocking" (the same, each request
#              ~10 us of work then a 1 ms sleep; THREADS=8 is a thread-per-
#              request server): BENCHMARKS.md, "Auto-capture on, nothing slow"
#   RAW_OUT    also keep the raw key=value lines in this file
#   ANALYZE    analyze this file of earlier raw lines (RAW_OUT, or the
#              script's output) instead of running; SECONDS must match it
#
# Time: about REPEATS x modes x (2 x PAIRS + 1) x SECONDS seconds, plus 1 s
# of warm-up per process (the defaults: 4 x 3 x 161 x 1 s = 33 min).
set -euo pipefail

pairs=${1:-80}
seconds=${2:-1}
repeats=${3:-4}
threads=${THREADS:-2}
read -r -a modes <<<"${MODES:-inprof gperftools none}"
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
build_dir=${BUILD_DIR:-$repo/build-bench}
binary=$build_dir/tests/bench/cpu_overhead_benchmark

if ! [[ $pairs =~ ^[1-9][0-9]*$ && $((pairs % 2)) -eq 0 &&
  $seconds =~ ^[1-9][0-9]*$ && $repeats =~ ^[1-9][0-9]*$ ]]; then
  echo "usage: $0 [PAIRS [SECONDS [REPEATS]]]  (PAIRS even)" >&2
  exit 2
fi

raw=$(mktemp)
err=$(mktemp)
trap 'rm -f "$raw" "$raw.one" "$err"' EXIT

# Builds, runs every process and appends its lines to $raw.
run_all() {
  if [[ ! -f $build_dir/CMakeCache.txt ]]; then
    cmake -S "$repo" -B "$build_dir" -DCMAKE_BUILD_TYPE=RelWithDebInfo \
      -DINPROF_BUILD_TESTS=ON -DINPROF_BUILD_BENCH=ON >&2
  fi
  cmake --build "$build_dir" -j2 --target cpu_overhead_benchmark >&2

  echo "# cpu_overhead_benchmark interleaved: modes=${modes[*]}, $repeats" \
    "processes each, $pairs pairs of ${seconds}s slices per process," \
    "$threads worker threads"
  echo "# $(date -u +%Y-%m-%dT%H:%M:%SZ)  nproc=$(nproc)" \
    "cpu=\"$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -1)\"" \
    "kernel=$(uname -r)"
  echo "# loadavg at start: $(cut -d' ' -f1-3 /proc/loadavg)"

  for ((r = 0; r < repeats; r++)); do
    for ((k = 0; k < ${#modes[@]}; k++)); do
      mode=${modes[$(((r + k) % ${#modes[@]}))]}
      echo "# process $((r + 1)) interleaved-$mode start $(date -u +%H:%M:%S)" \
        "loadavg $(cut -d' ' -f1-3 /proc/loadavg)"
      "$binary" --mode="interleaved-$mode" --seconds="$seconds" \
        --pairs="$pairs" --threads="$threads" 2>"$err" >"$raw.one" || {
        cat "$err" >&2
        echo "run failed: $binary --mode=interleaved-$mode" >&2
        exit 1
      }
      sed "s/^/process=$((r + 1)) /" "$raw.one" | tee -a "$raw"
    done
  done
  rm -f "$raw.one"
  echo "# loadavg at end: $(cut -d' ' -f1-3 /proc/loadavg)  $(date -u +%H:%M:%S)"
  if [[ -n ${RAW_OUT:-} ]]; then cp "$raw" "$RAW_OUT"; fi
}

if [[ -n ${ANALYZE:-} ]]; then
  grep 'kind=' "$ANALYZE" | sed 's/^.*\(process=\)/\1/' >"$raw"
else
  run_all
fi

awk '
function field(key,   i, kv) {
  for (i = 1; i <= NF; i++) {
    split($i, kv, "=")
    if (kv[1] == key) return kv[2]
  }
  return ""
}
# Sorts a[1..n] in place (mawk has no asort): heapsort, iterative (the mawk
# stack is small) and O(n log n) with many equal values.
function sort(a, n,   i, t) {
  for (i = int(n / 2); i >= 1; i--) sift(a, i, n)
  for (i = n; i > 1; i--) {
    t = a[1]; a[1] = a[i]; a[i] = t
    sift(a, 1, i - 1)
  }
}
function sift(a, i, n,   c, t) {
  while ((c = 2 * i) <= n) {
    if (c < n && a[c + 1] > a[c]) c++
    if (a[i] >= a[c]) return
    t = a[i]; a[i] = a[c]; a[c] = t
    i = c
  }
}
# Quantile p of sorted a[1..n], linear interpolation (R type 7).
function quantile(a, n, p,   h, lo) {
  if (n == 0) return "nan"
  h = (n - 1) * p + 1
  lo = int(h)
  if (lo >= n) return a[n]
  return a[lo] + (h - lo) * (a[lo + 1] - a[lo])
}
function median_of(a, n,   b, i) {
  for (i = 1; i <= n; i++) b[i] = a[i]
  sort(b, n)
  return quantile(b, n, 0.5)
}
# One line of statistics over v[mode, metric, 1..n].
function stats(m, metric, label,   a, n, i, sum, ss, mean, se, half, j, k) {
  n = count[m, metric]
  if (n == 0) return
  for (i = 1; i <= n; i++) a[i] = v[m, metric, i]
  sort(a, n)
  sum = 0; for (i = 1; i <= n; i++) sum += a[i]
  mean = sum / n
  ss = 0; for (i = 1; i <= n; i++) ss += (a[i] - mean) ^ 2
  se = n > 1 ? sqrt(ss / (n - 1) / n) : 0
  half = 0.98 * sqrt(n)
  j = int(n / 2 - half); if (j < 1) j = 1
  k = n / 2 + 1 + half; k = (k == int(k)) ? k : int(k) + 1; if (k > n) k = n
  printf "  %-22s n=%3d  median %7.2f  IQR [%6.2f, %6.2f]  95%% CI of median [%6.2f, %6.2f]  mean %6.2f +- %.2f\n",
    label, n, quantile(a, n, 0.5), quantile(a, n, 0.25), quantile(a, n, 0.75),
    a[j], a[k], mean, se
}
# Bootstrap 95% interval of median(x) - median(y) for two modes.
function bootstrap_diff(mx, my, metric,   nx, ny, b, i, x, y, d, B) {
  nx = count[mx, metric]; ny = count[my, metric]
  if (nx == 0 || ny == 0) return
  B = 1000
  srand(12345)
  for (b = 1; b <= B; b++) {
    for (i = 1; i <= nx; i++) x[i] = v[mx, metric, 1 + int(rand() * nx)]
    for (i = 1; i <= ny; i++) y[i] = v[my, metric, 1 + int(rand() * ny)]
    d[b] = median_of(x, nx) - median_of(y, ny)
  }
  sort(d, B)
  for (i = 1; i <= nx; i++) x[i] = v[mx, metric, i]
  for (i = 1; i <= ny; i++) y[i] = v[my, metric, i]
  printf "  %-22s %s - %s: median difference %6.2f points, bootstrap 95%% interval [%6.2f, %6.2f]\n",
    metric, mx, my, median_of(x, nx) - median_of(y, ny), d[int(0.025 * B) + 1],
    d[int(0.975 * B)]
}
function add(m, metric, x) { v[m, metric, ++count[m, metric]] = x }
/kind=pair/ {
  m = field("mode"); sub(/^interleaved-/, "", m)
  if (!(m in seen)) { seen[m] = 1; order[++nmodes] = m }
  add(m, "wall", field("wall_ovh_pct"))
  add(m, "worker", field("worker_ovh_pct"))
  add(m, "cpu", field("cpu_ovh_pct"))
  if (field("quiet") == 1) {
    add(m, "wall_quiet", field("wall_ovh_pct"))
    add(m, "worker_quiet", field("worker_ovh_pct"))
    add(m, "cpu_quiet", field("cpu_ovh_pct"))
  }
  add(m, "extra_cpu_ms", field("on_other_cpu_ms") - field("off_other_cpu_ms") * field("on_wall_s") / field("off_wall_s"))
  add(m, "on_beyond_ms", 1000 * field("on_wall_s") - 1000 * seconds)
  add(m, "off_units_per_s", field("off_units") / field("off_wall_s"))
  if (field("samples") >= 0) {
    add(m, "samples", field("samples"))
    add(m, "hz", field("hz_per_cpu_s"))
  }
  p = field("process")
  pk = m SUBSEP p
  if (!(pk in pseen)) { pseen[pk] = 1; procs[m] = procs[m] " " p }
  pv[m, p, ++pc[m, p]] = field("cpu_ovh_pct")
  pw[m, p, pc[m, p]] = field("wall_ovh_pct")
}
/kind=info/ {
  m = field("mode"); sub(/^interleaved-/, "", m)
  lost[m] += field("lost_samples"); truncated[m] += field("truncated_stacks")
  bytes[m] = bytes[m] " " field("mean_profile_bytes")
}
END {
  printf "\noverheads in %%; per pair: wall = 1 - (ON units/wall s)/(OFF units/wall s);\n"
  printf "worker = same per worker CPU s (cost inside the workers only); cpu = worker\n"
  printf "plus the ON slice'"'"'s extra CPU of the other threads (agent/libprofiler/HTTP client)\n"
  for (i = 1; i <= nmodes; i++) {
    m = order[i]
    printf "\n%s\n", m
    stats(m, "wall", "wall overhead")
    stats(m, "worker", "worker-CPU overhead")
    stats(m, "cpu", "CPU overhead")
    stats(m, "wall_quiet", "wall, quiet pairs")
    stats(m, "worker_quiet", "worker-CPU, quiet pairs")
    stats(m, "cpu_quiet", "CPU, quiet pairs")
    stats(m, "extra_cpu_ms", "extra other-CPU ms")
    stats(m, "on_beyond_ms", "ON slice beyond S, ms")
    stats(m, "off_units_per_s", "OFF units/s")
    stats(m, "samples", "samples per profile")
    stats(m, "hz", "samples/worker CPU s")
    if (count[m, "samples"] > 0)
      printf "  lost samples %d, truncated stacks %d, mean profile bytes per process:%s\n",
        lost[m], truncated[m], bytes[m]
    np = split(procs[m], plist, " ")
    for (k = 1; k <= np; k++) {
      p = plist[k]; n = pc[m, p]
      for (j = 1; j <= n; j++) { x[j] = pv[m, p, j]; y[j] = pw[m, p, j] }
      printf "  process %s: %d pairs, median CPU overhead %.2f, wall %.2f\n",
        p, n, median_of(x, n), median_of(y, n)
    }
  }
  if (("inprof" in seen) && ("gperftools" in seen)) {
    printf "\ninprof against gperftools (different processes, unpaired):\n"
    bootstrap_diff("inprof", "gperftools", "wall")
    bootstrap_diff("inprof", "gperftools", "worker")
    bootstrap_diff("inprof", "gperftools", "cpu")
  }
  if (("labels" in seen) && ("labels-unprofiled" in seen)) {
    printf "\nlabels with profiling on against the scopes alone (different processes, unpaired):\n"
    bootstrap_diff("labels", "labels-unprofiled", "worker")
    bootstrap_diff("labels", "labels-unprofiled", "cpu")
  }
}' seconds="$seconds" "$raw"
