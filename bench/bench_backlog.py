"""
bench_backlog: a big queue for a next hop that is down (MODE=backlog; postino
against a private Postfix). bench.py hands MODE=backlog to main() here; the
driver, the set-up and the end of the section are bench_sxs's (shared with
the fanout mode), the CPU time over a window bench_proc's CpuWindow.

For each server in turn (one after the other: only one runs at a time), RUNS
times (1 by default; the order alternates from run to run):

  1. fresh state and `sync`; the server is started with everything relayed to
     one next hop, [127.0.0.1]:BACKLOG_PORT, where nothing listens, so every
     delivery attempt is refused (postino: `relayhost [127.0.0.1]:PORT`;
     Postfix: `relayhost = [127.0.0.1]:PORT`, otherwise as in relay mode);
  2. base: the memory of the idle, empty server (Pss and Rss summed over its
     processes, the median of BASE_SAMPLES samples a second apart);
  3. fill: smtp-source sends BACKLOG_MESSAGES (100000) messages of MSG_SIZE
     (4096) over BACKLOG_SESSIONS (10) sessions, one per connection as in the
     other modes; then the driver waits until the server holds them all
     (postino: the total of `postino queue summary --json`; Postfix: the files
     under its incoming, active, deferred, hold and maildrop directories) and
     until the server is quiet (its processes used under 5% of a core over a
     second, or SETTLE_MAX seconds passed: the first attempts are over);
  4. idle: IDLE_SECONDS (60) with the queue full: the CPU time of every process
     of the server (utime + stime from /proc/PID/stat, per process, so that a
     child reaped during the window does not bring its whole life's CPU time
     in), and Pss and Rss every second; reported as % of one core and bytes per
     queued message beyond the base (medians of the samples);
  5. drain: smtp-sink (counting, no dump) starts on [127.0.0.1]:BACKLOG_PORT, and
     at once `postino queue flush` or `postqueue -c DIR -f`; the clock stops
     when the queue is empty (the sink's count is polled every 50 ms until it
     has them all, then the queue); drain rate in messages/s.

The section gives each server's figures, the ratio postino / Postfix of the
drain rates, and the issue's goals with "met: yes/no" computed from them:
postino idle under 1% of a core, drain at least 2x Postfix's, under 300 bytes
of Rss per queued message beyond the base.

Knobs: BACKLOG_MESSAGES, IDLE_SECONDS, BACKLOG_SESSIONS, BACKLOG_PORT (2826),
RUNS (1 here), ONLY, MSG_SIZE, TIMEOUT (per phase; fill and drain get at least
20 ms per message), SETTLE_MAX (60),
BASE_SAMPLES (3), QUIET_WAIT, PF_PORT, PI_PORT, BENCH_DIR, SINK_DIR, KEEP,
POSTINO_BIN, RESULTS, RESULTS_JSON.
"""
import json
import os
import shutil
import statistics
import subprocess
import time

from bench_conf import (HELO, MSG_SIZE, PF_PORT, PI_PORT, POSTINO_BIN, SENDER, SMTP_SOURCE, TIMEOUT,
                        BenchError, log)
from bench_proc import CpuWindow, mem_kib, port_free, run, tail
import bench_sxs
from bench_sxs import postfix_main, postino_conf, quiet_machine, render_tail, setup
from bench_servers import Sink

MESSAGES = int(os.environ.get("BACKLOG_MESSAGES", "100000"))
IDLE_SECONDS = float(os.environ.get("IDLE_SECONDS", "60"))
SESSIONS = int(os.environ.get("BACKLOG_SESSIONS", "10"))
HOP_PORT = int(os.environ.get("BACKLOG_PORT", "2826"))
HOP = "[127.0.0.1]:%d" % HOP_PORT
RUNS = int(os.environ.get("RUNS", "1"))
# fill and drain take long with a big N: at least TIMEOUT, or 20 ms per message
PHASE_TIMEOUT = max(TIMEOUT, MESSAGES / 50.0)
SETTLE_MAX = float(os.environ.get("SETTLE_MAX", "60"))
BASE_SAMPLES = int(os.environ.get("BASE_SAMPLES", "3"))
RCPT = "u@relay.test"
GOALS = {"idle_cpu_pct": 1.0, "drain_ratio": 2.0, "rss_bytes_per_msg": 300.0}
POSTQUEUE = shutil.which("postqueue") or "/usr/sbin/postqueue"
PF_QUEUES = ("maildrop", "incoming", "active", "deferred", "hold")


