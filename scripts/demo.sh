#!/usr/bin/env bash
# Builds the demo server (RelWithDebInfo, in build/) and runs it with its
# load generator on, so that a CPU profile shows something at once, and
# builds inprof-view beside it. It prints the commands to try; Ctrl-C stops
# it.
#
# Usage: scripts/demo.sh [demo_server flags...]   e.g. --port=9090 --duration=60
# Environment: INPROF_ADDR (agent address, default 127.0.0.1:6060), JOBS (-j),
#   BUILD_DIR (default build).
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
build="${BUILD_DIR:-${root}/build}"

bash "${root}/scripts/install-deps.sh"
# Only the library and the examples: the demo needs no test dependency.
cmake -S "${root}" -B "${build}" -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DINPROF_BUILD_EXAMPLES=ON -DINPROF_BUILD_TESTS=OFF -DINPROF_BUILD_BENCH=OFF \
  >/dev/null
cmake --build "${build}" -j "${JOBS:-2}" --target demo_server inprof_view
addr="${INPROF_ADDR:-127.0.0.1:6060}"
if [[ "${addr}" =~ ^[^:]+:[1-9][0-9]*$ ]]; then
  echo "inprof-view: ${build}/viewer/inprof-view top --seconds=10 ${addr}"
fi
exec "${build}/examples/demo_server" --load "$@"
