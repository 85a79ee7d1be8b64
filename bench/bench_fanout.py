"""
bench_fanout: one message to many recipients at many domains (MODE=fanout;
postino against a private Postfix). bench.py hands MODE=fanout to main() here;
the driver, the set-up and the end of the section are bench_sxs's.

FANOUT_DOMAINS (100) domains d000.test, d001.test, ..., each with its own peer:
an smtp-sink on 127.0.1.(I+1):FANOUT_PORT (2827) that counts sessions and
messages (-c) and dumps every transaction with its RCPT TO lines (-D, on a
tmpfs). Both servers are told the same routes (postino: `route d000.test
[127.0.1.1]:2827`; Postfix: transport_maps `d000.test smtp:[127.0.1.1]:2827`),
and both accept up to 10,000 recipients per message (postino: `max_recipients
10000`; Postfix: `smtpd_recipient_limit = 10000`; both default to 1000).

For each run (RUNS, 3; the order of the servers alternates; one server at a
time): fresh state and `sync`, the sinks and the server started, then the
driver submits ONE message of MSG_SIZE (4096) bytes of body over SMTP (Python's
smtplib: MAIL, FANOUT_RCPTS (100) RCPT per domain, so 10,000 in all, DATA) to
the server; the clock runs from the connection until the sinks have received
every recipient (the RCPT TO lines in their dumps, polled every 100 ms). Then,
SETTLE seconds later and with the server stopped, every recipient must be at
its own domain's sink exactly once. Measured: seconds, recipients/s, the SMTP
sessions the server opened to the sinks (all sinks together), the transactions
(messages) the sinks received, the server's CPU time and peak memory.

Knobs: FANOUT_DOMAINS, FANOUT_RCPTS, FANOUT_PORT, FANOUT_NET (127.0.1.), RUNS,
ONLY, MSG_SIZE, TIMEOUT, SETTLE, QUIET_WAIT, PF_PORT, PI_PORT, BENCH_DIR,
SINK_DIR, KEEP, POSTINO_BIN, RESULTS, RESULTS_JSON.
"""
import os
import smtplib
import statistics
import subprocess
import time

import bench_sxs
from bench_conf import (HELO, KEEP, MSG_SIZE, PF_PORT, PI_PORT, SENDER, SETTLE, TIMEOUT,
                        BenchError, log)
from bench_proc import CpuWindow, mem_kib, tail
from bench_servers import Sink
from bench_sxs import postfix_main, postino_conf, quiet_machine, render_tail, setup

DOMAINS = int(os.environ.get("FANOUT_DOMAINS", "100"))
RCPTS = int(os.environ.get("FANOUT_RCPTS", "100"))
PORT = int(os.environ.get("FANOUT_PORT", "2827"))
NET = os.environ.get("FANOUT_NET", "127.0.1.")
RUNS = int(os.environ.get("RUNS", "3"))
TOTAL = DOMAINS * RCPTS
RCPT_LIMIT = max(10000, TOTAL)


def domain(i):
    return "d%03d.test" % i


def hop(i):
    return "%s%d" % (NET, i + 1)


def recipients():
    return ["r%03d@%s" % (j, domain(i)) for i in range(DOMAINS) for j in range(RCPTS)]


def postino_text(w, port):
    return postino_conf(w, port, "", "max_recipients %d\n" % RCPT_LIMIT + "".join(
        "route %s [%s]:%d\n" % (domain(i), hop(i), PORT) for i in range(DOMAINS)))


def postfix_text(w, port):
    return postfix_main(w, port, "", "Private Postfix instance for bench/bench.py, MODE=fanout: "
                        "as in relay mode, no relayhost;\nevery d*.test domain routed to its own "
                        "smtp-sink by transport_maps.",
                        "transport_maps = texthash:%s/etc/transport\n"
                        "smtpd_recipient_limit = %d\n" % (w, RCPT_LIMIT))


def transport_text():
    return "".join("%s smtp:[%s]:%d\n" % (domain(i), hop(i), PORT) for i in range(DOMAINS))


