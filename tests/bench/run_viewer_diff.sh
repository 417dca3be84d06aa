#!/usr/bin/env bash
# inprof-view diff against go tool pprof -top -diff_base on the same two
# large CPU profiles (make_large_profiles.cc: 60,000 samples each by
# default), alternating the two tools round by round; prints each round's
# wall times and the medians. See BENCHMARKS.md "Viewer".
#
# Usage: tests/bench/run_viewer_diff.sh [ROUNDS [SAMPLES]]
# Environment: BUILD_DIR (default <repo>/build-bench)
set -euo pipefail
repo=$(cd "$(dirname "$0")/../.." && pwd)
build=${BUILD_DIR:-${repo}/build-bench}
rounds=${1:-11}
samples=${2:-60000}
cmake -S "${repo}" -B "${build}" -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DINPROF_BUILD_BENCH=ON -DINPROF_BUILD_TESTS=ON >/dev/null
cmake --build "${build}" --target make_large_profiles inprof_view -j2 >/dev/null
work=$(mktemp -d)
trap 'rm -rf "${work}"' EXIT
"${build}/tests/bench/make_large_profiles" "${work}/base.pb.gz" \
  "${work}/new.pb.gz" "${samples}"
export HOME="${work}" GOCACHE="${work}/gocache" PPROF_TMPDIR="${work}/pprof"
view=("${build}/viewer/inprof-view" diff "${work}/base.pb.gz" "${work}/new.pb.gz")
pprof=(go tool pprof -top -diff_base="${work}/base.pb.gz" "${work}/new.pb.gz")
"${view[@]}" >/dev/null
"${pprof[@]}" >/dev/null 2>&1  # warm: go builds nothing, but caches

ms() { local s e; s=$(date +%s%N); "$@" >/dev/null 2>&1; e=$(date +%s%N); echo $(((e - s) / 1000000)); }
median() { sort -n | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }

echo "# $(date -u +%FT%TZ) nproc=$(nproc) loadavg $(cut -d' ' -f1-3 /proc/loadavg)"
echo "# profiles: $(du -k "${work}/base.pb.gz" | cut -f1) KiB + $(du -k "${work}/new.pb.gz" | cut -f1) KiB gzipped, ${samples} samples each"
printf '%-6s %12s %12s %8s\n' round inprof_ms pprof_ms ratio
: >"${work}/view" ; : >"${work}/pprof"
for ((r = 1; r <= rounds; r++)); do
  if ((r % 2)); then
    v=$(ms "${view[@]}"); p=$(ms "${pprof[@]}")
  else
    p=$(ms "${pprof[@]}"); v=$(ms "${view[@]}")
  fi
  echo "${v}" >>"${work}/view"; echo "${p}" >>"${work}/pprof"
  printf '%-6s %12s %12s %8s\n' "${r}" "${v}" "${p}" \
    "$(awk -v a="${p}" -v b="${v}" 'BEGIN {printf "%.1fx", a / b}')"
done
v=$(median <"${work}/view"); p=$(median <"${work}/pprof")
printf '%-6s %12s %12s %8s\n' median "${v}" "${p}" \
  "$(awk -v a="${p}" -v b="${v}" 'BEGIN {printf "%.1fx", a / b}')"