def median(v):
    return statistics.median(v) if v else None


# ---------------------------------------------------------------- the queue

def queued(srv):
    """Messages in srv's queue now (postino: recipients, one per message here)."""
    if srv.name == "postfix":
        n = 0
        for q in PF_QUEUES:
            for _, _, files in os.walk(os.path.join(srv.w, "queue", q)):
                n += len(files)
        return n
    out = run([POSTINO_BIN, "queue", "-c", srv.conf, "summary", "--json"], timeout=TIMEOUT)
    return int(json.loads(out)["total"]["total"])


def wait_queued(srv, want, deadline, what):
    """Poll queued(srv) until it is want (twice in a row, as Postfix's files move
    between directories, unless want is 0: an empty queue stays empty), at most
    every second (0.2 s for 0) or twice the time a poll took."""
    hits = 0
    while True:
        t = time.monotonic()
        n = queued(srv)
        hits = hits + 1 if n == want else 0
        if hits >= (1 if want == 0 else 2):
            return
        if time.monotonic() > deadline:
            raise BenchError("%s: %d messages queued, waiting for %d (%s)\n%s" % (
                srv.name, n, want, what, tail(srv.logfile)))
        time.sleep(max(0.2 if want == 0 else 1.0, 2 * (time.monotonic() - t)))


def settle(srv):
    """Wait until the server is quiet (under 5% of a core over a second) or
    SETTLE_MAX passed; the seconds waited."""
    t0 = time.monotonic()
    while time.monotonic() - t0 < SETTLE_MAX:
        w = CpuWindow(srv)
        w.start()
        time.sleep(1.0)
        if w.sample() < 0.05:
            break
    return round(time.monotonic() - t0, 1)


# ---------------------------------------------------------------- one run

def prepare(srv):
    comment = ("Private Postfix instance for bench/bench.py, MODE=backlog: as in relay mode,\n"
               "every message relayed to %s, where nothing listens until the drain." % HOP)
    setup(srv, postino_conf(srv.w, srv.port, HOP),
          postfix_main(srv.w, srv.port, HOP, comment))


def comm(pid):
    try:
        with open("/proc/%d/comm" % pid) as f:
            return f.read().strip()
    except OSError:
        return ""


# Postfix's daemons that serve the load (receiving, queueing, attempting the
# next hop) and linger for max_idle (100 s) after it; the others (master, qmgr,
# pickup, postlogd...) and postino are the "core" processes
LOAD_PROCS = ("smtpd", "cleanup", "trivial-rewrite", "smtp", "anvil", "scache", "bounce",
              "error", "proxymap")


def sample_mem(srv, seconds, cpu=None):
    """Once a second for seconds: Pss and Rss (KiB) summed over the server's
    processes, their count, and Pss and Rss of its core processes only (not
    LOAD_PROCS, by /proc/PID/comm). Returns the medians and the peak Rss."""
    keys = ("pss", "rss", "procs", "core_pss", "core_rss")
    v = {k: [] for k in keys}
    end = time.monotonic() + seconds
    while True:
        pids = srv.pids()
        p, r = mem_kib(pids)
        cp, cr = mem_kib([x for x in pids if comm(x) not in LOAD_PROCS])
        for k, x in zip(keys, (p, r, len(pids), cp, cr)):
            v[k].append(x)
        if cpu:
            cpu.sample()
        if time.monotonic() >= end:
            break
        time.sleep(min(1.0, max(0.0, end - time.monotonic())))
    out = {k: median(v[k]) for k in keys}
    out["peak_rss"] = max(v["rss"])
    return out


