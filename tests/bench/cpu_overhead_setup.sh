# Sourced by the scripts that run cpu_overhead_benchmark
# (run_cpu_overhead.sh, run_cpu_handler_cost.sh) after they set `rounds` and
# `seconds`: checks them, reads THREADS, HZ and BUILD_DIR, configures the
# build directory if needed and builds the benchmark. Sets repo, build_dir,
# binary, threads and hz.
if ! [[ $rounds =~ ^[1-9][0-9]*$ && $seconds =~ ^[1-9][0-9]*$ ]]; then
  echo "usage: $0 [ROUNDS [SECONDS]]  (positive integers)" >&2
  exit 2
fi
threads=${THREADS:-2}
hz=${HZ:-100}
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
build_dir=${BUILD_DIR:-$repo/build-bench}
binary=$build_dir/tests/bench/cpu_overhead_benchmark
if [[ ! -f $build_dir/CMakeCache.txt ]]; then
  cmake -S "$repo" -B "$build_dir" -DCMAKE_BUILD_TYPE=RelWithDebInfo \
    -DINPROF_BUILD_TESTS=ON -DINPROF_BUILD_BENCH=ON >&2
fi
cmake --build "$build_dir" -j2 --target cpu_overhead_benchmark >&2
