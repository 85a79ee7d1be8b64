#!/bin/sh
# Runs every unit test binary of the given build directories (cmocka) and
# prints one closing line: "unit: N passed, N failed". Exit 1 on any failure,
# including a sanitizer report (the sanitizer build aborts the binary).
set -u
passed=0 failed=0 broken=""
for dir in "$@"; do
  for t in "$dir"/unit/test_*; do
    [ -x "$t" ] || continue
    out=$("$t" 2>&1); rc=$?
    p=$(printf '%s\n' "$out" | sed -n 's/^\[  PASSED  \] \([0-9]*\) test.*/\1/p' | tail -1)
    f=$(printf '%s\n' "$out" | sed -n 's/^\[  FAILED  \] \([0-9]*\) test.*/\1/p' | tail -1)
    passed=$((passed + ${p:-0})); failed=$((failed + ${f:-0}))
    if [ "$rc" -ne 0 ] || [ -z "$p" ]; then
      printf '%s\n' "$out" | tail -40
      [ -z "$f" ] && failed=$((failed + 1))
      broken="$broken $t"
    fi
  done
done
[ -n "$broken" ] && echo "failing:$broken"
echo "unit: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