def fill(srv, res):
    cmd = [SMTP_SOURCE, "-s", str(SESSIONS), "-m", str(MESSAGES), "-l", str(MSG_SIZE),
           "-M", HELO, "-f", SENDER, "-t", RCPT, "127.0.0.1:%d" % srv.port]
    t0 = time.monotonic()
    p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=PHASE_TIMEOUT)
    if p.returncode != 0:
        raise BenchError("smtp-source exited %d: %s" % (p.returncode, p.stdout[-2000:]))
    res["fill_seconds"] = round(time.monotonic() - t0, 2)
    wait_queued(srv, MESSAGES, time.monotonic() + PHASE_TIMEOUT, "after the fill")
    res["queued_seconds"] = round(time.monotonic() - t0, 2)
    res["settle_seconds"] = settle(srv)


def flush_cmd(srv):
    if srv.name == "postfix":
        return [POSTQUEUE, "-c", srv.conf, "-f"]
    return [POSTINO_BIN, "queue", "-c", srv.conf, "flush"]


def drain(srv, sink, res):
    sink.prepare()
    sink.start()
    sess0, _, base = sink.read_counters()
    cpu = CpuWindow(srv)
    cpu.start()
    t0 = time.monotonic()
    run(flush_cmd(srv), timeout=TIMEOUT)
    res["flush_cmd_seconds"] = round(time.monotonic() - t0, 3)
    deadline, n, next_cpu = t0 + PHASE_TIMEOUT, 0, t0
    while n < MESSAGES:
        if time.monotonic() > deadline:
            raise BenchError("drain: %d of %d at the sink after %.0f s\n%s" % (
                n, MESSAGES, PHASE_TIMEOUT, tail(srv.logfile)))
        if time.monotonic() >= next_cpu:
            cpu.sample()
            next_cpu += 1.0
        time.sleep(0.05)
        n = sink.messages() - base
    res["drain_sink_seconds"] = round(time.monotonic() - t0, 3)
    wait_queued(srv, 0, deadline, "draining")
    res["drain_seconds"] = round(time.monotonic() - t0, 3)
    res["drain_cpu_seconds"] = round(cpu.sample(), 2)
    res["drain_msgs_per_s"] = round(MESSAGES / res["drain_seconds"], 1)
    time.sleep(1.0)     # duplicates would come now
    sess, _, mesg = sink.read_counters()
    res["sink_messages"], res["sink_sessions"] = mesg - base, sess - sess0


def one_run(srv, sink, run_no):
    prepare(srv)
    subprocess.run(["sync"], timeout=300)
    res = {"server": srv.name, "run": run_no, "messages": MESSAGES}
    try:
        if not port_free(HOP_PORT):
            raise BenchError("127.0.0.1:%d is in use: nothing may listen there" % HOP_PORT)
        srv.start()
        res["busy_before"] = round(quiet_machine(), 3)
        time.sleep(2.0)
        m = sample_mem(srv, BASE_SAMPLES - 1)
        res.update({"base_pss_kib": m["pss"], "base_rss_kib": m["rss"], "base_procs": m["procs"],
                    "base_core_pss_kib": m["core_pss"], "base_core_rss_kib": m["core_rss"],
                    "base_processes": sorted(set(comm(p) for p in srv.pids()))})
        log("backlog %s run %d: base Pss %.1f MiB, Rss %.1f MiB; filling with %d messages" % (
            srv.name, run_no, m["pss"] / 1024, m["rss"] / 1024, MESSAGES))
        fill(srv, res)
        log("backlog %s: %d queued after %.1f s (smtp-source %.1f s), quiet after %.1f s more; "
            "idle for %g s" % (srv.name, MESSAGES, res["queued_seconds"], res["fill_seconds"],
                               res["settle_seconds"], IDLE_SECONDS))
        idle(srv, res)
        log("backlog %s: idle CPU %.2f%% of a core, Rss %.1f MiB (%.0f B per message), "
            "Pss %.1f MiB (%.0f B per message); draining" % (
                srv.name, res["idle_cpu_pct"], res["idle_rss_kib"] / 1024,
                res["rss_bytes_per_msg"], res["idle_pss_kib"] / 1024, res["pss_bytes_per_msg"]))
        drain(srv, sink, res)
        log("backlog %s: drained in %.2f s (%.0f msgs/s; sink had all after %.2f s, %d messages "
            "in %d sessions)" % (srv.name, res["drain_seconds"], res["drain_msgs_per_s"],
                                  res["drain_sink_seconds"], res["sink_messages"],
                                  res["sink_sessions"]))
        return res
    finally:
        srv.stop()
        sink.stop()


