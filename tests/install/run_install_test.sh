#!/usr/bin/env bash
# Proves that inprof::agent works for a consumer both ways a user can get it:
#   1. cmake --install into a temporary prefix + find_package(inprof CONFIG);
#   2. add_subdirectory(<inprof checkout>).
# Usage: tests/install/run_install_test.sh [--keep]
#   --keep  keep the temporary directory (printed) for inspection.
# Environment: JOBS (default 2), CMAKE_BUILD_TYPE (default RelWithDebInfo),
#   INPROF_INSTALL_TEST_DIR (work directory; default a fresh mktemp -d).
# Exits 0 when both consumers build and print OK, 1 otherwise.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
consumer_src="${root}/tests/install"
jobs="${JOBS:-2}"
build_type="${CMAKE_BUILD_TYPE:-RelWithDebInfo}"
keep=0
for arg in "$@"; do
  case "${arg}" in
    --keep) keep=1 ;;
    -h|--help) awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "${BASH_SOURCE[0]}"; exit 0 ;;
    *) echo "run_install_test.sh: unknown argument '${arg}' (try --help)" >&2; exit 2 ;;
  esac
done

if [[ -n "${INPROF_INSTALL_TEST_DIR:-}" ]]; then
  work="${INPROF_INSTALL_TEST_DIR}"
  rm -rf "${work}"
  mkdir -p "${work}"
else
  work="$(mktemp -d -t inprof-install-test.XXXXXX)"
fi
cleanup() {
  if [[ "${keep}" == 1 ]]; then
    echo "install test: kept ${work}"
  else
    rm -rf "${work}"
  fi
}
trap cleanup EXIT

log="${work}/step.log"
current_step=""
# step <description> <command...>: runs the command with its output in a log
# that is shown only when the command fails.
step() {
  current_step="$1"
  shift
  echo "install test: ${current_step}"
  if ! "$@" >"${log}" 2>&1; then
    echo "---- output of: $* ----" >&2
    tail -n 60 "${log}" >&2
    echo "----" >&2
    echo "install test: FAILED at step: ${current_step}" >&2
    exit 1
  fi
}
fail() {
  echo "install test: FAILED: $*" >&2
  exit 1
}

prefix="${work}/prefix"
common=(-DCMAKE_BUILD_TYPE="${build_type}")

step "configure inprof (library only)" \
  cmake -S "${root}" -B "${work}/inprof-build" "${common[@]}" \
    -DINPROF_BUILD_TESTS=OFF -DINPROF_BUILD_EXAMPLES=OFF \
    -DINPROF_BUILD_BENCH=OFF -DINPROF_INSTALL=ON
step "build inprof" cmake --build "${work}/inprof-build" -j "${jobs}"
step "install inprof to ${prefix}" \
  cmake --install "${work}/inprof-build" --prefix "${prefix}"

for f in include/inprof/agent.h include/inprof/status.h include/inprof/export.h \
    include/inprof/mutex.h include/inprof/request.h; do
  [[ -f "${prefix}/${f}" ]] || fail "${f} was not installed under ${prefix}"
done
config="$(find "${prefix}" -name inprofConfig.cmake -print -quit)"
[[ -n "${config}" ]] || fail "inprofConfig.cmake was not installed under ${prefix}"
for f in inprofConfigVersion.cmake inprofTargets.cmake; do
  [[ -f "$(dirname "${config}")/${f}" ]] || fail "${f} missing next to ${config}"
done
[[ -n "$(find "${prefix}" -name 'libinprof.*' -print -quit)" ]] ||
  fail "libinprof was not installed under ${prefix}"
[[ -n "$(find "${prefix}" -name libinprof_preload.so -path '*/lib*/*' -print -quit)" ]] ||
  fail "libinprof_preload.so was not installed under ${prefix}/lib"
# The viewer is installed and runs from the prefix.
[[ -x "${prefix}/bin/inprof-view" ]] ||
  fail "bin/inprof-view was not installed under ${prefix}"
"${prefix}/bin/inprof-view" help | grep -q "usage: inprof-view" ||
  fail "the installed inprof-view does not run"
# Private headers and object libraries must stay private.
[[ -z "$(find "${prefix}" -path '*agent/*' -print -quit)" ]] ||
  fail "private agent/ files were installed under ${prefix}"

# run_consumer <mode> <cmake args...>
run_consumer() {
  local mode="$1"
  shift
  local dir="${work}/consumer-${mode}"
  step "configure consumer (INPROF_MODE=${mode})" \
    cmake -S "${consumer_src}" -B "${dir}" "${common[@]}" \
      -DINPROF_MODE="${mode}" "$@"
  step "build consumer (INPROF_MODE=${mode})" cmake --build "${dir}" -j "${jobs}"
  local out program
  for program in consumer consumer_heap consumer_contention; do
    if ! out="$(cd "${dir}" && timeout 60 "./${program}" 2>&1)"; then
      fail "${program} (INPROF_MODE=${mode}) failed: ${out}"
    fi
    [[ "${out}" == "OK" ]] ||
      fail "${program} (INPROF_MODE=${mode}) printed '${out}' instead of OK"
  done
  if [[ "${mode}" == package ]]; then
    # The installed interposer, preloaded into a program that does not link it.
    local preload="${prefix}/lib/libinprof_contention.so"
    [[ -f "${preload}" ]] || preload="$(find "${prefix}" -name libinprof_contention.so -print -quit)"
    [[ -f "${preload}" ]] || fail "libinprof_contention.so was not installed under ${prefix}"
    if ! out="$(cd "${dir}" && LD_PRELOAD="${preload}" timeout 60 ./consumer_std 2>&1)"; then
      fail "consumer_std with LD_PRELOAD=${preload} failed: ${out}"
    fi
    [[ "${out}" == "OK" ]] ||
      fail "consumer_std with LD_PRELOAD printed '${out}' instead of OK"
  fi
  # inprof::preload names libinprof_preload.so (the installed one for a
  # package): a pipeline under it prints and exits as without, silently.
  local preload_so
  preload_so="$(cat "${dir}/preload_path.txt")"
  [[ -f "${preload_so}" && "$(basename "${preload_so}")" == libinprof_preload.so ]] ||
    fail "inprof::preload names '${preload_so}' (INPROF_MODE=${mode})"
  if [[ "${mode}" == package && "${preload_so}" != "${prefix}/"* ]]; then
    fail "inprof::preload names '${preload_so}', outside ${prefix}"
  fi
  local status=0 err
  out="$(LD_PRELOAD="${preload_so}" INPROF_ADDR=127.0.0.1:0 timeout 60 \
    sh -c 'echo hi | tr a-z A-Z; exit 3' 2>"${work}/preload.err")" || status=$?
  err="$(cat "${work}/preload.err")"
  [[ "${out}" == HI && "${status}" == 3 && -z "${err}" ]] ||
    fail "sh under LD_PRELOAD=${preload_so} printed '${out}', exited ${status}, stderr '${err}'"
  echo "install test: consumer (INPROF_MODE=${mode}): OK"
}

run_consumer package -DCMAKE_PREFIX_PATH="${prefix}"
run_consumer subdirectory -DINPROF_SOURCE_DIR="${root}"

echo "install test: PASSED (package and subdirectory)"
