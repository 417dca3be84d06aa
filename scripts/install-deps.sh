#!/usr/bin/env bash
# Installs the Debian 12 packages inprof needs to build, test and run its
# demo -- only those that are missing (checked with dpkg-query), with one
# `apt-get update` and no questions asked.
#
# Note: fresh machines ship LLVM's libunwind-14-dev, which conflicts with
# libunwind-dev (the nongnu libunwind inprof's sampler uses). Installing
# libunwind-dev makes apt remove libunwind-14-dev; that is expected.
set -euo pipefail

packages=(
  build-essential cmake pkg-config git
  libunwind-dev            # pkg-config libunwind-generic: the unwinder
  libdw-dev                # pkg-config libdw: file:line symbolization
  zlib1g-dev               # gzip of profile.proto
  libcpp-httplib-dev       # pkg-config cpp-httplib: the HTTP server
  libgoogle-perftools-dev  # tcmalloc hooks; libprofiler for the benchmark
  libfmt-dev
  libgtest-dev libgmock-dev libbenchmark-dev
  golang-go                # `go tool pprof`, the real consumer in the tests
  prometheus               # promtool + a real server scraping /metrics in tests
  clang clang-format libclang-rt-14-dev  # the fuzz phase: libFuzzer
  chromium                 # headless browser test of the HTML flame graph
)

is_installed() {
  [[ "$(dpkg-query -W -f='${db:Status-Abbrev}' "$1" 2>/dev/null)" == ii* ]]
}

missing=()
for package in "${packages[@]}"; do
  is_installed "${package}" || missing+=("${package}")
done
if [[ ${#missing[@]} -eq 0 ]]; then
  echo "install-deps: all ${#packages[@]} packages are installed"
  exit 0
fi

sudo=()
if [[ "${EUID}" -ne 0 ]]; then
  if ! command -v sudo >/dev/null; then
    echo "install-deps: missing ${missing[*]}; run as root or install sudo" >&2
    exit 1
  fi
  sudo=(sudo)
fi

echo "install-deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt=(apt-get -o DPkg::Lock::Timeout=300 -q)
"${sudo[@]}" env DEBIAN_FRONTEND=noninteractive "${apt[@]}" update
"${sudo[@]}" env DEBIAN_FRONTEND=noninteractive "${apt[@]}" install -y \
  --no-install-recommends "${missing[@]}"

still_missing=()
for package in "${missing[@]}"; do
  is_installed "${package}" || still_missing+=("${package}")
done
if [[ ${#still_missing[@]} -ne 0 ]]; then
  echo "install-deps: still missing after apt-get: ${still_missing[*]}" >&2
  exit 1
fi
echo "install-deps: done"
