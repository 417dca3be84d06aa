#!/usr/bin/env bash
# The direct CPU cost of each profiler, measured the same way for inprof and
# gperftools: perf samples the whole process while cpu_overhead_benchmark
# takes a profile, and the samples inside the window are sorted into
#   handler: the workers inside a profiler's signal handler (inprof's
#            handler and unwinder, libprofiler, libunwind) and the system
#            calls it makes (process_vm_readv, gettid);
#   signal:  the kernel delivering the signal and returning from it
#            (arch_do_signal_or_restart, rt_sigreturn);
#   timer:   the kernel's CPU-timer bookkeeping that queues the signals;
#   other:   the threads that are not workers: the agent's (symbolizing,
#            encoding, the HTTP reply) and the main thread.
# Each is printed per 100 worker samples, i.e. in percent of the workers'
# CPU time. This is what a whole-run throughput comparison cannot resolve
# on a shared machine (process-to-process noise of +-3 %): both profilers'
# own work, counted by one outside observer, with the same rules. Cache
# pollution (the workload slowed after the handler ran) is not in it.
# The "none" mode is the control: its handler/signal/timer must be ~0.
#
# Usage: tests/bench/run_cpu_handler_cost.sh [ROUNDS [SECONDS]]
#   ROUNDS   rounds of three runs (none, inprof_warm, gperftools, rotating)
#            (default 5)
#   SECONDS  profile window (default 5)
# Environment:
#   BUILD_DIR   build directory (default <repo>/build-bench)
#   THREADS     worker threads (default 2)
#   HZ          sampling rate of both profilers (default 100)
#   PERF_FREQ   perf's own sampling rate (default 10000)
#   HEAP_RATE   inprof's heap sampling rate in bytes (default 0: off, as
#               gperftools' CPU profiler samples no heap; its samples unwind
#               with the handler's code and would count as handler here;
#               BENCHMARKS.md gives heap sampling its own budget)
# Needs perf (Debian: apt-get install linux-perf) and
# kernel.perf_event_paranoid <= 2 (the default) for a process of one's own.
set -euo pipefail

rounds=${1:-5}
seconds=${2:-5}
perf_freq=${PERF_FREQ:-10000}
heap_rate=${HEAP_RATE:-0}
if ! command -v perf > /dev/null; then
  echo "$0: perf is missing (Debian: apt-get install linux-perf)" >&2
  exit 2
fi
source "$(dirname "${BASH_SOURCE[0]}")/cpu_overhead_setup.sh"

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# Sorts the perf samples of one run (perf script output on stdin) that fall
# inside [start, end] and prints key=value counts.
classify() {
  awk -v start="$1" -v end="$2" -v main_tid="$3" '
  function flush(   is_worker) {
    if (!in_window) return
    is_worker = tid != main_tid && comm !~ /^inprof-/
    if (!is_worker) { other++; return }
    workers++
    if (handler) handler_n++
    else if (signal) signal_n++
    else if (timer) timer_n++
  }
  /^[^ \t]/ {
    flush()
    comm = $1; tid = $2; t = $3; sub(/:$/, "", t)
    in_window = (t + 0 >= start + 0 && t + 0 <= end + 0)
    handler = 0; signal = 0; timer = 0; leaf = 1
    next
  }
  /^[ \t]/ {
    line = $0
    if (line ~ /(libprofiler|libunwind)/ && leaf) handler = 1
    if (line ~ /inprof::internal::(\(anonymous namespace\)::)?(HandleCpuSignal|RecordOnAgentStack|RecordSample|CommitSample|CpuNanosSincePrevious|FastRead|AccessMem|CachedRead|KernelRead|CopyStack|FindProcInfo)/) handler = 1
    if (line ~ /inprof::internal::(RunOnAgentStack|StackWalker::Walk|Unwinder::|CfiRules::|SampleRing::|AddressMapHolder::)/) handler = 1
    if (line ~ /(__x64_sys_process_vm_readv|__x64_sys_gettid)/) handler = 1
    if (line ~ /(arch_do_signal_or_restart|__x64_sys_rt_sigreturn|__restore_rt)/) signal = 1
    if (line ~ /(run_posix_cpu_timers|posix_cpu_timers_work|handle_posix_cpu_timers|posix_cpu_timer_rearm|send_sigqueue|posixtimer_send_sigqueue)/) timer = 1
    leaf = 0
    next
  }
  END {
    flush()
    printf "worker_samples=%d handler=%d signal=%d timer=%d other=%d\n",
      workers, handler_n, signal_n, timer_n, other
  }'
}