def idle(srv, res):
    """The idle window: CPU, and memory beyond the base, of all the server's
    processes and of the core ones (not LOAD_PROCS)."""
    cpu = CpuWindow(srv)
    cpu.start()
    t0 = time.monotonic()
    m = sample_mem(srv, IDLE_SECONDS, cpu)
    secs = time.monotonic() - t0

    def per_msg(kib, base):
        return round((kib - base) * 1024.0 / MESSAGES, 1)
    res.update({"idle_seconds": round(secs, 1), "idle_cpu_seconds": round(cpu.seconds(), 3),
                "idle_cpu_pct": round(100.0 * cpu.seconds() / secs, 3),
                "idle_pss_kib": m["pss"], "idle_rss_kib": m["rss"],
                "idle_peak_rss_kib": m["peak_rss"], "idle_procs": m["procs"],
                "idle_core_pss_kib": m["core_pss"], "idle_core_rss_kib": m["core_rss"],
                "rss_bytes_per_msg": per_msg(m["rss"], res["base_rss_kib"]),
                "pss_bytes_per_msg": per_msg(m["pss"], res["base_pss_kib"]),
                "idle_processes": sorted(set(comm(p) for p in srv.pids())),
                "core_rss_bytes_per_msg": per_msg(m["core_rss"], res["base_core_rss_kib"]),
                "core_pss_bytes_per_msg": per_msg(m["core_pss"], res["base_core_pss_kib"])})


# ---------------------------------------------------------------- the report

KEYS = ("idle_cpu_pct", "rss_bytes_per_msg", "pss_bytes_per_msg", "core_rss_bytes_per_msg",
        "core_pss_bytes_per_msg", "drain_msgs_per_s",
        "base_rss_kib", "idle_rss_kib", "base_pss_kib", "idle_pss_kib", "queued_seconds",
        "drain_seconds", "drain_sink_seconds", "drain_cpu_seconds", "sink_sessions", "idle_procs")


def summary(b):
    """Each server's medians of KEYS, the drain ratio, and the goals met or not
    (None when a figure is missing)."""
    out = {}
    for name, rs in bench_sxs.by_server(b):
        out[name] = {k: median([r[k] for r in rs]) for k in KEYS}
        out[name]["runs"] = len(rs)
    pi, pf = out.get("postino"), out.get("postfix")
    ratio = (pi["drain_msgs_per_s"] / pf["drain_msgs_per_s"]) if pi and pf else None
    goals = {
        "idle_cpu_pct": {"value": pi and pi["idle_cpu_pct"], "goal": "< %g" % GOALS["idle_cpu_pct"]},
        "drain_ratio": {"value": ratio and round(ratio, 3), "goal": ">= %g" % GOALS["drain_ratio"]},
        "rss_bytes_per_msg": {"value": pi and pi["rss_bytes_per_msg"],
                              "goal": "< %g" % GOALS["rss_bytes_per_msg"]}}
    for k, g in goals.items():
        v = g["value"]
        g["met"] = None if v is None else (v >= GOALS[k] if k == "drain_ratio" else v < GOALS[k])
    return {"servers": out, "drain_ratio": ratio and round(ratio, 3), "goals": goals}


