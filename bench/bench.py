#!/usr/bin/python3
"""
bench: end-to-end throughput and memory of postino against a private Postfix.

Seven modes ($MODE: maildir, relay, sendmail, observe, web, backlog, fanout,
or both, the default, which runs maildir and relay):

  maildir  smtp-source -> server -> Maildir: the server delivers every message
           to a local mailbox (u@bench.test); the clock stops when the
           Maildir's new/ directory holds all the messages.
  relay    smtp-source -> server -> smtp-sink: the server relays every message
           (u@relay.test) through its SMTP client to its relayhost, an
           smtp-sink on another loopback address ($SINK_ADDR:$SINK_PORT) that
           appends each message it receives to a dump file; the clock stops
           when the sink has counted all the messages, and the dump is then
           checked: exactly as many messages as were sent, each (by its
           Message-Id) exactly once.
  sendmail local submission -> server -> Maildir: no SMTP; W workers (the
           "sessions" list, default 1 8) each run the server's sendmail
           command once per message, message on stdin (`postino sendmail -C
           CONF -f SENDER u@bench.test`, into DATA_DIR/maildrop, picked up
           through inotify; Postfix's `sendmail -C DIR -f SENDER u@bench.test`,
           i.e. postdrop into queue/maildrop, woken pickup(8)); both servers
           set up as in maildir mode; N defaults to 2000. Measured: submission
           rate (until every command exited 0), end to end (until all are in
           the Maildir), server memory and CPU, and the commands' own CPU time
           apart; then every message (by its unique Subject) must be in the
           Maildir exactly once. The load is this script run as
           `bench.py --sendmail-load W N SIZE -- CMD...`.
  observe  what metrics and JSON logs cost postino: postino only, as in maildir
           mode (10 sessions by default), in two variants run alternately in
           the same run: "default" (the plain config) and "metrics+json"
           (`listen metrics 127.0.0.1:PORT`, PORT being $PI_METRICS or a free
           port, scraped every second, plus `log_format json`). Reported:
           each variant's median msgs/s, peak memory and CPU, the ratio
           metrics+json / default and whether it keeps 95% of the messages/s;
           each run also checks that the variant's metrics answered every
           scrape and that its log is all JSON (or, default, none).
  web      the Web reader (postino alone, no SMTP load; bench_web.py): a
           10,000-message Maildir written on disk, GET /inbox (first and middle
           page) FETCHES (200) times each, median and p90 ms; GET /msg/ID of a
           5 MB message with attachments MSG_FETCHES (20) times, median ms and
           the server's VmHWM before and after (WEB_PARTS="inbox msg").
  backlog  BACKLOG_MESSAGES (100000) queued for a next hop that refuses
           connections, idle CPU and memory per queued message over
           IDLE_SECONDS (60), then the drain into smtp-sink after `queue flush` /
           `postqueue -f`; the issue's goals met or not (bench_backlog.py).
  fanout   one message to 10,000 recipients at 100 domains, each routed to its
           own smtp-sink: time, sessions, transactions (bench_fanout.py).

For every session count (maildir: 1 10 50; relay: 10 50; observe: 10;
$SESSIONS overrides them all) and every run (1..$RUNS), and for each server
(postfix, postino; in observe mode the two postino variants; the order
alternates from run to run, A B B A A B ..., so that a drift of the machine
weighs on both alike):

  1. fresh state: the server's work directory (and in relay mode the sink's
     dump) is removed and made anew, then `sync`, so that no run inherits the
     previous run's dirty pages or queue;
  2. (relay) smtp-sink is started; the server is started and the script waits
     until its SMTP port accepts;
  3. the clock starts, and `smtp-source -s S -m N -l 4096 ...` sends N
     messages over S parallel sessions (one full SMTP transaction per
     connection: no -d);
  4. the clock stops when all N messages have arrived (Maildir or sink);
     meanwhile, every 100 ms, the proportional set size (Pss) and the resident
     set size (Rss) of all the server's processes (the Postfix master and its
     descendants, or the postino process and its descendants; never
     smtp-sink) are read from /proc/PID/smaps_rollup and summed; the peak of
     each sum is kept;
  5. the server is stopped and the result checked (exactly N files; or, after
     $SETTLE seconds, exactly N messages at the sink, N distinct).

Every step is bounded in time ($TIMEOUT per run). Results go to $RESULTS
(bench/RESULTS.md) as Markdown, one section per mode (a run of one mode
rewrites its own section and keeps the other), with medians, min/max, the
postino/postfix ratio, the machine and the exact commands; raw runs to
$RESULTS_JSON (one key per mode).

Environment: MODE (both), RUNS (3), MESSAGES (10000; sendmail 2000), SESSIONS (per mode, see
above; observe 10), MSG_SIZE (4096), ONLY (postfix|postino, default both), TIMEOUT
(seconds per run, 600), QUIET_WAIT (seconds to wait before each run for the
machine to be idle, 60), RETRY_BUSY (times a run is repeated when other work
kept more than 10% of the CPUs busy during it, 2; the last attempt counts
whatever it measured), POSTINO_BIN (build/postino), PF_PORT (2625), PI_PORT
(2725), SINK_ADDR (127.0.0.2), SINK_PORT (2825), SINK_DIR (/dev/shm, where the
sink's dump goes), SETTLE (2: seconds to wait for stray duplicates before the
sink is checked), BENCH_DIR (parent of the scratch directory, /var/tmp),
KEEP=1 keeps the scratch directories, RESULTS, RESULTS_JSON, PI_METRICS (a port: postino
also gets `listen metrics 127.0.0.1:PORT`, scraped every second during its runs; in observe
mode only the metrics+json variant, on this port instead of a free one), POSTINO_EXTRA_CONF
(config lines for postino, ";" between them; in observe mode for both variants). RESULTS and
RESULTS_JSON name the output files (default bench/RESULTS.md and bench/results.json), e.g.
scratch files for a trial run. Must run as root (Postfix's master needs it).

This file holds the driver (main: the modes, each mode's servers, the runs, the
retries, writing the results); the rest is in modules beside it: bench_conf (the settings),
bench_proc (processes, memory, CPU, ports), bench_servers (Postfix, postino,
the sink), bench_run (one measured run and the sendmail load),
bench_report (RESULTS.md and results.json), and the modes with drivers of their
own: bench_web, bench_backlog and bench_fanout (these two run the servers one at
a time through bench_sxs).
"""
import datetime
import os
import shutil
import signal
import subprocess
import sys
import tempfile