def message():
    body = ("x" * 75 + "\r\n") * (MSG_SIZE // 77)
    return ("From: <%s>\r\nTo: undisclosed-recipients:;\r\nSubject: bench fanout\r\n"
            "Message-ID: <fanout.%d@%s>\r\n\r\n%s" % (SENDER, time.time_ns(), HELO, body)).encode()


# ---------------------------------------------------------------- the sinks

class Sinks:
    """One smtp-sink per domain; the recipients in their dumps, re-read only
    when a dump has grown."""

    def __init__(self, top):
        self.sinks = [Sink(top, hop(i), PORT, dump=True, name=domain(i) + ".") for i in range(DOMAINS)]
        self.seen = {}

    def start(self):
        for s in self.sinks:
            s.prepare()
        self.seen = {}
        for s in self.sinks:
            s.start()
        self.base = [s.read_counters() for s in self.sinks]

    def stop(self):
        for s in self.sinks:
            s.stop()
            if not KEEP:
                s.prepare()

    def rcpts(self, i):
        """(recipient lines, set of recipients) in sink i's dump."""
        s = self.sinks[i]
        try:
            size = os.stat(s.dump).st_size
        except FileNotFoundError:
            return 0, set()
        if self.seen.get(i, (None,))[0] != size:
            lines, addrs = 0, set()
            with open(s.dump, "rb") as f:
                for line in f:
                    if line.startswith(b"X-Rcpt-Args: "):
                        lines += 1
                        addrs.add(line[13:].strip().split(b" ")[0].strip(b"<>").decode())
            self.seen[i] = (size, lines, addrs)
        return self.seen[i][1], self.seen[i][2]

    def arrived(self):
        return sum(self.rcpts(i)[0] for i in range(DOMAINS))

    def check(self):
        """(recipient lines, distinct and at the right sink, sessions, messages)."""
        lines, right, sess, mesg = 0, 0, 0, 0
        for i, s in enumerate(self.sinks):
            n, addrs = self.rcpts(i)
            lines += n
            right += sum(1 for a in addrs if a.endswith("@" + domain(i)))
            c = s.read_counters()
            sess += c[0] - self.base[i][0]
            mesg += c[2] - self.base[i][2]
        return lines, right, sess, mesg


# ---------------------------------------------------------------- one run

def submit(srv):
    with smtplib.SMTP("127.0.0.1", srv.port, timeout=TIMEOUT) as c:
        c.ehlo(HELO)
        refused = c.sendmail(SENDER, recipients(), message())
    if refused:
        raise BenchError("%d recipients refused, e.g. %s" % (len(refused), next(iter(refused.items()))))


def one_run(srv, sinks, run_no):
    setup(srv, postino_text(srv.w, srv.port), postfix_text(srv.w, srv.port),
          {"transport": transport_text()})
    subprocess.run(["sync"], timeout=300)
    res = {"server": srv.name, "run": run_no, "recipients": TOTAL, "domains": DOMAINS}
    try:
        sinks.start()
        srv.start()
        res["busy_before"] = round(quiet_machine(), 3)
        cpu = CpuWindow(srv)
        cpu.start()
        peak_pss = peak_rss = 0
        t0 = time.monotonic()
        try:
            submit(srv)
        except (smtplib.SMTPException, OSError) as e:
            raise BenchError("submission: %s" % e)
        res["accepted_seconds"] = round(time.monotonic() - t0, 3)
        n, deadline = 0, t0 + TIMEOUT
        while n < TOTAL:
            if time.monotonic() > deadline:
                raise BenchError("%d of %d recipients at the sinks after %.0f s\n%s" % (
                    n, TOTAL, TIMEOUT, tail(srv.logfile)))
            pss, rss = mem_kib(srv.pids())
            peak_pss, peak_rss = max(peak_pss, pss), max(peak_rss, rss)
            cpu.sample()
            time.sleep(0.1)
            n = sinks.arrived()
        secs = time.monotonic() - t0
        res.update({"seconds": round(secs, 3), "rcpts_per_s": round(TOTAL / secs, 1),
                    "cpu_seconds": round(cpu.sample(), 2), "peak_pss_kib": peak_pss,
                    "peak_rss_kib": peak_rss})
        time.sleep(SETTLE)
        srv.stop()
        lines, right, sess, mesg = sinks.check()
        res.update({"sink_rcpt_lines": lines, "sink_rcpts_distinct": right,
                    "sink_sessions": sess, "sink_messages": mesg})
        if lines != TOTAL or right != TOTAL:
            raise BenchError("the sinks got %d recipients, %d distinct at their own domain's "
                             "sink; expected %d, each once" % (lines, right, TOTAL))
        return res
    finally:
        srv.stop()
        sinks.stop()


# ---------------------------------------------------------------- the report

KEYS = (("seconds", "time to deliver all, s", "%.2f"),
        ("rcpts_per_s", "recipients/s", "%.0f"),
        ("accepted_seconds", "of which the submission (until DATA accepted), s", "%.2f"),
        ("sink_sessions", "SMTP sessions to the sinks", "%d"),
        ("sink_messages", "transactions (messages) at the sinks", "%d"),
        ("cpu_seconds", "CPU time of the server, s", "%.2f"),
        ("peak_pss_kib", "peak Pss, KiB", "%.0f"),
        ("peak_rss_kib", "peak Rss, KiB", "%.0f"))


def summary(b):
    out = {}
    for name, rs in bench_sxs.by_server(b):
        out[name] = {k: [statistics.median([r[k] for r in rs]), min(r[k] for r in rs),
                         max(r[k] for r in rs)] for k, _, _ in KEYS}
        out[name]["runs"] = len(rs)
    ratio = None
    if len(out) == 2 and out["postfix"]["seconds"][0]:
        ratio = round(out["postino"]["seconds"][0] / out["postfix"]["seconds"][0], 3)
    return {"servers": out, "time_ratio": ratio}


def render(b):
    s = b["summary"]
    L = ["# postino vs Postfix: one message to %d recipients at %d domains\n" % (
             b["recipients"], b["domains"]),
         "Generated by `bench/run.sh` (bench/bench.py, `MODE=fanout`) on %s (run took %s). One "
         "message of %d bytes of body to %d recipients per domain at %d domains, each domain "
         "with its own smtp-sink; %d run(s) per server, one server at a time; medians "
         "(min-max in brackets).\n" % (b["started"], b["took"], b["msg_size"], b["rcpts"],
                                       b["domains"], b["runs"]),
         "Machine: %s CPU(s), %s, %s, %s, kernel %s; Postfix %s; postino %s (commit %s).\n" % (
             b["machine"]["nproc"], b["machine"]["cpu"], b["machine"]["memory"],
             b["machine"]["fs"], b["machine"]["kernel"], b["machine"]["postfix"],
             b["machine"]["postino"], b["machine"]["commit"]),
         "| | postino | Postfix |", "|---|---:|---:|"]
    for k, label, f in KEYS:
        cells = []
        for name in ("postino", "postfix"):
            v = s["servers"].get(name, {}).get(k)
            cells.append("-" if v is None else ("%s (%s-%s)" % (f, f, f)) % tuple(v))
        L.append("| %s | %s | %s |" % (label, cells[0], cells[1]))
    L.append("")
    L.append("Time to deliver all, postino / Postfix: %s (under 1: postino faster).\n" % (
        "-" if s["time_ratio"] is None else "%.2f" % s["time_ratio"]))
    L += render_tail(b, METHOD.format(total=b["recipients"], limit=RCPT_LIMIT, port=PORT,
                                      last=hop(b["domains"] - 1), settle=b["settle"]), [
        "postino.conf (one `route` per domain; the first two and the last shown):\n\n"
        "```\n%s```\n" % short(postino_text("DIR/postino", b["pi_port"])),
        "Postfix main.cf (master.cf as in the relay section) and transport (same "
        "abbreviation):\n\n```\n%s```\n\n```\n%s```\n" % (
            postfix_text("DIR/postfix", b["pf_port"]), short(transport_text()))],
        "MODE=fanout RUNS=%d%s" % (b["runs"], "" if (b["domains"], b["rcpts"]) == (100, 100) else
                                   " FANOUT_DOMAINS=%d FANOUT_RCPTS=%d" % (b["domains"], b["rcpts"])))
    return "\n".join(L)


def short(text):
    """text with its run of per-domain lines cut to the first two and the last."""
    lines = text.splitlines(True)
    dom = [i for i, l in enumerate(lines) if ".test" in l]
    if len(dom) <= 4:
        return text
    return "".join(lines[:dom[2]] + ["...\n"] + lines[dom[-1]:])


METHOD = """## Method

Each server is set up as in relay mode without a relayhost; each domain dNNN.test goes to its
own peer, smtp-sink on 127.0.1.(NNN+1):{port} (through {last}), started before the server, which
counts sessions and messages (`-c`) and dumps every transaction on a tmpfs (`-D`), RCPT TO lines
included. Both servers accept {limit} recipients per message (postino `max_recipients`, Postfix
`smtpd_recipient_limit`; both default to 1000); the rest is their defaults (Postfix: 50
recipients per delivery, destination concurrency from 5 up to 20; postino: its own). The driver
submits one message with {total} RCPT TO commands over one SMTP session (Python's smtplib, no
pipelining); the clock runs from the connection until the RCPT TO lines in the sinks' dumps number
{total} (read every 100 ms). {settle:g} s later, with the server stopped, every recipient must be
at its own domain's sink exactly once, or the run fails. Sessions and transactions are summed
over all the sinks (each sink's start-up probe excluded). CPU time: utime + stime of the server's
processes during the run; peak memory (Pss and Rss summed over its processes) sampled every 100 ms
from the end of the submission on.
"""


# ---------------------------------------------------------------- main

def fields(srvs):
    return {"recipients": TOTAL, "domains": DOMAINS, "rcpts": RCPTS, "msg_size": MSG_SIZE,
            "runs": RUNS, "servers": [s.name for s in srvs], "pf_port": PF_PORT, "pi_port": PI_PORT,
            "sink_port": PORT, "settle": SETTLE, "rcpt_limit": RCPT_LIMIT}


def logged_run(srv, sinks, r):
    res = one_run(srv, sinks, r)
    log("fanout %s run %d: %.2f s (%.0f recipients/s), %d sessions, %d transactions, "
        "CPU %.2f s" % (srv.name, r, res["seconds"], res["rcpts_per_s"],
                        res["sink_sessions"], res["sink_messages"], res["cpu_seconds"]))
    return res


def main():
    return bench_sxs.main("fanout", RUNS, fields, Sinks, logged_run, summary, render)
