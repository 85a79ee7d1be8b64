"""
bench_run: one measured run of one server at one session count (one_run,
measure): fresh state, the load (smtp-source, or the sendmail load: this
module's sendmail_load, run as `bench.py --sendmail-load`), the clock, the
memory and CPU samples, and the check that every message arrived exactly
once (and, in observe mode, that the variant was what it claims: its metrics
scraped without a failure, its log all JSON lines or none). MESSAGES is the
message count of the mode being run (bench.py's main sets it per mode).
"""
import json
import os
import re
import resource
import subprocess
import sys
import tempfile
import time

from bench_conf import (HELO, HERE, KEEP, MEM_EVERY, MESSAGES_ENV, MSG_SIZE, POLL, QUIET_BUSY,
                        QUIET_WAIT, RCPT, SENDER, SETTLE, SMTP_SOURCE, TIMEOUT, BenchError)
from bench_proc import (CLK_TCK, count_files, cpu_seconds, cpu_snap, kthread_cpu, machine_busy,
                        mem_kib, own_cpu, tail)


MESSAGES = int(MESSAGES_ENV or "10000")  # set per mode by bench.py's main()


# ---------------------------------------------------------------- one run

def smtp_source_cmd(mode, sessions, port):
    return [SMTP_SOURCE, "-s", str(sessions), "-m", str(MESSAGES), "-l", str(MSG_SIZE),
            "-M", HELO, "-f", SENDER, "-t", RCPT[mode], "127.0.0.1:%s" % port]