echo "# perf-counted profiler cost: $rounds rounds, ${seconds}s window," \
  "$threads worker threads, $hz Hz, perf at $perf_freq Hz," \
  "inprof heap sampling rate $heap_rate"
echo "# $(date -u +%Y-%m-%dT%H:%M:%SZ)  nproc=$(nproc) kernel=$(uname -r)" \
  "loadavg=$(cut -d' ' -f1-3 /proc/loadavg)"
raw=$work/raw
modes=(none inprof_warm gperftools)
for ((r = 0; r < rounds; r++)); do
  for ((k = 0; k < ${#modes[@]}; k++)); do
    mode=${modes[$(((r + k) % ${#modes[@]}))]}
    perf record -q -k CLOCK_MONOTONIC -e cpu-clock -F "$perf_freq" -g \
      -o "$work/perf.data" -- "$binary" --mode="$mode" --seconds="$seconds" \
      --threads="$threads" --hz="$hz" --heap_rate="$heap_rate" \
      > "$work/line" 2> /dev/null || {
      echo "run failed: $binary --mode=$mode (rerun it to see why)" >&2
      exit 1
    }
    line=$(tail -1 "$work/line")
    get() { sed -n "s/.* $1=\([^ ]*\).*/\1/p" <<< "$line"; }
    counts=$(perf script -i "$work/perf.data" -F comm,tid,time,ip,sym,dso \
      2> /dev/null | classify "$(get window_start_s)" "$(get window_end_s)" \
      "$(get main_tid)")
    echo "round=$((r + 1)) mode=$mode $counts" | tee -a "$raw"
  done
done

awk \
  -f "$repo/tests/bench/stats.awk" -f <(cat <<'AWK'
{
  m = field("mode"); w = field("worker_samples")
  if (w == 0) next
  n[m]++
  h[m, n[m]] = 100 * field("handler") / w
  s[m, n[m]] = 100 * field("signal") / w
  t[m, n[m]] = 100 * field("timer") / w
  o[m, n[m]] = 100 * field("other") / w
  c[m, n[m]] = h[m, n[m]] + s[m, n[m]] + t[m, n[m]] + o[m, n[m]]
  by_round[m, field("round")] = c[m, n[m]]
  if (field("round") + 0 > last_round) last_round = field("round") + 0
}
END {
  printf "\nmedians over rounds, %% of the workers CPU time\n"
  printf "%-12s %6s %9s %9s %9s %9s %9s\n", "mode", "runs", "handler%",
    "signal%", "timer%", "other%", "total%"
  split("none inprof_warm gperftools", modes, " ")
  for (i = 1; i <= 3; i++) {
    m = modes[i]
    for (k = 1; k <= n[m]; k++) { a1[k] = h[m, k]; a2[k] = s[m, k]; a3[k] = t[m, k]; a4[k] = o[m, k]; a5[k] = c[m, k] }
    printf "%-12s %6d %9.3f %9.3f %9.3f %9.3f %9.3f\n", m, n[m],
      median(a1, n[m]), median(a2, n[m]), median(a3, n[m]), median(a4, n[m]),
      median(a5, n[m])
  }
  printf "total%%: the median of each run's sum (not the sum of the medians)\n"
  # The same round's two runs, side by side: what the rounds' spread
  # (machine load moving between rounds) leaves out of the difference.
  pairs = 0; below = 0
  for (r = 1; r <= last_round; r++) {
    if (!(("inprof_warm", r) in by_round) || !(("gperftools", r) in by_round)) continue
    d[++pairs] = by_round["inprof_warm", r] - by_round["gperftools", r]
    if (d[pairs] < 0) below++
  }
  if (pairs > 0) {
    printf "paired by round, inprof_warm - gperftools total%%: median %.3f," \
      " inprof below in %d of %d rounds\n", median(d, pairs), below, pairs
  }
}
AWK
) "$raw"