def yes_no(v):
    return "n/a" if v is None else "yes" if v else "no"


def cell(s, name, key, f):
    v = s["servers"].get(name, {}).get(key)
    return "-" if v is None else f % v


def mem_cell(s, name, k):
    v = s["servers"].get(name)
    if not v:
        return "-"
    return "%.1f / %.1f" % (v["base_%s_kib" % k] / 1024.0, v["idle_%s_kib" % k] / 1024.0)


def render(b):
    s = b["summary"]
    L = ["# postino vs Postfix: a backlog for a next hop that is down, then its drain\n",
         "Generated by `bench/run.sh` (bench/bench.py, `MODE=backlog`) on %s (run took %s). "
         "%d messages of %d bytes of body queued over %d sessions, idle %g s, %d run(s) per "
         "server; figures are medians over the runs. The servers ran **one after the other** "
         "(only one at a time on the machine: fairer on %s CPUs than running both), each "
         "through fill, idle and drain.\n" % (
             b["started"], b["took"], b["messages"], b["msg_size"], b["sessions"],
             b["idle_seconds"], b["runs"], b["machine"]["nproc"]),
         "Machine: %s CPU(s), %s, %s, %s (%s), kernel %s; Postfix %s; postino %s (commit %s).\n" % (
             b["machine"]["nproc"], b["machine"]["cpu"], b["machine"]["memory"],
             b["machine"]["fs"], b["machine"]["fs_dir"], b["machine"]["kernel"],
             b["machine"]["postfix"], b["machine"]["postino"], b["machine"]["commit"]),
         "## Goals (issue 16), computed from the medians below\n",
         "| goal | value | met |", "|---|---:|---|"]
    g = s["goals"]
    L.append("| postino idle CPU under 1%% of a core | %s | %s |" % (
        "-" if g["idle_cpu_pct"]["value"] is None else "%.2f%%" % g["idle_cpu_pct"]["value"],
        yes_no(g["idle_cpu_pct"]["met"])))
    L.append("| postino drain rate at least 2x Postfix's | %s | %s |" % (
        "-" if g["drain_ratio"]["value"] is None else "%.2fx" % g["drain_ratio"]["value"],
        yes_no(g["drain_ratio"]["met"])))
    L.append("| postino Rss under 300 B per queued message beyond its base | %s | %s |" % (
        "-" if g["rss_bytes_per_msg"]["value"] is None else "%.0f B" % g["rss_bytes_per_msg"]["value"],
        yes_no(g["rss_bytes_per_msg"]["met"])))
    L += ["", "## Each server\n", "| | postino | Postfix |", "|---|---:|---:|"]
    rows = (("idle CPU, % of one core", "idle_cpu_pct", "%.2f"),
            ("Rss per queued message beyond the base, bytes", "rss_bytes_per_msg", "%.0f"),
            ("Pss per queued message beyond the base, bytes", "pss_bytes_per_msg", "%.0f"),
            ("the same, Rss of the core processes only, bytes",
             "core_rss_bytes_per_msg", "%.0f"),
            ("the same, Pss of those processes only, bytes", "core_pss_bytes_per_msg", "%.0f"),
            ("Rss empty (base) / full (idle), MiB", None, None),
            ("Pss empty (base) / full (idle), MiB", None, None),
            ("processes while idle", "idle_procs", "%d"),
            ("drain rate, messages/s", "drain_msgs_per_s", "%.0f"),
            ("drain time (flush until the queue is empty), s", "drain_seconds", "%.2f"),
            ("of which until the sink had them all, s", "drain_sink_seconds", "%.2f"),
            ("CPU time during the drain, s", "drain_cpu_seconds", "%.1f"),
            ("SMTP sessions to the sink during the drain", "sink_sessions", "%d"),
            ("fill: smtp-source start until all queued, s", "queued_seconds", "%.1f"))
    for label, key, f in rows:
        if key:
            L.append("| %s | %s | %s |" % (label, cell(s, "postino", key, f), cell(s, "postfix", key, f)))
        else:
            k = "rss" if label.startswith("Rss") else "pss"
            L.append("| %s | %s | %s |" % (label, mem_cell(s, "postino", k), mem_cell(s, "postfix", k)))
    L.append("")
    L.append("Drain ratio postino / Postfix: %s.\n" % (
        "-" if s["drain_ratio"] is None else "%.2f" % s["drain_ratio"]))
    L += render_tail(b, METHOD.format(n=b["messages"], hop=HOP, idle=b["idle_seconds"]), [
        "postino.conf:\n\n```\n%s```\n" % postino_conf("DIR/postino", b["pi_port"], HOP),
        "Postfix main.cf (master.cf as in the relay section):\n\n```\n%s```\n" % postfix_main(
            "DIR/postfix", b["pf_port"], HOP, "as in relay mode, relayhost down until the drain")],
        "MODE=backlog BACKLOG_MESSAGES=%d IDLE_SECONDS=%g" % (b["messages"], b["idle_seconds"]))
    return "\n".join(L)


