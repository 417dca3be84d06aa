#!/usr/bin/env bash
# Builds the demo server (RelWithDebInfo, in build/) and runs it with its
# load generator on, so that a CPU profile shows something at once, and
# builds inprof-view beside it while it runs. It prints the commands to try;
# Ctrl-C stops it.
#
# Usage: scripts/demo.sh [demo_server flags...]   e.g. --port=9090 --duration=60
# Environment: INPROF_ADDR (agent address, default 127.0.0.1:6060), JOBS (-j,
#   default: the number of cores),
#   BUILD_DIR (default build).
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
build="${BUILD_DIR:-${root}/build}"

# The compiler and libraries first; `go tool pprof` and graphviz, which only
# the printed recipes use, install in the background while the demo builds
# (the test toolchain is scripts/test.sh's business).
bash "${root}/scripts/install-deps.sh" build
mkdir -p "${build}"
tools_log="${build}/install-tools.log"
bash "${root}/scripts/install-deps.sh" tools >"${tools_log}" 2>&1 &
tools_pid=$!
# Only the library, the demo and the viewer: no tests, no benchmarks.
cmake -S "${root}" -B "${build}" -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DINPROF_BUILD_EXAMPLES=ON -DINPROF_BUILD_TESTS=OFF -DINPROF_BUILD_BENCH=OFF \
  >/dev/null
cmake --build "${build}" -j "${JOBS:-$(nproc)}" --target demo_server
if ! wait "${tools_pid}"; then
  # The server is worth running without them; say what is missing and why.
  echo "demo.sh: installing go and graphviz failed (see ${tools_log});" \
    "the go tool pprof recipes below need them" >&2
fi
# inprof-view builds beside the running demo: serving comes first.
viewer_log="${build}/inprof-view-build.log"
cmake --build "${build}" -j "${JOBS:-$(nproc)}" --target inprof_view \
  >"${viewer_log}" 2>&1 &
addr="${INPROF_ADDR:-127.0.0.1:6060}"
if [[ "${addr}" =~ ^[^:]+:[1-9][0-9]*$ ]]; then
  echo "inprof-view (building in the background, log ${viewer_log}):" \
    "${build}/viewer/inprof-view top --seconds=10 ${addr}"
fi
exec "${build}/examples/demo_server" --load "$@"
