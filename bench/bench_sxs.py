"""
bench_sxs: what the modes that run the servers side by side, one at a time
(MODE=backlog, MODE=fanout), have in common: a server set up as in relay mode
with its configuration replaced (setup, postino_conf, postfix_main), waiting
for a quiet machine, the driver itself (main: scratch directories, the runs
with the servers' order alternating, failed runs recorded, ^C, clean-up, the
section written) and the report (by_server: each server's runs; render_tail:
failed runs, every run, the method, the configurations, how to reproduce).
"""
import datetime
import json
import os
import shutil
import subprocess
import tempfile
import time

from bench_conf import (BENCH_DIR, KEEP, ONLY, QUIET_BUSY, QUIET_WAIT, SINK_DIR, VGID, VUID,
                        BenchError, log)
from bench_proc import machine_busy
from bench_report import machine_info, write_section
from bench_servers import POSTFIX_MAIN, POSTINO_CONF, Postfix, Postino

ERRORS = (BenchError, subprocess.TimeoutExpired)


# ---------------------------------------------------------------- the servers

def setup(srv, postino_text, postfix_text, files=None):
    """Fresh state for srv (as relay mode makes it), then its config replaced:
    postino.conf by postino_text, or main.cf by postfix_text; files: more
    {name: text} written beside main.cf (Postfix only)."""
    srv.prepare("relay")
    if srv.name == "postfix":
        with open(os.path.join(srv.conf, "main.cf"), "w") as f:
            f.write(postfix_text)
        for name, text in (files or {}).items():
            with open(os.path.join(srv.conf, name), "w") as f:
                f.write(text)
    else:
        with open(srv.conf, "w") as f:
            f.write(postino_text)


def postfix_main(w, port, relayhost, comment, extra=""):
    """The relay mode's main.cf with its own comment, relayhost and extra lines."""
    body = POSTFIX_MAIN["relay"].format(w=w, port=port, uid=VUID, gid=VGID, sink=relayhost)
    body = "".join(l for l in body.splitlines(True) if not l.startswith("#"))
    return "".join("# " + l + "\n" for l in comment.splitlines()) + body + extra


def postino_conf(w, port, relayhost, extra=""):
    text = POSTINO_CONF["relay"].format(w=w, port=port, sink=relayhost)
    if not relayhost:
        text = "".join(l for l in text.splitlines(True) if not l.startswith("relayhost"))
    return text + extra


def servers(top):
    return ([Postfix(top)] if ONLY in ("", "postfix") else []) + \
        ([Postino(top, extra=[])] if ONLY in ("", "postino") else [])


def quiet_machine():
    """Wait (bounded by QUIET_WAIT) for a second in which the CPUs are mostly idle;
    the share of them busy in the last second waited."""
    until = time.monotonic() + QUIET_WAIT
    busy = machine_busy(1.0)
    while busy > QUIET_BUSY and time.monotonic() < until:
        busy = machine_busy(1.0)
    return busy


# ---------------------------------------------------------------- the driver

def scratch(mode):
    """(the servers' scratch directory on BENCH_DIR, the sinks' on SINK_DIR,
    owned by the sink's user)."""
    os.makedirs(BENCH_DIR, exist_ok=True)
    top = tempfile.mkdtemp(prefix="postino-bench-%s." % mode, dir=BENCH_DIR)
    os.chmod(top, 0o755)
    sink_top = tempfile.mkdtemp(prefix="postino-bench-sink.", dir=SINK_DIR)
    os.chmod(sink_top, 0o755)
    os.chown(sink_top, VUID, VGID)
    return top, sink_top


def run_all(mode, runs, srvs, sink, one_run, errors, b):
    """runs runs of each server, one at a time, the order alternating; a run
    that raises one of errors goes to b["failures"] and the next one goes on."""
    for r in range(1, runs + 1):
        for srv in (srvs if r % 2 else list(reversed(srvs))):
            try:
                b["results"].append(one_run(srv, sink, r))
            except errors as e:
                b["failures"].append({"server": srv.name, "run": r, "error": str(e)})
                log("%s %s run %d FAILED: %s" % (mode, srv.name, r, e))


def main(mode, runs, fields, make_sink, one_run, summary, render, errors=ERRORS, keep_sink=True):
    """The driver of a side-by-side mode: fields(srvs) gives the mode's own
    settings for its results.json block, make_sink(sink_top) its sink (or
    sinks: start, stop), one_run(srv, sink, run) a run's result; summary(b) and
    render(b) make the block's summary and the section. KEEP keeps the
    servers' scratch directory, and the sinks' too with keep_sink. Returns the
    exit status (1 when a run failed)."""
    top, sink_top = scratch(mode)
    sink = make_sink(sink_top)
    srvs = servers(top)
    started = datetime.datetime.now(datetime.timezone.utc)
    b = {"machine": machine_info(top)}
    b.update(fields(srvs))
    b.update({"started": started.strftime("%Y-%m-%d %H:%M UTC"), "results": [], "failures": []})
    try:
        run_all(mode, runs, srvs, sink, one_run, errors, b)
    except KeyboardInterrupt:
        log("interrupted; writing what was measured")
        b["interrupted"] = True
    finally:
        for srv in srvs:
            srv.stop()
        sink.stop()
        if KEEP:
            log("kept %s and %s" % (top, sink_top) if keep_sink else "kept %s" % top)
        else:
            shutil.rmtree(top, ignore_errors=True)
        if not (KEEP and keep_sink):
            shutil.rmtree(sink_top, ignore_errors=True)
    b["took"] = str(datetime.datetime.now(datetime.timezone.utc) - started).split(".")[0]
    b["summary"] = summary(b)
    write_section(mode, render(b), b)
    return 1 if b["failures"] else 0


# ---------------------------------------------------------------- the report

def by_server(b):
    """(name, its runs) of postino, then of Postfix, each if it has runs in b."""
    for name in ("postino", "postfix"):
        rs = [r for r in b["results"] if r["server"] == name]
        if rs:
            yield name, rs


def render_tail(b, method, confs, knobs):
    """The lines that end a section: the failed runs, every run (JSON), the
    method, the configurations (confs, a list of blocks) and the command that
    reproduces the run (knobs: its environment, e.g. "MODE=fanout RUNS=3")."""
    L = []
    if b["failures"]:
        L.append("## Failed runs (not in the figures above)\n")
        L += ["- %s, run %d: %s" % (f["server"], f["run"], f["error"].splitlines()[0][:300])
              for f in b["failures"]]
        L.append("")
    L += ["## Every run\n", "```", json.dumps(b["results"], indent=1), "```\n", method]
    L += confs
    L.append("Reproduce (as root, after `make build/postino`): `%s bench/run.sh`.\n" % knobs)
    return L
