#!/usr/bin/env bash
# Build and test everything, the way CI does (.ci/run execs this).
#
#   test/run-all.sh [--quick] [--no-deps] [-- MESON_TEST_ARGS...]
#
#   1. deploy/install-deps.sh   (Debian packages; a no-op when all are present)   --no-deps skips it
#   2. deploy/hugepages.sh      (2 MiB hugepages + hugetlbfs; a failure here is only a warning)
#   3. build/       debugoptimized                                   meson setup, compile, test
#   4. build-asan/  -Db_sanitize=address,undefined -Db_lundef=false -Db_lto=false  meson setup, compile, test
#      (--quick skips this one)
#
# Arguments after `--` go to both `meson test` runs (e.g. `-- --suite unit` or a test name).
# A build dir that fails to configure or compile counts as one failed test.
# Last line: "N passed, N failed" summed over both runs (Expected Fail counts as passed;
# Timeout and Unexpected Pass as failed; skipped tests are reported on the line before).
# Exit status: 0 only if nothing failed.
set -uo pipefail

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$REPO" || exit 1

quick=0
deps=1
TEST_ARGS=()
while [[ $# -gt 0 ]]; do
  case $1 in
    --quick) quick=1; shift ;;
    --no-deps) deps=0; shift ;;
    --) shift; TEST_ARGS=("$@"); break ;;
    -h|--help) sed -n '2,17p' "$0"; exit 0 ;;
    *) echo "run-all: unknown argument: $1 (see --help)" >&2; exit 2 ;;
  esac
done

# Sanitizer runtime behaviour (caller's settings win). LeakSanitizer suppressions, if the
# project ever needs them for DPDK's process-lifetime allocations, live in test/lsan.supp.
export ASAN_OPTIONS=${ASAN_OPTIONS:-halt_on_error=1:detect_leaks=1:print_stacktrace=1:print_summary=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-halt_on_error=1:print_stacktrace=1:print_summary=1}
if [[ -z ${LSAN_OPTIONS:-} && -f $REPO/test/lsan.supp ]]; then
  export LSAN_OPTIONS=suppressions=$REPO/test/lsan.supp:print_suppressions=0
fi

section() { printf '\n=== %s ===\n' "$*"; }

total_pass=0
total_fail=0
total_skip=0
SUMMARY=()
FAILED_LOGS=()

if [[ $deps -eq 1 ]]; then
  section "dependencies"
  if ! bash deploy/install-deps.sh; then
    echo "run-all: deploy/install-deps.sh failed; carrying on (the build will tell)" >&2
    total_fail=$((total_fail + 1))
    SUMMARY+=("deps: install-deps.sh FAILED")
  fi
fi

section "hugepages"
bash deploy/hugepages.sh || echo "run-all: warning: hugepages not set up; DPDK tests must use --no-huge" >&2

# count LABEL FILE -> value of meson's "LABEL: N" summary line (0 if absent)
count() {
  local v
  v=$(sed 's/\x1b\[[0-9;]*m//g' "$2" | sed -n "s/^$1:[[:space:]]*\([0-9][0-9]*\)[[:space:]]*\$/\1/p" | tail -n 1)
  echo "${v:-0}"
}

# run_build DIR EXTRA_TEST_ARGS... -- SETUP_OPTIONS...
run_build() {
  local dir=$1; shift
  local -a test_extra=() setup_opts=()
  while [[ $# -gt 0 && $1 != -- ]]; do test_extra+=("$1"); shift; done
  [[ $# -gt 0 ]] && shift
  setup_opts=("$@")

  section "$dir: configure (${setup_opts[*]})"
  local ok=1
  if [[ -f $dir/meson-private/coredata.dat ]]; then
    meson setup --reconfigure "$dir" "${setup_opts[@]}" \
      || meson setup --wipe "$dir" "${setup_opts[@]}" || ok=0
  else
    rm -rf "$dir"
    meson setup "$dir" "${setup_opts[@]}" || ok=0
  fi
  if [[ $ok -eq 0 ]]; then
    total_fail=$((total_fail + 1))
    SUMMARY+=("$dir: configure FAILED")
    return
  fi

  section "$dir: compile"
  if ! meson compile -C "$dir"; then
    total_fail=$((total_fail + 1))
    SUMMARY+=("$dir: compile FAILED")
    return
  fi

  section "$dir: test"
  local log rc p f s
  log=$(mktemp)
  meson test -C "$dir" --print-errorlogs "${test_extra[@]}" "${TEST_ARGS[@]}" 2>&1 | tee "$log"
  rc=${PIPESTATUS[0]}
  p=$(( $(count Ok "$log") + $(count 'Expected Fail' "$log") ))
  f=$(( $(count Fail "$log") + $(count 'Unexpected Pass' "$log") + $(count Timeout "$log") ))
  s=$(count Skipped "$log")
  rm -f "$log"
  if [[ $rc -ne 0 && $f -eq 0 ]]; then
    # meson failed without a failing test in its summary (e.g. no such test, setup error)
    echo "run-all: meson test in $dir exited $rc with no failed test counted; counting one failure" >&2
    f=1
  fi
  total_pass=$((total_pass + p))
  total_fail=$((total_fail + f))
  total_skip=$((total_skip + s))
  SUMMARY+=("$dir: $p passed, $f failed, $s skipped (meson test exit $rc)")
  if [[ $f -gt 0 && -f $dir/meson-logs/testlog.json ]]; then
    FAILED_LOGS+=("$dir/meson-logs/testlog.json")
  fi
}

# failed_tails TESTLOG.json -> each failed test's name, result, its verdict lines and the last lines of its output,
# so the end of the CI log (often all that is kept) names what failed and why.
failed_tails() {
  python3 - "$1" <<'PY'
import json, re, sys
path = sys.argv[1]
shown = 0
for line in open(path, encoding="utf-8", errors="replace"):
    try:
        t = json.loads(line)
    except ValueError:
        continue
    if t.get("result") in ("OK", "SKIP", "EXPECTEDFAIL"):
        continue
    shown += 1
    if shown > 3:
        print("(more failed tests: see " + path + ")")
        break
    print("--- %s: %s (exit %s, %.1f s), last lines:" % (t.get("name"), t.get("result"),
          t.get("returncode"), t.get("duration") or 0.0))
    lines = ((t.get("stdout") or "") + (t.get("stderr") or "")).splitlines()
    verdict = [l for l in lines if re.search(r": FAIL|Traceback|Error|ERROR|timed out", l)][-5:]
    for l in verdict:  # the test's own verdict first: the tail below is often a process's log
        print("  ! " + l[:300])
    for l in lines[-30:]:
        print("    " + l[:300])
PY
}

run_build build -- --buildtype=debugoptimized
if [[ $quick -eq 0 ]]; then
  run_build build-asan --timeout-multiplier 3 -- \
    --buildtype=debugoptimized -Db_sanitize=address,undefined -Db_lundef=false -Db_lto=false
fi

section "summary"
for f in "${FAILED_LOGS[@]}"; do
  echo "failed in ${f%%/meson-logs/*}:"
  failed_tails "$f" || true
done
printf '%s\n' "${SUMMARY[@]}"
if (( total_pass + total_fail == 0 )); then
  echo "run-all: warning: no test ran" >&2
fi
echo "skipped: $total_skip"
echo "$total_pass passed, $total_fail failed"
[[ $total_fail -eq 0 ]]