from bench_conf import (BENCH_DIR, BOTH, BenchError, KEEP, MODE, MODES, MSG_SIZE, ONLY, PF_PORT,
                        PI_PORT, POSTDROP, POSTFIX, POSTFIX_SENDMAIL, POSTINO_BIN, QUIET_BUSY,
                        RETRY_BUSY, RUNS, SETTLE, SINK_DIR, SMTP_SINK,
                        SMTP_SOURCE, VGID, VUID, log, messages_for, sessions_for)
from bench_servers import Postfix, Postino, Sink, observe_variants, sink_hop
import bench_backlog
import bench_fanout
import bench_run
import bench_web
from bench_run import one_run, sendmail_load
from bench_report import machine_info, mib, observe_summary, render, sh, write_modes


# ---------------------------------------------------------------- main

def run_mode(mode, servers, sink, results, failures):
    sessions = sessions_for(mode)
    for s in sessions:
        for r in range(1, RUNS + 1):
            order = servers if r % 2 else list(reversed(servers))
            for srv in order:
                for attempt in range(RETRY_BUSY + 1):
                    try:
                        res = one_run(srv, s, mode, sink)
                    except (BenchError, subprocess.TimeoutExpired) as e:
                        failures.append({"server": srv.name, "sessions": s, "run": r,
                                         "error": str(e)})
                        log("%s %s s=%d run %d FAILED: %s" % (mode, srv.name, s, r, e))
                        break
                    res["run"] = r
                    log("%s %-7s s=%-3d run %d: %7.1f msgs/s (%.2f s, injection %.2f s), "
                        "peak Pss %s MiB, Rss %s MiB, CPU %.1f s; other load %.0f%% "
                        "before, %.0f%% during%s" % (
                            mode, srv.name, s, r, res["msgs_per_s"], res["seconds"],
                            res["inject_seconds"], mib(res["peak_pss_kib"]),
                            mib(res["peak_rss_kib"]), res["cpu_seconds"],
                            100 * res["busy_before"], 100 * res["other_busy_during"],
                            "; sink: %d messages, %d distinct, %d sessions" % (
                                res["sink_messages"], res["sink_distinct"], res["sink_sessions"])
                            if mode == "relay" else ""))
                    if res["other_busy_during"] <= QUIET_BUSY or attempt == RETRY_BUSY:
                        res["attempts"] = attempt + 1
                        results.append(res)
                        break
                    log("other work disturbed that run; repeating it")


def check_setup(modes):
    """Exit with a message unless the modes, ONLY and the tools they need are right."""
    if any(m not in MODES for m in modes):
        sys.exit("bench: MODE must be maildir, relay, sendmail, observe, web, backlog, fanout or "
                 "both (maildir and relay)")
    if ONLY not in ("", "postfix", "postino"):
        sys.exit("bench: ONLY must be postfix or postino")
    if "observe" in modes and ONLY == "postfix":
        sys.exit("bench: MODE=observe runs postino only: not with ONLY=postfix")
    tools = ([POSTFIX] if set(modes) - {"observe"} else []) + \
        ([SMTP_SOURCE] if set(modes) & {"maildir", "relay", "observe"} else []) + \
        ([SMTP_SINK] if "relay" in modes else []) + \
        ([POSTFIX_SENDMAIL, POSTDROP] if "sendmail" in modes else [])
    for tool in tools:
        if not os.access(tool, os.X_OK):
            sys.exit("bench: %s not found: install the postfix package "
                     "(`POSTINO_BENCH=1 scripts/install-deps.sh`)" % tool)
    if ONLY != "postfix" and not os.access(POSTINO_BIN, os.X_OK):
        sys.exit("bench: %s not found: `make build/postino` first (or ONLY=postfix)" % POSTINO_BIN)


