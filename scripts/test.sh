#!/usr/bin/env bash
# Runs every check CI runs (.ci/run calls this), in phases:
#   1. format   clang-format --dry-run --Werror on every .h/.cc in git
#   2. build    RelWithDebInfo with -Werror (build/), ctest with BURNERS (default 2)
#               CPU-burning processes running beside it: tests judge by the CPU
#               time the program measured, never by the clock, and must pass
#               on a busy machine
#   3. asan     AddressSanitizer + UBSan, less its per-access checks (build-asan/,
#               -O1 -g1), ctest -LE nosan
#   4. tsan     ThreadSanitizer (build-tsan/, -O1 -g1), ctest -LE nosan
#   5. fuzz     clang + libFuzzer builds of tests/fuzz/profile_fuzzer and cfi_fuzzer
#               (build-fuzz/), FUZZ_SECONDS in all (default 60: 40 s profile_fuzzer
#               from tests/fuzz/corpus, 20 s cfi_fuzzer from tests/fuzz/cfi_corpus)
#   6. install  tests/install/run_install_test.sh (find_package + add_subdirectory)
# Missing Debian packages are installed first (scripts/install-deps.sh).
# Ends with "N passed, N failed" (ctest cases, plus one per format/install
# phase, plus one failure per configure/build error); exits 1 on any failure.
#
# Usage: scripts/test.sh [--quick] [--no-deps]
#   --quick    skip the sanitizer phases (3 and 4), for local iteration
#   --no-deps  do not run scripts/install-deps.sh
# Environment: JOBS (parallelism for builds and ctest, default 2); BURNERS
#   (CPU burners beside the build phase's tests, default 2, 0 for none);
#   BUILD_DIR (default build; the sanitizer builds use BUILD_DIR-asan and
#   BUILD_DIR-tsan); INPROF_TEST_CMAKE_ARGS (extra arguments for every
#   configure, e.g. "-DCMAKE_CXX_COMPILER=clang++"); CMAKE_GENERATOR (for
#   new build trees; default Ninja when installed, else CMake's default).
set -uo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "${root}" || exit 1
jobs="${JOBS:-2}"
build_dir="${BUILD_DIR:-build}"
read -r -a extra_cmake_args <<<"${INPROF_TEST_CMAKE_ARGS:-}"
quick=0
deps=1
for arg in "$@"; do
  case "${arg}" in
    --quick) quick=1 ;;
    --no-deps) deps=0 ;;
    -h|--help) awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "${BASH_SOURCE[0]}"; exit 0 ;;
    *)
      echo "test.sh: unknown argument '${arg}'" >&2
      echo "usage: scripts/test.sh [--quick] [--no-deps]" >&2
      exit 2
      ;;
  esac
done

if [[ "${deps}" == 1 ]]; then
  bash scripts/install-deps.sh test || { echo "test.sh: installing dependencies failed" >&2; exit 1; }
fi

# Ninja when it is installed (install-deps.sh test installs it): it keeps
# both cores busy with less per-target overhead than make, and CI's time
# budget is tight. CMake reads CMAKE_GENERATOR only for a new build tree; one
# configured before keeps its generator.
if [[ -z "${CMAKE_GENERATOR:-}" ]] && command -v ninja >/dev/null; then
  export CMAKE_GENERATOR=Ninja
fi

export ASAN_OPTIONS="halt_on_error=1:abort_on_error=0:detect_leaks=1:strict_init_order=1"
export UBSAN_OPTIONS="halt_on_error=1:print_stacktrace=1"
export TSAN_OPTIONS="halt_on_error=1:second_deadlock_stack=1:report_signal_unsafe=1:suppressions=$PWD/tests/sanitizers/tsan.supp"
export CTEST_OUTPUT_ON_FAILURE=1

total_passed=0
total_failed=0
summary=()
failures=()
phase_passed=0
phase_failed=0

banner() { printf '\n==== %s ====\n' "$*"; }

# run_phase <name> <function>: runs the phase, times it and adds its counts.
run_phase() {
  local name="$1" fn="$2"
  phase_passed=0
  phase_failed=0
  banner "phase ${name}"
  local start=${SECONDS}
  "${fn}"
  local elapsed=$((SECONDS - start))
  total_passed=$((total_passed + phase_passed))
  total_failed=$((total_failed + phase_failed))
  local verdict="ok"
  [[ "${phase_failed}" -ne 0 ]] && verdict="FAILED"
  summary+=("$(printf '%-8s %-6s %4d passed %4d failed %4dm%02ds' "${name}" \
    "${verdict}" "${phase_passed}" "${phase_failed}" $((elapsed / 60)) $((elapsed % 60)))")
}

