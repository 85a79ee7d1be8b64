#!/bin/sh
# Runs every unit test binary of the given build directories (cmocka), then
# checks the sample notices test_dsn wrote with Python's email package
# (tests/unit/dsn_check.py), and prints one closing line:
# "unit: N passed, N failed, N skipped". Exit 1 on any failure, including a
# sanitizer report (the sanitizer build aborts the binary). A skipped test
# prints its reason; the runner shows those lines.
set -u
passed=0 failed=0 skipped=0 broken=""
samples=$(mktemp -d)
trap 'rm -rf "$samples"' EXIT
for dir in "$@"; do
  mkdir -p "$samples/$dir"
  for t in "$dir"/unit/test_*; do
    [ -x "$t" ] || continue
    out=$(DSN_SAMPLES_DIR="$samples/$dir" "$t" 2>&1); rc=$?
    p=$(printf '%s\n' "$out" | sed -n 's/^\[  PASSED  \] \([0-9]*\) test.*/\1/p' | tail -1)
    f=$(printf '%s\n' "$out" | sed -n 's/^\[  FAILED  \] \([0-9]*\) test.*/\1/p' | tail -1)
    s=$(printf '%s\n' "$out" | sed -n 's/^\[  SKIPPED \] \([0-9]*\) test.*/\1/p' | tail -1)
    passed=$((passed + ${p:-0})); failed=$((failed + ${f:-0})); skipped=$((skipped + ${s:-0}))
    [ -n "$s" ] && printf '%s\n' "$out" | grep -E 'SKIP|skipped:' | sed "s|^|$t: |"
    if [ "$rc" -ne 0 ] || [ -z "$p" ]; then
      printf '%s\n' "$out" | tail -40
      [ -z "$f" ] && failed=$((failed + 1))
      broken="$broken $t"
    fi
  done
  # the notices test_dsn wrote: real MIME, RFC 3464 fields, as a mail reader parses them
  if [ -x "$dir/unit/test_dsn" ]; then
    out=$(/usr/bin/python3 tests/unit/dsn_check.py "$samples/$dir" 2>&1); rc=$?
    line=$(printf '%s\n' "$out" | grep -E '^dsn_check: [0-9]+ passed, [0-9]+ failed' | tail -1)
    p=$(printf '%s' "$line" | sed -n 's/^dsn_check: \([0-9]*\) passed.*/\1/p')
    f=$(printf '%s' "$line" | sed -n 's/.* \([0-9]*\) failed.*/\1/p')
    passed=$((passed + ${p:-0})); failed=$((failed + ${f:-0}))
    if [ "$rc" -ne 0 ] || [ -z "$line" ]; then
      printf '%s\n' "$out" | tail -20
      [ -z "$line" ] && failed=$((failed + 1))
      broken="$broken $dir/dsn_check"
    fi
  fi
done
[ -n "$broken" ] && echo "failing:$broken"
echo "unit: $passed passed, $failed failed, $skipped skipped"
[ "$failed" -eq 0 ]
