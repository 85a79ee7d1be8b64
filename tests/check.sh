#!/bin/sh
# Runs every test suite of `make check` (unit tests of both builds, make
# install, a fuzz smoke run, integration tests against both builds), shows their output, and ends with one line
# counting all of them: "check: N passed, N failed".
set -u
cd "$(dirname "$0")/.."
log=$(mktemp)
failures=$(mktemp)
trap 'rm -f "$log" "$failures"' EXIT
passed=0 failed=0 status=0

suite() {
    "$@" >"$log" 2>&1 || status=1
    cat "$log"
    line=$(grep -E '^[a-z]+: [0-9]+ passed, [0-9]+ failed' "$log" | tail -1)
    p=$(printf '%s' "$line" | sed -n 's/^[a-z]*: \([0-9]*\) passed.*/\1/p')
    f=$(printf '%s' "$line" | sed -n 's/.* \([0-9]*\) failed.*/\1/p')
    [ -z "$line" ] && { status=1; f=1; }
    passed=$((passed + ${p:-0})); failed=$((failed + ${f:-0}))
    # a failing suite's own failure lines, shown again at the end: a log
    # read from its tail (as CI's is) still names what failed
    if [ -z "$line" ] || [ "${f:-0}" -ne 0 ]; then
        { echo "-- $*"
          grep -E -A 30 '^(FAIL|ERROR): |^failing:|^broken modules:|^!!!! |: FAIL: |^== [a-z0-9_]+: (CRASH|BUILD FAILED|RUN FAILED|crash input)|^\[  FAILED  \]|ERROR: (Address|Undefined|Leak)Sanitizer|runtime error:' "$log" \
            | head -n 120
          [ -n "$line" ] || tail -n 20 "$log"; } >>"$failures"
    fi
}

echo "== unit tests (normal and sanitizer builds)"
suite ./tests/run-unit.sh build build-asan
echo "== make install"
suite ./tests/install.sh
echo "== fuzz targets, a smoke run of 2 s each on their corpus (make fuzz runs longer)"
suite env FUZZ_SECONDS=2 ./tests/fuzz/run.sh
echo "== integration tests, normal build"
suite env POSTINO_BIN="$PWD/build/postino" /usr/bin/python3 tests/integ/run.py
echo "== integration tests, sanitizer build"
suite env POSTINO_BIN="$PWD/build-asan/postino" /usr/bin/python3 tests/integ/run.py
if [ -s "$failures" ]; then
    echo "== what failed"
    cat "$failures"
fi
echo "check: $passed passed, $failed failed"
[ "$status" -eq 0 ] && [ "$failed" -eq 0 ]