def bench_message(i, size):
    """Message number i of the sendmail load: a unique Subject and Message-ID
    and a body of size bytes (lines of 76 x's)."""
    head = ("From: <%s>\nTo: <%s>\nSubject: bench message %d\n"
            "Message-ID: <bench.%d@%s>\n\n" % (SENDER, RCPT["sendmail"], i, i, HELO))
    body = ("x" * 75 + "\n") * (size // 76)
    body += "x" * (size - len(body) - 1) + "\n" if size - len(body) > 1 else "\n" * (size - len(body))
    return (head + body).encode()


SUBJECT_RE = re.compile(rb"^Subject: bench message (\d+)$", re.M)


def sendmail_load(argv):
    """The sendmail mode's load, run as a child of the driver (like
    smtp-source): `bench.py --sendmail-load P N SIZE -- CMD...`. P threads
    each run CMD once per message (message on stdin), messages 0..N-1 dealt
    round robin; every CMD must exit 0. Prints the CPU time of all the CMD
    processes (and theirs: postdrop) as "client-cpu SECONDS"."""
    import threading
    workers, n, size = int(argv[0]), int(argv[1]), int(argv[2])
    cmd = argv[4:]
    errors = []

    def worker(w):
        for i in range(w, n, workers):
            if errors:
                return
            p = subprocess.run(cmd, input=bench_message(i, size), stdout=subprocess.DEVNULL,
                               stderr=subprocess.PIPE)
            if p.returncode != 0:
                errors.append("message %d: %s exited %d: %s" % (
                    i, cmd[0], p.returncode, p.stderr.decode(errors="replace").strip()[-500:]))
                return
    threads = [threading.Thread(target=worker, args=(w,)) for w in range(workers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    ru = resource.getrusage(resource.RUSAGE_CHILDREN)
    print("client-cpu %.3f" % (ru.ru_utime + ru.ru_stime), flush=True)
    if errors:
        print("\n".join(errors[:5]), file=sys.stderr, flush=True)
        return 1
    return 0


def load_cmd(mode, sessions, srv):
    if mode == "sendmail":
        return [sys.executable, os.path.join(HERE, "bench.py"), "--sendmail-load", str(sessions),
                str(MESSAGES), str(MSG_SIZE), "--"] + srv.sendmail_cmd()
    return smtp_source_cmd(mode, sessions, srv.port)


def check_subjects(d):
    """Every message 0..MESSAGES-1 exactly once in the Maildir directory d
    (by the Subject the sendmail load gave it); raise otherwise."""
    seen, bad = {}, 0
    for name in os.listdir(d):
        with open(os.path.join(d, name), "rb") as f:
            head = f.read(4096).split(b"\n\n", 1)[0]
        m = SUBJECT_RE.search(head)
        if not m:
            bad += 1
            continue
        i = int(m.group(1))
        seen[i] = seen.get(i, 0) + 1
    dup = sum(1 for c in seen.values() if c > 1)
    missing = sum(1 for i in range(MESSAGES) if i not in seen)
    if bad or dup or missing or len(seen) != MESSAGES:
        raise BenchError("Maildir check: %d distinct messages of %d, %d duplicated, %d missing, "
                         "%d files without a bench Subject" % (len(seen), MESSAGES, dup, missing, bad))
    return len(seen)


def check_observed(srv):
    """Observe mode: the variant's metrics were scraped (and never failed) if it
    serves them, and its log lines are all JSON objects with log_format json, none
    otherwise; raise if not. Returns the counts for the results."""
    lines = json_lines = 0
    with open(srv.logfile, "rb") as f:
        for line in f:
            lines += 1
            try:
                json_lines += isinstance(json.loads(line), dict)
            except ValueError:
                pass
    want_json = "log_format json" in srv.extra
    if lines == 0 or json_lines != (lines if want_json else 0):
        raise BenchError("%s: %d of %d log lines are JSON, expected %s" % (
            srv.name, json_lines, lines, "all" if want_json else "none"))
    if srv.metrics and (srv.scrapes == 0 or srv.scrape_failures):
        raise BenchError("%s: %d metrics scrapes, %d failed" % (
            srv.name, srv.scrapes, srv.scrape_failures))
    return {"log_lines": lines, "json_log_lines": json_lines, "scrapes": srv.scrapes,
            "scrape_failures": srv.scrape_failures}


def one_run(srv, sessions, mode, sink=None):
    srv.prepare(mode)
    if mode == "relay":
        sink.prepare()
    subprocess.run(["sync"], timeout=120)
    try:
        if mode == "relay":
            sink.start()
            arrived = sink.messages
        else:
            arrived = lambda: count_files(srv.maildir_new)   # noqa: E731
        srv.start()
        if mode == "sendmail" and srv.name == "postfix":
            srv.check_postdrop()
        res = measure(srv, sessions, mode, arrived, sink)
        if mode == "relay":
            # wait for stray late (duplicate) deliveries, stop the server so
            # that nothing more can arrive, then check the sink's dump
            time.sleep(SETTLE)
            srv.stop()
            _, _, base_mesg = res.pop("sink_base")
            sess, _, mesg = sink.read_counters()
            records, distinct, no_id = sink.check_dump()
            res.update({"sink_messages": mesg - base_mesg, "sink_records": records,
                        "sink_distinct": distinct, "sink_sessions": sess - res.pop("sink_base_sess")})
            if mesg - base_mesg != MESSAGES or records != MESSAGES or distinct != MESSAGES or no_id:
                raise BenchError("the sink received %d messages (dump: %d, %d distinct Message-Ids, "
                                 "%d without one), expected %d, each once" % (
                                     mesg - base_mesg, records, distinct, no_id, MESSAGES))
        else:
            time.sleep(0.3)
            n = count_files(srv.maildir_new)
            if n != MESSAGES:
                raise BenchError("%d files in Maildir, expected %d" % (n, MESSAGES))
            if mode == "sendmail":
                srv.stop()          # nothing more may arrive
                n = count_files(srv.maildir_new)
                if n != MESSAGES:
                    raise BenchError("%d files in Maildir after stop, expected %d" % (n, MESSAGES))
                res["distinct"] = check_subjects(srv.maildir_new)
            if mode == "observe":
                srv.stop()          # the log is complete, the scraper done
                res.update(check_observed(srv))
        return res
    finally:
        srv.stop()
        if mode == "relay":
            sink.stop()
            if not KEEP:
                sink.prepare()      # the dump is ~45 MB of tmpfs (memory) per run


def measure(srv, sessions, mode, arrived, sink):
    with open("/proc/loadavg") as f:
        load1 = float(f.read().split()[0])
    # the server is idle now: what keeps the CPUs busy is someone else;
    # wait (bounded) for a quiet second, as other work skews the figures
    quiet_until = time.monotonic() + QUIET_WAIT
    busy = machine_busy(1.0)
    while busy > QUIET_BUSY and time.monotonic() < quiet_until:
        busy = machine_busy(1.0)
    base_cpu = cpu_seconds(srv.pids())
    base_pss, base_rss = mem_kib(srv.pids())
    peak_pss, peak_rss = base_pss, base_rss
    sink_base = sink.read_counters() if sink else (0, 0, 0)
    sink_cpu0 = sink.cpu() if sink else 0.0
    outf = tempfile.TemporaryFile()
    all0, busy0 = cpu_snap()
    own0, kt0 = own_cpu(), kthread_cpu()
    t0 = time.monotonic()
    src = subprocess.Popen(load_cmd(mode, sessions, srv), stdin=subprocess.DEVNULL,
                           stdout=outf, stderr=subprocess.STDOUT)
    deadline = t0 + TIMEOUT
    next_mem = t0
    seen = set()
    t_inject = t_done = None
    n = 0
    try:
        while True:
            now = time.monotonic()
            if now >= next_mem:
                pids = srv.pids()
                seen.update(pids)
                pss, rss = mem_kib(pids)
                peak_pss, peak_rss = max(peak_pss, pss), max(peak_rss, rss)
                next_mem = now + MEM_EVERY
            if t_inject is None and src.poll() is not None:
                t_inject = time.monotonic()
                if src.returncode != 0:
                    outf.seek(0)
                    raise BenchError("%s exited %d: %s" % (
                        "the sendmail load" if mode == "sendmail" else "smtp-source", src.returncode, outf.read().decode(errors="replace")[-2000:]))
            if t_inject is not None:
                # all deliveries can finish only after all injections:
                # count only then, so the poll does not compete with the load
                n = arrived()
                if mode == "relay":
                    n -= sink_base[2]
                if n >= MESSAGES:
                    t_done = time.monotonic()
                    cpu = cpu_seconds(srv.pids()) - base_cpu
                    sink_cpu = (sink.cpu() - sink_cpu0) if sink else 0.0
                    all1, busy1 = cpu_snap()
                    # CPU time that neither the server, smtp-source, the sink
                    # nor this script used: someone else's load during the run
                    # (nor the kernel's threads, which mostly work for it)
                    # Per-process times are whole clock ticks, truncated:
                    # allow up to a tick lost per server process (it
                    # matters only in short runs of a many-process server)
                    slack = (len(seen) + 4) / CLK_TCK
                    other = max(0.0, (busy1 - busy0) - cpu - sink_cpu - (own_cpu() - own0)
                                - (kthread_cpu() - kt0) - slack)
                    other_share = other / (all1 - all0) if all1 > all0 else 0.0
                    break
            if now > deadline:
                raise BenchError("timeout after %.0f s: smtp-source %s, %d of %d %s\n%s" % (
                    TIMEOUT, "done" if t_inject else "running", n, MESSAGES,
                    "at the sink" if mode == "relay" else "in Maildir", tail(srv.logfile)))
            time.sleep(POLL)
    finally:
        if src.poll() is None:
            src.kill()
            src.wait()
        outf.seek(0)
        src_out = outf.read()
        outf.close()
    elapsed = t_done - t0
    res = {"server": srv.name, "sessions": sessions, "messages": MESSAGES,
           "seconds": round(elapsed, 3), "inject_seconds": round(t_inject - t0, 3),
           "msgs_per_s": round(MESSAGES / elapsed, 1),
           "peak_pss_kib": peak_pss, "peak_rss_kib": peak_rss,
           "idle_pss_kib": base_pss, "cpu_seconds": round(cpu, 2),
           "busy_before": round(busy, 3), "load1_before": load1,
           "other_busy_during": round(other_share, 3)}
    if mode == "sendmail":
        # the sendmail (and postdrop) processes: not the server's CPU time
        m = re.search(rb"^client-cpu ([0-9.]+)$", src_out, re.M)
        res.update({"submit_msgs_per_s": round(MESSAGES / (t_inject - t0), 1),
                    "client_cpu_seconds": float(m.group(1)) if m else None})
    if sink:
        res.update({"sink_base": sink_base, "sink_base_sess": sink_base[0],
                    "sink_cpu_seconds": round(sink_cpu, 2)})
    return res
