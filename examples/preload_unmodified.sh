#!/usr/bin/env bash
# Profile a program you cannot rebuild: Debian's redis-server, unmodified,
# with libinprof_preload.so in LD_PRELOAD (README, "Attach to an unmodified
# binary"). Starts the server in the foreground with the agent, loads it
# with redis-benchmark, and shows its CPU profile with go tool pprof; then
# stops both.
#
# Usage: examples/preload_unmodified.sh [SECONDS]
#   SECONDS  length of the CPU profile (default 5)
# Environment:
#   PRELOAD     libinprof_preload.so (default: /usr/local/lib/, else the
#               build tree's build/agent/)
#   REDIS_PORT  redis-server's port (default 6379)
#   INPROF_ADDR the agent's address (default 127.0.0.1:6060)
# Needs: apt-get install redis-server redis-tools golang-go
set -euo pipefail

seconds="${1:-5}"
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
preload="${PRELOAD:-/usr/local/lib/libinprof_preload.so}"
[[ -f "${preload}" ]] || preload="${root}/build/agent/libinprof_preload.so"
[[ -f "${preload}" ]] ||
  { echo "libinprof_preload.so not found: build target inprof_preload, or set PRELOAD" >&2; exit 2; }
redis_port="${REDIS_PORT:-6379}"
agent_addr="${INPROF_ADDR:-127.0.0.1:6060}"

# 1. The server, in the foreground (--daemonize no: a daemon's fork leaves
#    the agent behind in the parent that exits). INPROF_PRELOAD_PROGRAM
#    makes redis-server, not a wrapper around it, the process that serves.
LD_PRELOAD="${preload}" INPROF_ADDR="${agent_addr}" \
  INPROF_PRELOAD_PROGRAM=redis-server \
  redis-server --port "${redis_port}" --bind 127.0.0.1 --save '' \
  --appendonly no --daemonize no --io-threads 2 >/dev/null &
server=$!
trap 'kill "${server}" "${load:-}" 2>/dev/null || true; wait 2>/dev/null || true' EXIT
until redis-cli -p "${redis_port}" ping >/dev/null 2>&1; do sleep 0.1; done

# 2. Its own load tool.
redis-benchmark -p "${redis_port}" -t set,get -n 100000000 -c 50 -q \
  --threads 1 >/dev/null 2>&1 &
load=$!

# 3. The profile, as from a Go server.
go tool pprof -top "http://${agent_addr}/debug/pprof/profile?seconds=${seconds}" |
  head -n 25
