#!/bin/sh
# Fuzzing: builds every tests/fuzz/fuzz_*.c target with clang (libFuzzer,
# ASan, UBSan) into build-fuzz/ and runs each for ${FUZZ_SECONDS:-30} seconds
# on a scratch copy of tests/fuzz/corpus/<name>/ (the seeds in git stay
# untouched). Exits non-zero if a target fails to build or finds a crash;
# crash inputs are left in build-fuzz/<name>.crashes/ for reproduction.
# Ends with one line "fuzz: N passed, N failed" (targets). `make check` runs
# it with FUZZ_SECONDS=3 as a smoke run: a harness that no longer builds or
# fails its own corpus is caught at once; `make fuzz` is the long run.
set -eu
cd "$(dirname "$0")/../.."

CC=${FUZZ_CC:-clang}
SECONDS_PER_TARGET=${FUZZ_SECONDS:-30}
OUT=build-fuzz
CFLAGS="-std=c11 -D_GNU_SOURCE -g -O1 -fno-omit-frame-pointer -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined -Isrc"
# Parsers under test depend on proto/ and lib/ only (STYLE.md layering).
LIB_SRC="$(ls src/proto/*.c src/lib/*.c)"

mkdir -p "$OUT"
status=0 ok=0 bad=0
for harness in tests/fuzz/fuzz_*.c; do
    name=$(basename "$harness" .c)
    corpus_name=${name#fuzz_}
    bin="$OUT/$name"
    # mail/dsn (the notice builder) is a pure module too, layered on proto/ and lib/.
    extra=""
    [ "$name" = fuzz_dsn ] && extra="src/mail/dsn.c"
    # the drop file path: envelope parser and maildrop_check (maildrop.c
    # links queue.c for the writer; neither touches src/net)
    [ "$name" = fuzz_envelope ] && extra="src/mail/envelope.c src/mail/maildrop.c src/mail/queue.c"
    # the sendmail message filter, a pure state machine
    [ "$name" = fuzz_submit ] && extra="src/mail/submit.c"
    echo "== $name: building"
    # shellcheck disable=SC2086
    if ! $CC $CFLAGS "$harness" $extra $LIB_SRC -o "$bin"; then
        echo "== $name: BUILD FAILED"
        status=1 bad=$((bad + 1))
        continue
    fi
    work="$OUT/$name.corpus"
    rm -rf "$work"
    mkdir -p "$work" "$OUT/$name.crashes"
    if [ -d "tests/fuzz/corpus/$corpus_name" ]; then
        cp "tests/fuzz/corpus/$corpus_name"/* "$work"/ 2>/dev/null || true
    fi
    echo "== $name: fuzzing for ${SECONDS_PER_TARGET}s"
    if ! "$bin" -max_total_time="$SECONDS_PER_TARGET" -print_final_stats=1 \
        -artifact_prefix="$OUT/$name.crashes/" "$work" >"$OUT/$name.log" 2>&1; then
        echo "== $name: CRASH (see $OUT/$name.log and $OUT/$name.crashes/)"
        tail -n 40 "$OUT/$name.log"
        status=1 bad=$((bad + 1))
        continue
    fi
    grep -E 'stat::number_of_executed_units|Done [0-9]+ runs' "$OUT/$name.log" | tail -n 2
    echo "== $name: ok"
    ok=$((ok + 1))
done
echo "fuzz: $ok passed, $bad failed"
exit $status
