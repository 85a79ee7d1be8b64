#!/bin/sh
# Fuzzing: builds every tests/fuzz/fuzz_*.c target with clang (libFuzzer,
# ASan, UBSan) into build-fuzz/ and runs each for ${FUZZ_SECONDS:-30} seconds
# on a scratch copy of tests/fuzz/corpus/<name>/ (the seeds in git stay
# untouched). Exits non-zero if a target fails to build or finds a crash;
# crash inputs are left in build-fuzz/<name>.crashes/ for reproduction.
# Ends with one line "fuzz: N passed, N failed" (targets). `make check` runs
# it with FUZZ_SECONDS=2 as a smoke run: a harness that no longer builds or
# fails its own corpus is caught at once; `make fuzz` is the long run.
#
# The pure layers (src/lib, src/proto, src/mail: no sockets, no event loop)
# are compiled once into build-fuzz/libfuzzlayers.a; each harness links
# against it and the linker takes only the modules it needs, so a new
# harness is one new file (plus an optional corpus folder), nothing here.
# FUZZ_TARGETS="fuzz_a fuzz_b" limits the run to some targets.
set -eu
SELF="$(cd "$(dirname "$0")" && pwd)/$(basename "$0")"
cd "$(dirname "$0")/../.."

CC=${FUZZ_CC:-clang}
SECONDS_PER_TARGET=${FUZZ_SECONDS:-30}
JOBS=${FUZZ_JOBS:-$(nproc 2>/dev/null || echo 1)}
OUT=build-fuzz
SAN="-fsanitize=address,undefined -fno-sanitize-recover=undefined"
CFLAGS="-std=c11 -D_GNU_SOURCE -g -O1 -fno-omit-frame-pointer $SAN -Isrc"
LIBS="$(pkg-config --libs openssl libcrypt libidn2 libxml-2.0 2>/dev/null || echo -lcrypt -lidn2 -lxml2) -lunistring -lpthread"

# One target's run (the script calls itself so that $JOBS targets run at once):
# prints its report and exits non-zero on a crash. It comes before the archive
# step: runs going on at once must never rebuild the archive under each other.
if [ "${1:-}" = --run-one ]; then
    name=$2
    work="$OUT/$name.corpus"
    rm -rf "$work" "$OUT/$name.crashes"
    mkdir -p "$work" "$OUT/$name.crashes"
    if [ -d "tests/fuzz/corpus/${name#fuzz_}" ]; then
        cp "tests/fuzz/corpus/${name#fuzz_}"/* "$work"/ 2>/dev/null || true
    fi
    if ! "$OUT/$name" -max_total_time="$SECONDS_PER_TARGET" -print_final_stats=1 \
        -artifact_prefix="$OUT/$name.crashes/" "$work" >"$OUT/$name.log" 2>&1; then
        echo "== $name: CRASH (see $OUT/$name.log and $OUT/$name.crashes/)"
        tail -n 40 "$OUT/$name.log"
        # the input itself, so a crash seen only in a CI log can be replayed
        for input in "$OUT/$name.crashes"/*; do
            [ -f "$input" ] || continue
            echo "== $name: crash input $(basename "$input"), base64 (first 4096 bytes):"
            head -c 4096 "$input" | base64
        done
        exit 1
    fi
    runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$OUT/$name.log" | tail -n 1)
    echo "== $name: ok, ${runs:-?} runs in ${SECONDS_PER_TARGET}s"
    exit 0
fi

mkdir -p "$OUT/obj"
# Build (or refresh) the archive of the pure layers, $JOBS compilers at a time.
objs=""
stale=""
for src in src/lib/*.c src/proto/*.c src/mail/*.c; do
    obj="$OUT/obj/$(echo "$src" | sed 's|^src/||; s|/|_|g; s|\.c$|.o|')"
    objs="$objs $obj"
    if [ ! -f "$obj" ] || [ "$src" -nt "$obj" ] || \
       [ -n "$(find src/lib src/proto src/mail -name '*.h' -newer "$obj" | head -1)" ]; then
        stale="$stale $src:$obj"
    fi
done
layers_failed=0
# shellcheck disable=SC2086
printf '%s\n' $stale | grep . | xargs -r -P "$JOBS" -I{} sh -c \
    'src=${1%%:*}; obj=${1#*:}; '"$CC $CFLAGS -fsanitize=fuzzer-no-link $(pkg-config --cflags openssl libxml-2.0 2>/dev/null)"' -c "$src" -o "$obj"' _ {} \
    || layers_failed=1
if [ "$layers_failed" -ne 0 ]; then
    echo "== the pure layers do not build for fuzzing"
    echo "fuzz: 0 passed, 1 failed"
    exit 1
fi
rm -f "$OUT/libfuzzlayers.a"
# shellcheck disable=SC2086
ar rcs "$OUT/libfuzzlayers.a" $objs

status=0 ok=0 bad=0 built=""
for harness in tests/fuzz/fuzz_*.c; do
    name=$(basename "$harness" .c)
    if [ -n "${FUZZ_TARGETS:-}" ]; then
        case " $FUZZ_TARGETS " in *" $name "*) ;; *) continue ;; esac
    fi
    # shellcheck disable=SC2086
    if ! $CC $CFLAGS -fsanitize=fuzzer "$harness" "$OUT/libfuzzlayers.a" $LIBS -o "$OUT/$name"; then
        echo "== $name: BUILD FAILED"
        status=1 bad=$((bad + 1))
        continue
    fi
    built="$built $name"
done

echo "== fuzzing each target for ${SECONDS_PER_TARGET}s, $JOBS at a time"
results="$OUT/results"
rm -f "$results"
# shellcheck disable=SC2086
printf '%s\n' $built | grep . | xargs -r -P "$JOBS" -I{} sh -c \
    'if "$0" --run-one "$1"; then echo "ok $1" >>"$2";
     else rc=$?; echo "bad $1" >>"$2"; echo "== $1: RUN FAILED (exit $rc)"; fi' \
    "$SELF" {} "$results" || true
for name in $built; do
    if grep -qx "ok $name" "$results" 2>/dev/null; then
        ok=$((ok + 1))
    else
        status=1 bad=$((bad + 1))
    fi
done
echo "fuzz: $ok passed, $bad failed"
exit $status
