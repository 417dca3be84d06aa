#!/usr/bin/env bash
# Installs the Debian 12 packages one of inprof's commands needs -- only those
# that are missing (checked with dpkg-query), with at most one
# `apt-get update` and no questions asked.
#
# Usage: scripts/install-deps.sh [--no-update] SET...
#   build   what building the library, the demo server and inprof-view needs
#   tools   what the demo's printed recipes use: `go tool pprof`, and graphviz
#           for the graph view of `go tool pprof -http`
#   test    everything scripts/test.sh needs (build and tools included)
#   --no-update  never run `apt-get update` (another install just did)
# Without a SET: test. The package lists need `apt-get update` only when apt
# has none yet, or when installing from the lists it has fails.
#
# Note: fresh machines ship LLVM's libunwind-14-dev, which conflicts with
# libunwind-dev (the nongnu libunwind inprof's sampler uses). Installing
# libunwind-dev makes apt remove libunwind-14-dev; that is expected.
set -euo pipefail

build_packages=(
  g++ make cmake pkg-config
  libunwind-dev            # pkg-config libunwind-generic: the unwinder
  libdw-dev                # pkg-config libdw: file:line symbolization
  zlib1g-dev               # gzip of profile.proto
  libcpp-httplib-dev       # pkg-config cpp-httplib: the HTTP server
  libgoogle-perftools-dev  # tcmalloc (the demo runs on it); libprofiler
)
tools_packages=(
  golang-go                # `go tool pprof`
  graphviz                 # `dot`: the graph view of `go tool pprof -http`
)
test_packages=(
  git
  ninja-build              # scripts/test.sh builds with Ninja: CI's time budget
  libgtest-dev libgmock-dev libbenchmark-dev
  prometheus               # promtool + a real server scraping /metrics in tests
  clang clang-format libclang-rt-14-dev  # the fuzz phase: libFuzzer
  chromium                 # headless browser test of the HTML flame graph
  redis-server redis-tools # an unmodified Debian server under LD_PRELOAD
)

update=1
packages=()
for arg in "$@"; do
  case "${arg}" in
    --no-update) update=0 ;;
    build) packages+=("${build_packages[@]}") ;;
    tools) packages+=("${tools_packages[@]}") ;;
    test) packages+=("${build_packages[@]}" "${tools_packages[@]}" "${test_packages[@]}") ;;
    *)
      echo "install-deps: unknown argument '${arg}'" >&2
      echo "usage: scripts/install-deps.sh [--no-update] build|tools|test..." >&2
      exit 2
      ;;
  esac
done
if [[ ${#packages[@]} -eq 0 ]]; then
  packages=("${build_packages[@]}" "${tools_packages[@]}" "${test_packages[@]}")
fi

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
apt=("${sudo[@]}" env DEBIAN_FRONTEND=noninteractive
  apt-get -o DPkg::Lock::Timeout=300 -q)
install() {
  "${apt[@]}" install -y --no-install-recommends "${missing[@]}"
}
has_lists() {
  compgen -G "/var/lib/apt/lists/*_Packages*" >/dev/null
}
if [[ "${update}" == 1 ]] && ! has_lists; then
  "${apt[@]}" update
  install
elif ! install; then
  [[ "${update}" == 1 ]] || exit 1
  echo "install-deps: installing from the present package lists failed;" \
    "updating them" >&2
  "${apt[@]}" update
  install
fi

still_missing=()
for package in "${missing[@]}"; do
  is_installed "${package}" || still_missing+=("${package}")
done
if [[ ${#still_missing[@]} -ne 0 ]]; then
  echo "install-deps: still missing after apt-get: ${still_missing[*]}" >&2
  exit 1
fi
echo "install-deps: done"