def servers_for(mode, top):
    """The servers a mode compares: Postfix and postino (as ONLY says), or in
    observe mode postino's two variants."""
    if mode == "observe":
        return observe_variants(top)
    return ([Postfix(top)] if ONLY in ("", "postfix") else []) + \
        ([Postino(top)] if ONLY in ("", "postino") else [])


def mode_block(mode, servers, info, sink_top):
    """The results.json block of a mode, before its runs: settings, machine, start."""
    b = {"machine": info, "messages": bench_run.MESSAGES, "msg_size": MSG_SIZE,
         "runs": RUNS, "sessions": sessions_for(mode),
         "servers": [s.name for s in servers], "retry_busy": RETRY_BUSY,
         "pf_port": PF_PORT, "pi_port": PI_PORT,
         "started": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
         "load_start": " ".join(open("/proc/loadavg").read().split()[:3]),
         "note": os.environ.get("BENCH_NOTE", "").strip(),
         "results": [], "failures": []}
    if mode == "relay":
        b.update({"sink": sink_hop(), "settle": SETTLE, "sink_dir": SINK_DIR,
                  "sink_fs": sh("df -T %s | awk 'NR==2 {print $2}'" % sink_top)})
    if mode == "observe":
        b["variants"] = {s.name: {"metrics": s.metrics, "extra": s.extra} for s in servers}
    return b


def bench_mode(mode, top, info, sink, sink_top, every_server):
    """All the runs of one mode; its results.json block (with "interrupted" on ^C)."""
    servers = servers_for(mode, top)
    every_server += servers
    bench_run.MESSAGES = messages_for(mode)
    started = datetime.datetime.now(datetime.timezone.utc)
    log("%s: scratch directory %s (%s), %d run(s) x sessions %s x %s, %d messages" % (
        mode, top, info["fs"], RUNS, sessions_for(mode), [s.name for s in servers],
        bench_run.MESSAGES))
    b = mode_block(mode, servers, info, sink_top)
    try:
        run_mode(mode, servers, sink if mode == "relay" else None, b["results"], b["failures"])
    except KeyboardInterrupt:
        log("interrupted; writing what was measured")
        b["interrupted"] = True
    b["took"] = str(datetime.datetime.now(datetime.timezone.utc) - started).split(".")[0]
    return b


def write_results(blocks):
    """Each mode's section into RESULTS (the other sections kept), its block into RESULTS_JSON."""
    texts = {}
    for mode, b in blocks.items():
        if mode == "observe":
            b["summary"] = observe_summary(b)
        texts[mode] = render(mode, b)
    write_modes(texts, blocks)


def main():
    if MODE == "web":
        return bench_web.main()    # postino alone, its own driver and section
    if os.geteuid() != 0:
        sys.exit("bench: must run as root (the Postfix master needs it)")
    if MODE in ("backlog", "fanout"):     # their own drivers and sections
        check_setup(["relay"])
        return bench_backlog.main() if MODE == "backlog" else bench_fanout.main()
    modes = list(BOTH) if MODE == "both" else [MODE]
    check_setup(modes)

    # SIGTERM/SIGHUP unwind like ^C, so that the servers are stopped
    def die(signum, frame):
        raise KeyboardInterrupt
    signal.signal(signal.SIGTERM, die)
    signal.signal(signal.SIGHUP, die)

    os.makedirs(BENCH_DIR, exist_ok=True)
    top = tempfile.mkdtemp(prefix="postino-bench.", dir=BENCH_DIR)
    os.chmod(top, 0o755)       # virtual(8) runs as nobody and must reach the mail dir
    sink_top, sink = None, None
    every_server = []
    info = machine_info(top)
    blocks = {}
    try:
        if "relay" in modes:
            sink_top = tempfile.mkdtemp(prefix="postino-bench-sink.", dir=SINK_DIR)
            os.chmod(sink_top, 0o755)
            os.chown(sink_top, VUID, VGID)      # smtp-sink writes as nobody
            sink = Sink(sink_top)
        for mode in modes:
            blocks[mode] = b = bench_mode(mode, top, info, sink, sink_top, every_server)
            if b.get("interrupted"):
                break
    finally:
        for srv in every_server:
            try:
                srv.stop()
            except Exception as e:   # noqa: BLE001 -- best effort on the way out
                log("stopping %s: %s" % (srv.name, e))
        if sink:
            sink.stop()
        if KEEP:
            log("kept %s%s" % (top, " and " + sink_top if sink_top else ""))
        else:
            shutil.rmtree(top, ignore_errors=True)
            if sink_top:
                shutil.rmtree(sink_top, ignore_errors=True)
    write_results(blocks)
    return 1 if any(b["failures"] for b in blocks.values()) else 0


if __name__ == "__main__":
    if sys.argv[1:2] == ["--sendmail-load"]:
        sys.exit(sendmail_load(sys.argv[2:]))
    sys.exit(main())
