#!/bin/bash
# Benchmark postino against a private Postfix instance on this machine (MODE=both,
# the default, runs maildir and relay; MODE=maildir, relay, sendmail or observe one):
#   maildir: smtp-source sends MESSAGES 4 KiB messages over 1, 10 and 50
#            sessions to each server, which delivers them to a local Maildir;
#   relay:   the same over 10 and 50 sessions, and each server relays them to
#            its relayhost, smtp-sink on 127.0.0.2:2825, which must receive
#            every message exactly once;
#   sendmail: local submission with each server's sendmail command;
#   observe: postino alone, maildir over 10 sessions, in two variants run
#            alternately: "default" and "metrics+json" (`listen metrics` on a
#            free port, or PI_METRICS, scraped every second, plus
#            `log_format json`); the ratio of their messages/s and whether it
#            is within 5%. No Postfix. (`make bench` runs it after both.)
#   web:     postino alone: the Web reader over a 10,000-message Maildir written
#            on disk: GET /inbox (first and middle page) 200 times each, median
#            and p90 ms; GET /msg/ID of a 5 MB message 20 times, median ms and
#            the server's VmHWM (bench/bench_web.py; WEB_PARTS=inbox for half).
#   backlog: BACKLOG_MESSAGES (100000) queued for a next hop that refuses
#            connections; idle CPU and memory per queued message over
#            IDLE_SECONDS (60); then the drain rate once smtp-sink listens and
#            the queue is flushed; the issue's goals met or not
#            (bench/bench_backlog.py; one server at a time, RUNS=1 default).
#   fanout:  one message to 10,000 recipients at 100 domains, a smtp-sink per
#            domain on 127.0.1.1-100: time, sessions (bench/bench_fanout.py).
# End-to-end messages/s (until all are in the Maildir, or at the sink) and peak
# memory (Pss and Rss summed over the server's processes). Writes
# bench/RESULTS.md (one section per mode; a run of one mode keeps the others)
# and bench/results.json.
#
#   RUNS=3 MESSAGES=10000 bench/run.sh                 # both modes
#   MODE=relay MESSAGES=500 RUNS=1 bench/run.sh        # a quick relay check
#   MODE=observe RUNS=3 MESSAGES=10000 bench/run.sh    # metrics+json vs default
#   RESULTS=/tmp/r.md RESULTS_JSON=/tmp/r.json MODE=observe RUNS=1 MESSAGES=300 bench/run.sh
#                                     # a smoke test that leaves bench/ alone
#   ONLY=postfix bench/run.sh         # Postfix only (no postino binary needed)
#   ONLY=postino bench/run.sh         # postino only
#
# Other knobs (see bench/bench.py): SESSIONS, MSG_SIZE, TIMEOUT (per run, s),
# QUIET_WAIT, RETRY_BUSY, POSTINO_BIN, PF_PORT (2625), PI_PORT (2725),
# SINK_ADDR (127.0.0.2), SINK_PORT (2825), SINK_DIR (/dev/shm), SETTLE (2),
# BENCH_DIR (/var/tmp), KEEP=1, RESULTS, RESULTS_JSON (the output files),
# PI_METRICS (a port: postino with `listen metrics`, scraped every second; in
# observe mode the metrics+json variant's port),
# POSTINO_EXTRA_CONF (lines added to postino's config, ";" between them:
#   POSTINO_EXTRA_CONF="log_format json" MODE=maildir ONLY=postino bench/run.sh).
# Needs root (Postfix's master runs as root) and the postfix package (for
# smtp-source, smtp-sink and the private instance; `make bench` installs it).
# The system Postfix service is neither used nor started.
set -euo pipefail
cd "$(dirname "$0")/.."

if [ "$(id -u)" -ne 0 ]; then
  echo "bench: run as root (the private Postfix instance needs it)" >&2
  exit 1
fi
if [ "${MODE:-}" != web ] && ! command -v smtp-source >/dev/null 2>&1 && [ ! -x /usr/sbin/smtp-source ]; then
  echo "bench: smtp-source missing: POSTINO_BENCH=1 ./scripts/install-deps.sh" >&2
  exit 1
fi
if [ "${ONLY:-}" != postfix ] && [ ! -x "${POSTINO_BIN:-build/postino}" ]; then
  echo "bench: ${POSTINO_BIN:-build/postino} missing: make build/postino (or ONLY=postfix)" >&2
  exit 1
fi

export PATH="$PATH:/usr/sbin:/sbin"
# bench.py bounds every run (TIMEOUT) and stops the servers on exit; the outer
# timeout is a last resort against a hung driver.
export MODE=${MODE:-both}
case "$MODE" in
  maildir) n_sess=$(wc -w <<<"${SESSIONS:-1 10 50}") ;;
  relay)   n_sess=$(wc -w <<<"${SESSIONS:-10 50}") ;;
  sendmail) n_sess=$(wc -w <<<"${SESSIONS:-1 8}") ;;
  observe) n_sess=$(wc -w <<<"${SESSIONS:-10}") ;;    # two variants, like two servers
  web)     n_sess=1 ;;
  backlog) n_sess=4 ;;    # fill, wait, idle, drain: each bounded by TIMEOUT
  fanout)  n_sess=1 ;;
  both)    n_sess=$(( $(wc -w <<<"${SESSIONS:-1 10 50}") + $(wc -w <<<"${SESSIONS:-10 50}") )) ;;
  *) echo "bench: MODE must be maildir, relay, sendmail, observe, web, backlog, fanout or both" >&2; exit 1 ;;
esac
if { [ "$MODE" = observe ] || [ "$MODE" = web ]; } && [ "${ONLY:-}" = postfix ]; then
  echo "bench: MODE=$MODE runs postino only: not with ONLY=postfix" >&2
  exit 1
fi
if { [ "$MODE" = relay ] || [ "$MODE" = both ] || [ "$MODE" = backlog ] || [ "$MODE" = fanout ]; } && ! command -v smtp-sink >/dev/null 2>&1 && [ ! -x /usr/sbin/smtp-sink ]; then
  echo "bench: smtp-sink missing: POSTINO_BENCH=1 ./scripts/install-deps.sh" >&2
  exit 1
fi
case "$MODE" in backlog) runs=${RUNS:-1} ;; *) runs=${RUNS:-3} ;; esac
limit=$(( runs * n_sess * 2 * (${RETRY_BUSY:-2} + 1) * (${TIMEOUT:-600} + ${QUIET_WAIT:-60} + 90) + 60 ))
exec timeout --foreground --signal=TERM --kill-after=60 "$limit" /usr/bin/python3 bench/bench.py