phase_format() {
  local files=() f bad=()
  if git rev-parse --is-inside-work-tree >/dev/null 2>&1; then
    # Tracked files plus new ones not yet added (ignored files excluded).
    while IFS= read -r f; do
      [[ -f "${f}" ]] && files+=("${f}")
    done < <(git ls-files --cached --others --exclude-standard -- '*.h' '*.cc' | sort -u)
  else
    while IFS= read -r f; do files+=("${f}"); done < <(
      find agent include report tests examples viewer -name '*.h' -o -name '*.cc' 2>/dev/null | sort)
  fi
  for f in "${files[@]}"; do
    clang-format --dry-run --Werror "${f}" >/dev/null 2>&1 || bad+=("${f}")
  done
  if [[ ${#bad[@]} -eq 0 ]]; then
    echo "format: ${#files[@]} files are clang-formatted"
    phase_passed=1
  else
    echo "format: ${#bad[@]} of ${#files[@]} files need clang-format -i:" >&2
    printf '  %s\n' "${bad[@]}" >&2
    clang-format --dry-run "${bad[0]}" 2>&1 | head -n 20 >&2
    phase_failed=1
  fi
}

# Busy-machine check: with burners=N set by the phase, N processes spin on
# the CPU while its tests run (killed when they end, or when this script
# exits).
burners=0
burner_pids=()
start_burners() {
  local i
  for ((i = 0; i < burners; i++)); do
    bash -c 'while :; do :; done' &
    burner_pids+=($!)
  done
  if [[ "${burners}" -gt 0 ]]; then
    echo "test.sh: ${burners} CPU burners run beside the tests"
  fi
}
stop_burners() {
  if [[ ${#burner_pids[@]} -gt 0 ]]; then
    kill "${burner_pids[@]}" 2>/dev/null
    wait "${burner_pids[@]}" 2>/dev/null
  fi
  burner_pids=()
}
trap stop_burners EXIT

# build_and_ctest <build dir> <ctest args...> -- <cmake args...>
# collect_failures <ctest log>: keeps, for the summary, the last lines each
# failed test printed. CI shows only the tail of this script's output; the
# failing assertion must be in it.
collect_failures() {
  local log="$1" name
  while IFS= read -r name; do
    failures+=("--- ${log}: ${name}")
    failures+=("$(awk -v name="${name}" '
      $0 ~ ("Test +#[0-9]+: " name " ") && /\*\*\*|Failed|Exception|Timeout/ {on = 1; next}
      on && (/^ *Start +[0-9]+:/ || /^ *[0-9]+\/[0-9]+ Test +#/) {on = 0}
      on {print}' "${log}" | grep -v '^\s*$' | tail -n 25)")
  done < <(sed -n '/The following tests FAILED:/,$p' "${log}" |
    sed -nE 's/^[[:space:]]*[0-9]+ - ([^ ]+) .*/\1/p')
}

build_and_ctest() {
  local dir="$1"
  shift
  local ctest_args=()
  while [[ $# -gt 0 && "$1" != "--" ]]; do ctest_args+=("$1"); shift; done
  shift
  if ! cmake -S "${root}" -B "${dir}" "$@" "${extra_cmake_args[@]}"; then
    echo "test.sh: configure of ${dir} failed" >&2
    phase_failed=1
    return
  fi
  # One job more than ctest's: a link or a header read leaves a core idle.
  if ! cmake --build "${dir}" -j "$((jobs + 1))"; then
    echo "test.sh: build of ${dir} failed" >&2
    phase_failed=1
    return
  fi
  local log="${dir}/ctest.log"
  start_burners
  ctest --test-dir "${dir}" --output-on-failure --no-tests=error -j "${jobs}" \
    "${ctest_args[@]}" 2>&1 | tee "${log}"
  local rc=${PIPESTATUS[0]}
  stop_burners
  local line total failed
  line="$(grep -Eo '[0-9]+ tests? failed out of [0-9]+' "${log}" | tail -n 1)"
  if [[ -n "${line}" ]]; then
    failed="$(awk '{print $1}' <<<"${line}")"
    total="$(awk '{print $NF}' <<<"${line}")"
    phase_passed=$((total - failed))
    phase_failed=${failed}
  fi
  collect_failures "${log}"
  # ctest failed without a count (no tests, crash of ctest itself).
  if [[ "${rc}" -ne 0 && "${phase_failed}" -eq 0 ]]; then
    phase_failed=1
  fi
}

phase_build() {
  burners="${BURNERS:-2}"
  build_and_ctest "${build_dir}" -- \
    -DCMAKE_BUILD_TYPE=RelWithDebInfo -DINPROF_WERROR=ON \
    -DINPROF_BUILD_TESTS=ON -DINPROF_BUILD_EXAMPLES=ON
  burners=0
}

# The sanitizer builds compile at -O1 with line tables only (-g1), as the
# sanitizers' own documentation suggests: reports keep file:line, and the
# phases build in ~60% of the time -O2 -g took, which keeps CI within its
# budget. Tests that read DWARF (tests/agent/symbolize) set their own -g.
# -O1 wakes GCC's -Wmaybe-uninitialized in libstdc++'s <regex>.
sanitizer_flags="-O1 -g1 -DNDEBUG -Wno-maybe-uninitialized"

phase_asan() {
  # UBSan's null, alignment and pointer-overflow checks instrument every
  # memory access and doubled this phase's compile time (ASan reports null
  # dereferences itself); the fuzz phase keeps every UBSan check.
  build_and_ctest "${build_dir}-asan" -LE nosan -- \
    -DCMAKE_CXX_FLAGS="-fno-sanitize=null,alignment,pointer-overflow" \
    -DCMAKE_CXX_FLAGS_RELWITHDEBINFO="${sanitizer_flags}" \
    -DCMAKE_BUILD_TYPE=RelWithDebInfo -DINPROF_SANITIZE=address,undefined \
    -DINPROF_BUILD_TESTS=ON -DINPROF_BUILD_BENCH=OFF -DINPROF_BUILD_EXAMPLES=OFF
}

phase_tsan() {
  build_and_ctest "${build_dir}-tsan" -LE nosan -- \
    -DCMAKE_CXX_FLAGS_RELWITHDEBINFO="${sanitizer_flags}" \
    -DCMAKE_BUILD_TYPE=RelWithDebInfo -DINPROF_SANITIZE=thread \
    -DINPROF_BUILD_TESTS=ON -DINPROF_BUILD_BENCH=OFF -DINPROF_BUILD_EXAMPLES=OFF
}

phase_fuzz() {
  local dir="${build_dir}-fuzz"
  mkdir -p "${dir}"
  if ! CC=clang CXX=clang++ cmake -S "${root}" -B "${dir}" \
      -DCMAKE_BUILD_TYPE=RelWithDebInfo -DINPROF_SANITIZE=address,undefined \
      -DINPROF_FUZZ=ON -DINPROF_BUILD_TESTS=OFF -DINPROF_BUILD_EXAMPLES=OFF \
      -DINPROF_BUILD_BENCH=OFF -DINPROF_INSTALL=OFF >"${dir}/configure.log" 2>&1 ||
     ! cmake --build "${dir}" -j "$((jobs + 1))" --target profile_fuzzer cfi_fuzzer; then
    tail -n 20 "${dir}/configure.log" >&2 2>/dev/null
    echo "test.sh: building the fuzzers failed" >&2
    phase_failed=1
    return
  fi
  # FUZZ_SECONDS is the whole run: two thirds for the profile decoder, one
  # third for the CFI interpreter. Each fuzzer passes or fails on its own.
  local total="${FUZZ_SECONDS:-60}"
  local cfi_seconds=$((total / 3 > 0 ? total / 3 : 1))
  local profile_seconds=$((total - cfi_seconds > 0 ? total - cfi_seconds : 1))
  local fuzzer seconds seeds work log
  for fuzzer in profile_fuzzer cfi_fuzzer; do
    if [[ "${fuzzer}" == profile_fuzzer ]]; then
      seconds="${profile_seconds}" seeds=tests/fuzz/corpus
      work="${dir}/corpus" log="${dir}/fuzz.log"
    else
      seconds="${cfi_seconds}" seeds=tests/fuzz/cfi_corpus
      work="${dir}/cfi_corpus" log="${dir}/cfi_fuzz.log"
    fi
    mkdir -p "${work}"
    # Any crash, sanitizer report, leak or input slower than 10 s fails.
    if "${dir}/tests/fuzz/${fuzzer}" -max_total_time="${seconds}" \
        -timeout=10 -rss_limit_mb=2048 -artifact_prefix="${dir}/${fuzzer}-" \
        -print_final_stats=1 "${work}" "${seeds}" 2>"${log}"; then
      echo "${fuzzer}:"
      grep -E '^(stat::number_of_executed_units|Done)' "${log}"
      phase_passed=$((phase_passed + 1))
    else
      tail -n 40 "${log}" >&2
      echo "test.sh: ${fuzzer} found a failing input in ${dir}/ (${fuzzer}-crash-*)" >&2
      phase_failed=$((phase_failed + 1))
    fi
  done
}

phase_install() {
  # Packaging is what this phase checks, not code generation: unoptimized,
  # it builds in half the time.
  if JOBS="${jobs}" CMAKE_BUILD_TYPE=Debug bash tests/install/run_install_test.sh; then
    phase_passed=1
  else
    phase_failed=1
  fi
}

run_phase format phase_format
run_phase build phase_build
if [[ "${quick}" == 1 ]]; then
  summary+=("asan     skipped (--quick)")
  summary+=("tsan     skipped (--quick)")
else
  run_phase asan phase_asan
  run_phase tsan phase_tsan
fi
run_phase fuzz phase_fuzz
run_phase install phase_install

if [[ ${#failures[@]} -gt 0 ]]; then
  banner "failures (last lines of each)"
  printf '%s\n' "${failures[@]}"
fi
banner "summary"
printf '%s\n' "${summary[@]}"
echo "${total_passed} passed, ${total_failed} failed"
[[ "${total_failed}" -eq 0 ]]
