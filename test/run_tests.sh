#!/usr/bin/env bash
# Runs each GoogleTest binary given, then prints one line "N passed, M failed"
# totalling every test of every binary. A binary that crashes or exits non-zero
# without a summary counts as one failure of its own. Exits non-zero on any failure.
set -u
passed=0 failed=0
log_dir=build/test-logs
mkdir -p "$log_dir"
for bin in "$@"; do
  [ -x "$bin" ] || { echo "missing test binary: $bin"; failed=$((failed + 1)); continue; }
  log="$log_dir/$(echo "$bin" | tr '/' '_').log"
  echo "== $bin"
  "$bin" --gtest_brief=1 --gtest_color=no > "$log" 2>&1
  rc=$?
  grep -E '^\[  (FAILED|PASSED|SKIPPED) |^(Failure|.*: Failure)' "$log" | head -n 40
  p=$(sed -n 's/^\[  PASSED  \] \([0-9]*\) tests\{0,1\}\..*/\1/p' "$log" | tail -n 1)
  f=$(sed -n 's/^\[  FAILED  \] \([0-9]*\) tests\{0,1\}, listed below.*/\1/p' "$log" | tail -n 1)
  p=${p:-0} f=${f:-0}
  if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then
    echo "$bin exited with status $rc without a failure summary; last lines:"
    tail -n 20 "$log"
    f=1
  fi
  passed=$((passed + p)) failed=$((failed + f))
done
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
