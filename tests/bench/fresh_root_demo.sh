#!/usr/bin/env bash
# How long the README's first command (./scripts/demo.sh) takes to serve on a
# fresh Debian 12 root (issue 15, item 6: target <= 120 s): a minimal
# bookworm made by debootstrap, the committed tree (git archive HEAD) copied
# into it, the demo run in a chroot until it prints its recipes. Every run
# starts from the same untouched root (a tarball made once), so apt installs
# everything the demo needs each time.
#
# Usage (as root): tests/bench/fresh_root_demo.sh [WORK_DIR]
#   WORK_DIR  where the root and its tarball live (default /tmp/inprof-fresh-root)
# Needs debootstrap (apt-get install debootstrap) and network access to the
# Debian mirror. Prints "serving after N s". The machine should be otherwise
# idle: the build is most of the time and shares the cores.
set -euo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
work="${1:-/tmp/inprof-fresh-root}"
root="${work}/root"
pristine="${work}/pristine.tar"
mkdir -p "${work}"

unmount() { umount -R "${root}/sys" "${root}/dev" "${root}/proc" 2>/dev/null || true; }
trap unmount EXIT

if [[ ! -f "${pristine}" ]]; then
  unmount
  rm -rf "${root}"
  debootstrap --variant=minbase bookworm "${root}" http://deb.debian.org/debian \
    >"${work}/debootstrap.log"
  tar -C "${root}" -cf "${pristine}" .
fi

unmount
rm -rf "${root}"
mkdir -p "${root}"
tar -C "${root}" -xf "${pristine}"
mount -t proc proc "${root}/proc"
mount --rbind /dev "${root}/dev"
mount --rbind /sys "${root}/sys"
cp /etc/resolv.conf "${root}/etc/resolv.conf"
mkdir -p "${root}/root/inprof"
git -C "${repo}" archive HEAD | tar -xf - -C "${root}/root/inprof"

log="${work}/demo.log"
start=${SECONDS}
chroot "${root}" /bin/bash -c \
  'cd /root/inprof && ./scripts/demo.sh --port=0 --duration=30' >"${log}" 2>&1 &
demo=$!
served=""
while kill -0 "${demo}" 2>/dev/null; do
  if grep -q "go tool pprof -top" "${log}"; then
    served=$((SECONDS - start))
    echo "serving after ${served} s"
    break
  fi
  sleep 1
done
wait "${demo}" || true
[[ -n "${served}" ]] || { echo "the demo never served; see ${log}" >&2; exit 1; }
