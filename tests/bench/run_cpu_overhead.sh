#!/usr/bin/env bash
# CPU overhead of a 100 Hz profile (issue 2, item 9; figures in BENCHMARKS.md).
#
# Runs tests/bench/cpu_overhead_benchmark in four modes -- no profiler; an
# inprof profile fetched over HTTP as the process's first (cold symbolizer)
# and as a later fetch (inprof_warm); gperftools' ProfilerStart/ProfilerStop
# -- alternating them round by round (the order rotates each round, so no
# mode is always first or always follows another), and prints every run,
# then the per-mode medians and the overhead of each profiler against no
# profiler, over all rounds and over the quiet rounds only.
#
# Usage: tests/bench/run_cpu_overhead.sh [ROUNDS [SECONDS]]
#   ROUNDS   rounds of four runs each (default 7)
#   SECONDS  measured window per run (default 5)
# Environment:
#   BUILD_DIR  build directory (default <repo>/build-bench; configured and
#              built here if the benchmark binary is missing or stale)
#   THREADS    worker threads (default 2)
#   HZ         sampling rate of both profilers (default 100)
#   RAW_OUT    also keep the raw key=value lines in this file
#
# Overhead figures printed for each profiler:
#   wall:  work units per wall second against no profiler, median of the
#          per-round ratios (the issue's figure; on a shared machine it also
#          carries whatever else ran in that second);
#   cpu:   cost in CPU time: the slowdown of the workers per second of their
#          own CPU time (signal handler, unwinding, cache pollution) plus the
#          profiler's own threads' CPU time (collector, HTTP, symbolization,
#          encoding) relative to the workers' -- less sensitive to other
#          processes stealing the cores.
# and, for inprof, a third that is measured rather than inferred:
#   cost:  the signal handler's own time in the window (the profile's
#          "signal handler during the profile" comment) plus the other
#          threads' CPU, per worker CPU -- what the program measured itself,
#          without the kernel's share of delivering each signal and the
#          cache effects; steady on a busy machine.
# The process-to-process variation of this design (+-5% of throughput on a
# shared 2-core VM) is larger than a 1% effect; run_cpu_overhead_interleaved.sh
# measures paired ON/OFF slices inside one process instead.
#
# A round is quiet when, in each of its runs, the workers got at least 95% of
# THREADS cores for the whole window (on a 2-core machine any other busy
# process breaks that); the quiet-round medians are the cleaner figures.
set -euo pipefail

rounds=${1:-7}
seconds=${2:-5}
source "$(dirname "${BASH_SOURCE[0]}")/cpu_overhead_setup.sh"
cores=$(nproc)

raw=$(mktemp)
trap 'rm -f "$raw"' EXIT

echo "# cpu_overhead_benchmark: $rounds rounds x 4 modes, ${seconds}s window," \
  "$threads worker threads, $hz Hz"
echo "# $(date -u +%Y-%m-%dT%H:%M:%SZ)  nproc=$(nproc)" \
  "cpu=\"$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -1)\"" \
  "kernel=$(uname -r)"
echo "# loadavg at start: $(cut -d' ' -f1-3 /proc/loadavg)"