METHOD = """## Method

Each server is set up as in relay mode, but its relayhost is {hop}, where nothing listens until
the drain: every delivery attempt is refused (connection refused), so every message is deferred.
Base: the memory (Pss and Rss summed over all the server's processes: the Postfix master and all
its children, or postino) of the started, empty server. Fill: `smtp-source` sends {n} messages,
one per connection; the driver then waits until the server holds them all (postino: the total of
`postino queue summary --json`; Postfix: the files under queue/ incoming, active, deferred, hold
and maildrop, the same count twice in a row) and until the server's processes use under 5% of a
core over a second (the first delivery attempts are over; at most SETTLE_MAX seconds). Idle:
{idle:g} s, sampled every second: CPU time is utime + stime of each process of the server (a
process reaped during the window counts up to its last sample; reaped children's cumulated times
are not added), memory the median of the samples. Postfix's processes that served the fill
(smtpd, cleanup, trivial-rewrite, smtp) stay until their max_idle (100 s) runs out, and count in
its memory while idle ("processes while idle"); the rows "of the core processes only" leave them
out, by name (/proc/PID/comm: smtpd, cleanup, trivial-rewrite, smtp, anvil, scache, bounce,
error, proxymap), at base and while idle: what stays is master, qmgr (which holds the active
queue), pickup, postlogd and the like; for postino its one process (`base_processes` and
`idle_processes` in every run name them). A process's Pss falls when more processes share its
pages, so the core processes' Pss can drop below their base while the load's processes linger
(a negative figure); their Rss is the figure to read there. The goal is read on Rss. Bytes per queued message: (idle - base) / N.
Drain: smtp-sink (counting with `-c`, no dump) starts on {hop}, then at once `postino queue
flush` or `postqueue -c DIR/etc -f`; the clock runs from the flush until the queue is empty (the
sink's count is polled every 50 ms until it has all N messages, then the queue as above). Runs
of the two servers alternate in order when RUNS > 1.
"""


# ---------------------------------------------------------------- main

def fields(srvs):
    return {"messages": MESSAGES, "msg_size": MSG_SIZE, "sessions": SESSIONS,
            "idle_seconds": IDLE_SECONDS, "runs": RUNS, "hop": HOP,
            "servers": [s.name for s in srvs], "pf_port": PF_PORT, "pi_port": PI_PORT,
            "order": "one after the other"}


def make_sink(top):
    return Sink(top, "127.0.0.1", HOP_PORT, dump=False)


def main():
    return bench_sxs.main("backlog", RUNS, fields, make_sink, one_run, summary, render,
                          errors=bench_sxs.ERRORS + (ValueError, KeyError), keep_sink=False)
