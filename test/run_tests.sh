#!/usr/bin/env bash
# Runs every suite given and prints one line "N passed, M failed" totalling
# every test of every suite. A suite is either a GoogleTest binary or a script
# (*.sh) whose last line of that form gives its own counts. A suite that crashes
# or fails without a summary counts as one failure of its own. Exits non-zero
# on any failure.
set -u
passed=0 failed=0
log_dir=build/test-logs
mkdir -p "$log_dir"

count_gtest() {  # log -> "passed failed"
  local p f
  p=$(sed -n 's/^\[  PASSED  \] \([0-9]*\) tests\{0,1\}\..*/\1/p' "$1" | tail -n 1)
  f=$(sed -n 's/^\[  FAILED  \] \([0-9]*\) tests\{0,1\}, listed below.*/\1/p' "$1" | tail -n 1)
  # --gtest_brief leaves out the "listed below" summary: count the failed tests.
  [ -n "$f" ] || f=$(grep -E '^\[  FAILED  \] [A-Za-z_0-9/]+\.[A-Za-z_0-9/]+' "$1" | awk '{print $4}' | sort -u | wc -l)
  echo "${p:-0} ${f:-0}"
}

count_script() {  # log -> "passed failed"
  local line
  line=$(grep -E '^([A-Za-z-]+: )?[0-9]+ passed, [0-9]+ failed' "$1" | tail -n 1)
  [ -n "$line" ] || { echo "0 0"; return; }
  echo "$line" | sed -E 's/^([A-Za-z-]+: )?([0-9]+) passed, ([0-9]+) failed.*/\2 \3/'
}

for suite in "$@"; do
  log="$log_dir/$(echo "$suite" | tr '/' '_').log"
  echo "== $suite"
  case "$suite" in
    *.sh)
      bash "$suite" > "$log" 2>&1
      rc=$?
      grep -E '^(ok|not ok|SKIP|FAIL)' "$log" | grep -v '^ok' | head -n 40
      read -r p f < <(count_script "$log")
      ;;
    *)
      if [ ! -x "$suite" ]; then echo "missing test binary: $suite"; failed=$((failed + 1)); continue; fi
      "$suite" --gtest_brief=1 --gtest_color=no > "$log" 2>&1
      rc=$?
      grep -E '^\[  (FAILED|PASSED|SKIPPED) |: Failure$' "$log" | head -n 40
      read -r p f < <(count_gtest "$log")
      ;;
  esac
  echo "   suite result: $p passed / $f failed (log: $log)"
  if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then
    echo "$suite exited with status $rc without a failure count; last lines:"
    tail -n 20 "$log"
    f=1
  fi
  passed=$((passed + p)) failed=$((failed + f))
done
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