modes=(none inprof inprof_warm gperftools)
for ((r = 0; r < rounds; r++)); do
  for ((k = 0; k < ${#modes[@]}; k++)); do
    mode=${modes[$(((r + k) % ${#modes[@]}))]}
    line=$("$binary" --mode="$mode" --seconds="$seconds" --threads="$threads" \
      --hz="$hz" 2>/dev/null) || {
      echo "run failed: $binary --mode=$mode (rerun it to see why)" >&2
      exit 1
    }
    echo "round=$((r + 1)) $line" | tee -a "$raw"
  done
done
echo "# loadavg at end: $(cut -d' ' -f1-3 /proc/loadavg)"
if [[ -n ${RAW_OUT:-} ]]; then cp "$raw" "$RAW_OUT"; fi

awk -v rounds="$rounds" -v seconds="$seconds" -v threads="$threads" \
  -v hz="$hz" -v cores="$cores" \
  -f "$repo/tests/bench/stats.awk" -f <(cat <<'AWK'
{
  r = field("round"); m = field("mode")
  split("work_units_per_second units_per_worker_cpu_second worker_cpu_s " \
        "other_cpu_ms samples window_s handler_ms sampled_cpu_ms " \
        "split_err_pts", keys, " ")
  for (k in keys) v[r, m, keys[k]] = field(keys[k])
  usable = threads < cores ? threads : cores
  if (field("worker_cpu_s") < 0.95 * usable * field("window_s")) busy[r] = 1
}
# Prints the summary table over the rounds with use[r] set.
function summary(title, use,   i, m, r, n, a, w, c, s, q, wall, percpu, other,
                 window, wall_ratio, cpu_ratio, extra_cpu, sampled_cpu_s,
                 wall_ovh, cpu_ovh, samples, rate, used, handler, cost, h,
                 total, spliterr, t, e) {
  used = 0
  for (r = 1; r <= rounds; r++) used += use[r]
  printf "\n%s (%d rounds)\n", title, used
  if (used == 0) return
  printf "%-12s %11s %11s %9s %9s %8s %8s %9s %9s %10s %8s %8s %9s\n", "mode",
    "units/s", "units/cpu_s", "wall_ovh%", "cpu_ovh%", "samples", "hz/cpu_s",
    "other_ms", "window_s", "handler_ms", "cost%", "total%", "split_err"
  for (i = 1; i <= nmodes; i++) {
    m = modes[i]
    n = 0; for (r = 1; r <= rounds; r++) if (use[r]) a[++n] = v[r, m, "work_units_per_second"]
    wall = median(a, n)
    n = 0; for (r = 1; r <= rounds; r++) if (use[r]) a[++n] = v[r, m, "units_per_worker_cpu_second"]
    percpu = median(a, n)
    n = 0; for (r = 1; r <= rounds; r++) if (use[r]) a[++n] = v[r, m, "other_cpu_ms"]
    other = median(a, n)
    n = 0; for (r = 1; r <= rounds; r++) if (use[r]) a[++n] = v[r, m, "window_s"]
    window = median(a, n)
    wall_ovh = "-"; cpu_ovh = "-"; samples = "-"; rate = "-"
    handler = "-"; cost = "-"; total = "-"; spliterr = "-"
    if (v[1, m, "handler_ms"] != "") {
      # Measured by the program, not inferred from throughput: the
      # own time of the signal handler plus the CPU of the other threads,
      # per worker CPU.
      n = 0
      for (r = 1; r <= rounds; r++) {
        if (!use[r]) continue
        a[++n] = v[r, m, "handler_ms"]
        h[n] = v[r, m, "handler_ms"] + v[r, m, "other_cpu_ms"]
        h[n] = 100 * h[n] / (1000 * v[r, m, "worker_cpu_s"])
      }
      handler = sprintf("%.1f", median(a, n))
      cost = sprintf("%.3f", median(h, n))
    }
    if (m != "none") {
      # Paired per round: this mode against the none run of the same round.
      n = 0
      for (r = 1; r <= rounds; r++) {
        if (!use[r]) continue
        wall_ratio = v[r, m, "work_units_per_second"] / v[r, "none", "work_units_per_second"]
        cpu_ratio = v[r, m, "units_per_worker_cpu_second"] / v[r, "none", "units_per_worker_cpu_second"]
        extra_cpu = v[r, m, "other_cpu_ms"] / (1000 * v[r, m, "worker_cpu_s"])
        w[++n] = 100 * (1 - wall_ratio)
        c[n] = 100 * (1 - cpu_ratio / (1 + extra_cpu))
        s[n] = v[r, m, "samples"]
        # Worker CPU time while the profiler was sampling: the inprof
        # window also holds the encoding after the S seconds of sampling.
        sampled_cpu_s = v[r, m, "worker_cpu_s"] * seconds / v[r, m, "window_s"]
        q[n] = v[r, m, "samples"] / sampled_cpu_s
        # Accuracy: the CPU time the profile shows against the clocks of
        # the workers, and the worst share of samples of a worker against its
        # share of CPU time.
        t[n] = 100 * v[r, m, "sampled_cpu_ms"] / (1000 * sampled_cpu_s)
        e[n] = v[r, m, "split_err_pts"]
      }
      total = sprintf("%.1f", median(t, n))
      spliterr = e[1] == "" ? "-" : sprintf("%.2f", median(e, n))
      wall_ovh = sprintf("%.2f", median(w, n))
      cpu_ovh = sprintf("%.2f", median(c, n))
      samples = sprintf("%.0f", median(s, n))
      rate = sprintf("%.1f", median(q, n))
    }
    printf "%-12s %11.0f %11.0f %9s %9s %8s %8s %9.1f %9.3f %10s %8s %8s %9s\n",
      m, wall, percpu, wall_ovh, cpu_ovh, samples, rate, other, window,
      handler, cost, total, spliterr
  }
}
END {
  nmodes = split("none inprof inprof_warm gperftools", modes, " ")
  printf "\nper round: work units per wall second (per worker CPU second)\n"
  printf "%-7s", "round"
  for (i = 1; i <= nmodes; i++) printf " %21s", modes[i]
  printf "\n"
  for (r = 1; r <= rounds; r++) {
    printf "%-7s", r (busy[r] ? "" : "*")
    for (i = 1; i <= nmodes; i++)
      printf " %11.0f (%7.0f)", v[r, modes[i], "work_units_per_second"],
        v[r, modes[i], "units_per_worker_cpu_second"]
    printf "\n"
    all[r] = 1
    quiet[r] = busy[r] ? 0 : 1
  }
  printf "(* = quiet round: every run had the workers on >= 95%% of %d cores)\n", (threads < cores ? threads : cores)
  summary("medians, all rounds", all)
  summary("medians, quiet rounds only", quiet)
  printf "\nwall_ovh%%: median over rounds of 1 - (units/wall s) / (same of none, same round)\n"
  printf "cpu_ovh%%:  median over rounds of 1 - (units per worker CPU s ratio) /\n"
  printf "           (1 + profiler threads CPU / worker threads CPU)\n"
  printf "hz/cpu_s:  samples per worker CPU second while sampling (%d = %d Hz)\n", hz, hz
  printf "total%%:    CPU time the profile shows / the workers' CPU time while sampling\n"
  printf "           (inprof's includes its inprof.UnsampledCPU frames)\n"
  printf "split_err: largest difference, in points, between a worker's share of the\n"
  printf "           samples and its share of the workers' CPU time (stacks name the worker)\n"
  printf "other_ms:  CPU ms of non-worker threads in the window (agent, libprofiler)\n"
  printf "handler_ms: time inprof's signal handler ran in the window (the profile's comment)\n"
  printf "cost%%:     (handler_ms + other_ms) / worker CPU ms: the cost the program measured,\n"
  printf "           without the kernel's signal delivery; gperftools has no such figure\n"
}
AWK
) "$raw"
