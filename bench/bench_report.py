"""
bench_report: what a benchmark run writes. render() turns a mode's results
into its Markdown section (medians, min/max, the postino/postfix ratio, the
machine, the exact configurations and commands, and how to read the figures;
in observe mode the two postino variants, their ratio and the 5% verdict, which
observe_summary computes from the runs, for RESULTS.md and results.json);
RESULTS.md holds one section per mode between markers, so a run of one mode
replaces its own section and keeps the others (read_sections,
write_sections); read_json reads the raw results; write_modes and
write_section put sections into RESULTS and blocks into RESULTS_JSON.
"""
import json
import os
import platform
import shutil
import statistics
import subprocess

from bench_conf import (CONF_MODE, MODES, OBSERVE_LIMIT, OBSERVE_VARIANTS, ONLY, POSTINO_BIN, RCPT,
                        RESULTS, RESULTS_JSON, ROOT, SINK_DIR, SINK_USER, VGID, VUID, log)
from bench_servers import (POSTFIX_MAIN, POSTFIX_MASTER, POSTINO_CONF, Postfix, Postino, Sink,
                           sink_hop)
from bench_run import smtp_source_cmd


READING_NOTE = {"maildir": """## Reading the figures

The spread between runs of the same server comes mostly from the file system, not the
servers: ext4's inode allocator skips inodes freed in the last 60-300 seconds, checking each
one it passes, so a run that follows the deletion of an earlier run's 10000 files pays
kernel time on every file it creates (the slow postino runs show it as doubled CPU time per
message). Postfix pays it on every message anyway, since it creates and deletes a queue file
per message; postino recycles its queue files and creates one file per message, the Maildir
copy. The medians are the comparison; the CPU time per message is the steadiest figure.
""", "sendmail": """## Reading the figures

Every message costs a process: the sendmail command is started, reads the message from its
stdin, makes it durable and exits, so the submission rate includes the fork and exec of the
command (and, for Postfix, of postdrop, which sendmail runs) and its fsyncs, and it is bounded
by how many workers submit at once. End to end adds the server's pickup of the drop file,
queueing and delivery to the Maildir; the two rates differ by how far delivery lags behind
submission. postino watches its maildrop with inotify; Postfix's postdrop wakes pickup through
the public/pickup socket (pickup's 60 s wakeup timer is only the fallback), so neither side
waits on a polling interval (the "seconds" and "of which submitting" columns agree to within the
50 ms poll: delivery keeps up). Both make the same durable writes per message: the drop file
(fsync'd by the command), a queue file (postino's pickup copies the untrusted drop file into its
queue; Postfix's pickup hands it to cleanup, which writes an incoming queue file) and the Maildir
file. The server's CPU time excludes the sendmail processes, which are reported separately; the
CPU time per message is the steadiest figure. postino's Pss includes libssl/libcrypto, which it
links, and varies with how many other processes map the same pages at that moment.
""", "relay": """## Reading the figures

Each message crosses two SMTP hops: smtp-source opens one connection per message to the
server, which queues it (fsync) and relays it to smtp-sink with its SMTP client, which may
reuse a connection for further messages (the "sink sessions" column: how many SMTP sessions
the server opened to the sink in a run; fewer than the messages means reuse). The sink's work (it appends
every message to a dump file on a tmpfs, so that it never competes for the disk with the
servers' fsyncs) is the same for both servers and is not counted in their CPU time or
memory. The clock stops when the sink has counted all the messages; the dump is then
checked, after the settle time and with the server stopped, for exactly N messages with N
distinct Message-Ids (smtp-source gives every message its own), so a message relayed twice
or lost fails the run. The CPU time per message is the steadiest figure.
"""}


# ---------------------------------------------------------------- report

def sh(cmd):
    try:
        return subprocess.run(cmd, shell=True, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                              text=True, timeout=10).stdout.strip()
    except Exception:
        return ""


def machine_info(top):
    cpu = ""
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    mem = sh("awk '/MemTotal/ {printf \"%.1f GiB\", $2/1048576}' /proc/meminfo")
    return {
        "nproc": sh("nproc"),
        "cpu": cpu,
        "memory": mem,
        "kernel": platform.release(),
        "fs": sh("df -T %s | awk 'NR==2 {print $2}'" % top) or "?",
        "fs_dir": os.path.dirname(top),
        "os": sh(". /etc/os-release && echo $PRETTY_NAME"),
        "postfix": sh("%s -d mail_version | sed 's/.*= //'" % (shutil.which("postconf") or "postconf")),
        "postino": sh("%s --version" % POSTINO_BIN) if ONLY != "postfix" else "",
        "commit": sh("cd %s && git rev-parse --short HEAD && (git diff --quiet HEAD || echo '(with uncommitted changes)')" % ROOT).replace("\n", " "),
    }


def mib(kib):
    return "%.1f" % (kib / 1024.0)


TITLE = {"maildir": "# postino vs Postfix: end-to-end SMTP-to-Maildir benchmark\n",
         "relay": "# postino vs Postfix: end-to-end relay benchmark (SMTP in, SMTP out to smtp-sink)\n",
         "sendmail": "# postino vs Postfix: local submission benchmark (sendmail command to Maildir)\n",
         "observe": "# postino: what metrics and JSON logs cost (SMTP to Maildir, postino alone)\n"}


def header(mode, b, per):
    """The title, when and how the section was made, the load at the start."""
    L = [TITLE[mode]]
    L.append("Generated by %s on %s (run took %s)." % (
        "`bench/bench.py` (`MODE=sendmail`)" if mode == "sendmail" else
        "`bench/run.sh` (bench/bench.py, `MODE=%s`)" % mode, b["started"], b["took"]))
    L.append("%d message(s) of %d bytes of body per run, %d run(s) per %s and session count; "
             "figures are medians (min-max in brackets).\n" % (b["messages"], b["msg_size"],
                                                                 b["runs"], per))
    if "load_start" in b:
        L.append("Load average (1, 5, 15 min) when this mode's runs began: %s.%s\n" % (
            b["load_start"], (" " + b["note"]) if b.get("note") else ""))
    return L


def machine_table(mode, b):
    info, relay = b["machine"], mode == "relay"
    L = ["## Machine\n", "| | |\n|---|---|"]
    L.append("| CPUs (nproc) | %s (%s) |" % (info["nproc"], info["cpu"] or "?"))
    L.append("| memory | %s |" % info["memory"])
    L.append("| kernel | %s |" % info["kernel"])
    L.append("| OS | %s |" % info["os"])
    L.append("| file system of the queues%s | %s (%s) |" % (
        "" if relay else " and Maildirs", info["fs"], info["fs_dir"]))
    if relay:
        L.append("| smtp-sink's dump | %s (%s) |" % (b.get("sink_fs", "?"), b.get("sink_dir", "?")))
    if mode != "observe":
        L.append("| Postfix | %s |" % info["postfix"])
    if info["postino"]:
        L.append("| postino | %s, commit %s |" % (info["postino"], info["commit"]))
    L.append("")
    return L


def run_extra(mode, r):
    """The mode's own columns of a run in the "Every run" table: (heading, cells)."""
    if mode == "relay":
        return (" sink msgs / distinct | sink sessions | sink CPU s |", " %d / %d | %d | %.1f |" % (
            r["sink_messages"], r["sink_distinct"], r["sink_sessions"], r["sink_cpu_seconds"]))
    if mode == "sendmail":
        return (" submit msgs/s | sendmail CPU s | distinct in Maildir |", " %.0f | %s | %d |" % (
            r["submit_msgs_per_s"], "-" if r["client_cpu_seconds"] is None
            else "%.1f" % r["client_cpu_seconds"], r["distinct"]))
    if mode == "observe":
        return (" metrics scrapes | JSON log lines / lines |", " %d | %d / %d |" % (
            r["scrapes"], r["json_log_lines"], r["log_lines"]))
    return ("", "")


def every_run(mode, b):
    """The "Every run" section: one row per run, with the other load around it."""
    results, relay, sm = b["results"], mode == "relay", mode == "sendmail"
    loader = "the sendmail commands" if sm else "smtp-source"
    L = ["## Every run\n"]
    L.append("\"Other load\" is the share of all CPUs that something other than the server, "
             + loader + ", %sthe driver, the kernel's threads and interrupts kept busy: in the second "
             "before the run (server up and idle) and during the run; \"load\" is the 1-minute "
             "load average at the start (which counts the benchmark's own earlier runs too).\n" % (
                 "smtp-sink, " if relay else ""))
    L.append("A run during which the other load passed 10%% was repeated, up to %d times "
             "(the last attempt counts whatever it measured).\n" % b["retry_busy"])
    busy = [r for r in results if max(r["busy_before"], r["other_busy_during"]) > 0.10]
    if busy:
        L.append("**Warning: during %d of %d runs other work kept more than 10%% of the CPUs "
                 "busy; their messages/s understate the server.** Rerun on a quiet machine "
                 "for figures to quote.\n" % (len(busy), len(results)))
    extra_h = run_extra(mode, results[0])[0] if results else ""
    L.append("| %s | %s | run | seconds | of which %s | msgs/s | peak Pss MiB | peak Rss MiB | CPU s "
             "| other load before | other load during | load |%s" % (
                 "variant" if mode == "observe" else "server", "workers" if sm else "sessions",
                 "submitting" if sm else "injecting", extra_h))
    L.append("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|" + "---:|" * extra_h.count("|"))
    for r in results:
        L.append("| %s | %d | %d | %.2f | %.2f | %.0f | %s | %s | %.1f | %.0f%% | %.0f%% | %.1f |%s" % (
            r["server"], r["sessions"], r["run"], r["seconds"], r["inject_seconds"],
            r["msgs_per_s"], mib(r["peak_pss_kib"]), mib(r["peak_rss_kib"]),
            r["cpu_seconds"], 100 * r["busy_before"], 100 * r["other_busy_during"],
            r["load1_before"], run_extra(mode, r)[1]))
    L.append("")
    return L


def render(mode, b):
    """The Markdown section of one mode, from its block of results.json."""
    if mode == "observe":
        return render_observe(b)
    results, failures, info = b["results"], b["failures"], b["machine"]
    sessions, messages = b["sessions"], b["messages"]
    names = b["servers"]
    relay = mode == "relay"
    sm = mode == "sendmail"
    col = "workers" if sm else "sessions"

    def pick(srv, s, key):
        return [r[key] for r in results if r["server"] == srv and r["sessions"] == s]

    def table(key, fmt, scale=1.0):
        rows = []
        for s in sessions:
            cells, med = [], {}
            for n in ("postino", "postfix"):
                v = [x * scale for x in pick(n, s, key)]
                if v:
                    med[n] = statistics.median(v)
                    cells.append(("%s (%s-%s)" % (fmt, fmt, fmt)) % (med[n], min(v), max(v)))
                else:
                    cells.append("-")
            ratio = "%.2f" % (med["postino"] / med["postfix"]) if len(med) == 2 and med["postfix"] else "-"
            rows.append("| %d | %s | %s | %s |" % (s, cells[0], cells[1], ratio))
        rows.insert(0, "|---:|---:|---:|---:|")
        rows.insert(0, "| %s | postino | Postfix | postino / Postfix |" % col)
        return rows

    L = header(mode, b, "server")
    if "postino" not in names:
        L.append("**Postfix only** (ONLY=postfix): the postino columns are empty. "
                 "Run `make bench` for the comparison.\n")
    if "postfix" not in names:
        L.append("**postino only** (ONLY=postino).\n")
    L += machine_table(mode, b)

    if relay:
        L.append("## Throughput: messages/s, end to end (smtp-source start until smtp-sink has "
                 "received all of them)\n")
    elif sm:
        L.append("## Submission: messages/s until every sendmail command has exited 0\n")
        L.append("The rate at which W parallel workers (the first column) get messages accepted "
                 "(durably queued) by the sendmail command, one process per message. Delivery "
                 "keeps up with submission, so the end-to-end rate below is close to it (the "
                 "Maildir is counted every 50 ms once the last command has exited).\n")
        L += table("submit_msgs_per_s", "%.0f")
        L.append("")
        L.append("## Throughput: messages/s, end to end (first sendmail started until all are in "
                 "the Maildir)\n")
    else:
        L.append("## Throughput: messages/s, end to end (smtp-source start until all are in the Maildir)\n")
    L += table("msgs_per_s", "%.0f")
    L.append("")

    L.append("## Peak memory: proportional set size (Pss) summed over the server's processes, MiB\n")
    L.append("Sampled every 100 ms from /proc/PID/smaps_rollup during the run; Rss (summed, so "
             "shared pages count once per process) for reference%s.\n" % (
                 "; smtp-sink is not counted" if relay else
                 "; the sendmail commands (and Postfix's postdrop) are not counted" if sm else ""))
    if relay:
        L.append("| %s | postino Pss | Postfix Pss | Pss postino / Postfix | postino Rss " % col +
                 "| Postfix Rss | Rss postino / Postfix |")
        L.append("|---:|---:|---:|---:|---:|---:|---:|")
    else:
        L.append("| %s | postino Pss | Postfix Pss | postino / Postfix | postino Rss | Postfix Rss |" % col)
        L.append("|---:|---:|---:|---:|---:|---:|")
    for s in sessions:
        row, med, rss, rmed = [], {}, [], {}
        for n in ("postino", "postfix"):
            v = pick(n, s, "peak_pss_kib")
            if v:
                med[n] = statistics.median(v)
                row.append("%s (%s-%s)" % (mib(med[n]), mib(min(v)), mib(max(v))))
            else:
                row.append("-")
            v = pick(n, s, "peak_rss_kib")
            if v:
                rmed[n] = statistics.median(v)
                rss.append("%s (%s-%s)" % (mib(rmed[n]), mib(min(v)), mib(max(v))) if relay
                           else mib(rmed[n]))
            else:
                rss.append("-")
        ratio = "%.2f" % (med["postino"] / med["postfix"]) if len(med) == 2 and med["postfix"] else "-"
        if relay:
            rratio = "%.3f" % (rmed["postino"] / rmed["postfix"]) if len(rmed) == 2 and rmed["postfix"] else "-"
            L.append("| %d | %s | %s | %s | %s | %s | %s |" % (s, row[0], row[1], ratio, rss[0],
                                                              rss[1], rratio))
        else:
            L.append("| %d | %s | %s | %s | %s | %s |" % (s, row[0], row[1], ratio, rss[0], rss[1]))
    L.append("")

    L.append("## CPU time of the server, ms per message (user + system, all its processes)\n")
    L.append("Less sensitive than messages/s to other load on the machine; "
             "%s%s own CPU time is not counted.\n" % (
                 "the sendmail commands' (and postdrop's)" if sm else "smtp-source's",
                 " and smtp-sink's" if relay else ""))
    L += table("cpu_seconds", "%.2f", 1000.0 / messages)
    L.append("")
    if sm:
        L.append("## CPU time of the sendmail commands, ms per message (user + system)\n")
        L.append("The client side, not in the server's figures above: `postino sendmail`, or "
                 "Postfix's sendmail and the postdrop it runs (the driver's own Python threads "
                 "are not counted).\n")
        L += table("client_cpu_seconds", "%.2f", 1000.0 / messages)
        L.append("")

    if relay:
        L.append("## At the sink\n")
        L.append("Checked after each run (the server stopped, %g s after the last message "
                 "arrived): messages the sink counted, and in its dump the messages and the "
                 "distinct Message-Ids; SMTP sessions the server opened to the sink.\n" % b["settle"])
        L.append("| sessions | server | runs | every message exactly once | sink sessions per run |")
        L.append("|---:|---|---:|---|---:|")
        for s in sessions:
            for n in ("postino", "postfix"):
                rs = [r for r in results if r["server"] == n and r["sessions"] == s]
                fs = [f for f in failures if f["server"] == n and f["sessions"] == s]
                if not rs and not fs:
                    continue
                ok = sum(1 for r in rs if r["sink_messages"] == r["sink_records"]
                         == r["sink_distinct"] == messages)
                sess = [r["sink_sessions"] for r in rs]
                L.append("| %d | %s | %d | %s | %s |" % (
                    s, n, len(rs) + len(fs),
                    "%d of %d runs" % (ok, len(rs) + len(fs)),
                    ("%.0f (%d-%d)" % (statistics.median(sess), min(sess), max(sess))) if sess else "-"))
        L.append("")

    if failures:
        L.append("## Failed runs (not in the figures above)\n")
        for f in failures:
            L.append("- %s, %d sessions, run %d: %s" % (f["server"], f["sessions"], f["run"],
                                                        f["error"].splitlines()[0][:300]))
        L.append("")

    L += every_run(mode, b)
    L.append(READING_NOTE[mode])
    L.append("## Method and exact commands\n")
    if relay:
        L.append("Before each run the server's scratch directory and the sink's dump are removed "
                 "and `sync` is run; smtp-sink and then the server are started, and the clock "
                 "starts when smtp-source does. smtp-source opens one connection per message (no "
                 "`-d`), so each message is a whole SMTP session into the server: greeting, HELO, "
                 "MAIL, RCPT, DATA, QUIT. The server relays every message to its relayhost, "
                 "smtp-sink on %s. The clock stops when smtp-sink's message counter (`-c`, read "
                 "every 50 ms once smtp-source has finished) reaches the number sent. Both servers "
                 "fsync their queue files; the sink does not fsync. Runs alternate between the "
                 "servers.\n" % sink_hop())
    elif sm:
        L.append("Both servers are set up exactly as in the maildir mode (same main.cf, master.cf "
                 "with its pickup service, and postino.conf; their SMTP listeners are up but "
                 "unused). Before each run the server's scratch directory is removed and made "
                 "anew and `sync` is run; the server is started, and the clock starts when the "
                 "load does: W worker threads of a Python driver (`bench.py --sendmail-load`) each "
                 "run the server's sendmail command once per message, the message (%d bytes of "
                 "body, a unique `Subject: bench message I` and Message-ID) on its stdin, the "
                 "messages dealt round robin; every command must exit 0. Submission ends when the "
                 "last one has exited; the clock stops when the recipient's Maildir `new/` holds "
                 "all the messages (counted every 50 ms from then on). The server is then "
                 "stopped and the Maildir checked: exactly N files, every subject 0..N-1 exactly "
                 "once, or the run fails. `postino sendmail` writes the message to "
                 "`DATA_DIR/maildrop/` (file and directory fsync'd) and the server picks it up "
                 "through inotify; Postfix's sendmail runs postdrop (setgid postdrop), which "
                 "writes `queue/maildrop/` and wakes pickup(8) through `public/pickup`, and "
                 "pickup passes the message to cleanup, qmgr and virtual(8). Both fsync queue "
                 "files and Maildir files. Both commands run as root. Runs alternate between the "
                 "servers.\n" % b["msg_size"])
    else:
        L.append("Before each run the server's scratch directory is removed and made anew and `sync` "
                 "is run; the server is started, and the clock starts when smtp-source does. "
                 "smtp-source opens one connection per message (no `-d`), so each message is a whole "
                 "SMTP session: greeting, HELO, MAIL, RCPT, DATA, QUIT. The clock stops when the "
                 "recipient's Maildir `new/` holds all the messages (counted every 50 ms once "
                 "smtp-source has finished). Both servers fsync queue files and Maildir files. "
                 "Runs alternate between the servers.\n")
    if sm:
        L.append("Load, for W in %s, once per message and worker (message on stdin):\n" %
                 " ".join(map(str, sessions)))
        L.append("```\n%s     # postino\n%s    # Postfix\n```\n" % (
            " ".join(Postino(".").sendmail_cmd("DIR/postino/postino.conf")),
            " ".join(Postfix(".").sendmail_cmd("DIR/postfix/etc"))))
    else:
        L.append("Load, for S in %s:\n" % " ".join(map(str, sessions)))
        L.append("```\n%s\n```\n" % " ".join(smtp_source_cmd(mode, "S", "PORT")))
    if relay:
        L.append("Sink (started before the server, as root; it drops to %s; SINKDIR is a "
                 "directory on %s):\n" % (SINK_USER, b.get("sink_dir", SINK_DIR)))
        L.append("```\n%s > SINKDIR/counters\n```\n" % " ".join(Sink(".").command("SINKDIR/dump")))
    L.append("Postfix %s (PORT %d; private instance, not the system one%s):\n" % (
        info["postfix"], b["pf_port"], "" if relay else
        "; mailboxes owned by uid/gid %d/%d" % (VUID, VGID)))
    L.append("```\npostfix -c DIR/postfix/etc start      # stop: postfix -c DIR/postfix/etc stop\n```\n")
    L.append("DIR/postfix/etc/main.cf:\n")
    L.append("```\n%s```\n" % POSTFIX_MAIN[CONF_MODE[mode]].format(w="DIR/postfix", port=b["pf_port"], uid=VUID,
                                                         gid=VGID, sink=b.get("sink", sink_hop())))
    L.append("DIR/postfix/etc/master.cf:\n")
    L.append("```\n%s```\n" % POSTFIX_MASTER.format(port=b["pf_port"]))
    if not relay:
        L.append("DIR/postfix/etc/vmailbox:\n\n```\n%s bench.test/u/\n```\n" % RCPT[mode])
    L.append("postino (PORT %d):\n" % b["pi_port"])
    L.append("```\npostino serve -c DIR/postino/postino.conf\n```\n")
    L.append("DIR/postino/postino.conf:\n")
    L.append("```\n%s```\n" % POSTINO_CONF[CONF_MODE[mode]].format(w="DIR/postino", port=b["pi_port"],
                                                         sink=b.get("sink", sink_hop())))
    if sm:
        L.append("Reproduce (as root, after `make build/postino`): `MODE=sendmail RUNS=%d "
                 "MESSAGES=%d SESSIONS=\"%s\" python3 bench/bench.py` (MODE=both, the default "
                 "of `make bench`, does not include this mode).\n" % (
                     b["runs"], messages, " ".join(map(str, sessions))))
    else:
        L.append("Reproduce: `make bench` (both modes) or `MODE=%s RUNS=%d MESSAGES=%d SESSIONS=\"%s\" "
                 "bench/run.sh`.\n" % (mode, b["runs"], messages, " ".join(map(str, sessions))))
    return "\n".join(L)


# ---------------------------------------------------------------- observe mode

OBSERVE_KEYS = ("msgs_per_s", "peak_pss_kib", "peak_rss_kib", "cpu_ms_per_msg")


def observe_value(r, key):
    return r["cpu_seconds"] * 1000.0 / r["messages"] if key == "cpu_ms_per_msg" else r[key]


def observe_summary(b):
    """Per session count (a string key, as in JSON): each variant's runs and
    (median, min, max) of OBSERVE_KEYS, the ratio metrics+json / default of the
    medians, and the verdict within_5pct: metrics+json keeps at least
    OBSERVE_LIMIT of default's messages/s (None unless both have runs)."""
    base, test = OBSERVE_VARIANTS[0][0], OBSERVE_VARIANTS[1][0]
    out = {}
    for s in b["sessions"]:
        var = {}
        for name in (base, test):
            rs = [r for r in b["results"] if r["server"] == name and r["sessions"] == s]
            if rs:
                var[name] = {"runs": len(rs)}
                for k in OBSERVE_KEYS:
                    v = [observe_value(r, k) for r in rs]
                    var[name][k] = [round(x, 3) for x in (statistics.median(v), min(v), max(v))]
        ratio = {k: round(var[test][k][0] / var[base][k][0], 3) for k in OBSERVE_KEYS
                 if var[base][k][0]} if len(var) == 2 else {}
        out[str(s)] = {"variants": var, "ratio": ratio, "limit": OBSERVE_LIMIT,
                       "within_5pct": ratio["msgs_per_s"] >= OBSERVE_LIMIT
                       if "msgs_per_s" in ratio else None}
    return out


def observe_verdict(s, sm):
    """The verdict lines of one session count, from observe_summary."""
    pct = round((1 - sm["limit"]) * 100)
    if sm["within_5pct"] is None:
        return ["- %d sessions: **within %d%%: n/a** (no runs of both variants)" % (s, pct)]
    r = sm["ratio"]
    return ["- %d sessions: metrics+json / default = **%.3f** in messages/s (medians); "
            "**within %d%%: %s**" % (s, r["msgs_per_s"], pct, "yes" if sm["within_5pct"] else "no"),
            "  (peak Pss %s, CPU time per message %s)%s" % (
                "%.3f" % r["peak_pss_kib"] if "peak_pss_kib" in r else "-",
                "%.3f" % r["cpu_ms_per_msg"] if "cpu_ms_per_msg" in r else "-",
                "; metrics+json faster by more than %d%% can only be noise: more runs, or a "
                "quieter machine, would tell" % pct if r["msgs_per_s"] > 2 - sm["limit"] else "")]


def observe_table(b, summary):
    L = ["| sessions | variant | runs | msgs/s | peak Pss MiB | peak Rss MiB | CPU ms per message |",
         "|---:|---|---:|---:|---:|---:|---:|"]
    fmt = {"msgs_per_s": lambda x: "%.0f" % x, "cpu_ms_per_msg": lambda x: "%.3f" % x}
    for s in b["sessions"]:
        for name, v in summary[str(s)]["variants"].items():
            cells = []
            for k in OBSERVE_KEYS:
                f = fmt.get(k, lambda x: mib(x))
                cells.append("%s (%s-%s)" % tuple(f(x) for x in v[k]))
            L.append("| %d | %s | %d | %s |" % (s, name, v["runs"], " | ".join(cells)))
    return L + [""]


OBSERVE_NOTE = """## Reading the figures

Both variants are the same binary with the same maildir configuration; "metrics+json" adds the
`listen metrics` line (its HTTP listener, answered by the server, and the counters and histograms
it keeps) and `log_format json` (every log line, written to the server's stderr, a file, as one
JSON object). The driver scrapes `GET /metrics` once the server is up and then every second, as a
Prometheus would (more often); the scraper's own CPU time is the driver's, not the server's, but
the server's work to answer it is counted. The variants run alternately (A B B A A B ...), each
with a fresh directory and a `sync` before every run, so that a drift of the machine weighs on
both. The verdict compares the medians of messages/s: "within 5%" means metrics+json keeps at
least 95% of default's rate. The spread between runs of one variant comes mostly from the file
system (see the maildir section): with few runs it can exceed 5%, so compare the min-max ranges
too; the CPU time per message is the steadiest figure.
"""


def observe_method(b):
    L = ["## Method and exact commands\n"]
    L.append("Before each run the variant's scratch directory is removed and made anew and `sync` is "
             "run; the server is started (and, metrics+json, its metrics port polled until it "
             "accepts), and the clock starts when smtp-source does: one connection per message "
             "(no `-d`). The clock stops when the Maildir `new/` holds all the messages (counted "
             "every 50 ms once smtp-source has finished). After the run, with the server stopped, "
             "the run fails unless every scrape answered and the log is all JSON lines "
             "(metrics+json) or none (default).\n")
    L.append("Load, for S in %s:\n" % " ".join(map(str, b["sessions"])))
    L.append("```\n%s\n```\n" % " ".join(smtp_source_cmd("observe", "S", "PORT")))
    for name, v in b["variants"].items():
        srv = Postino("DIR", name, v["metrics"], v["extra"])
        L.append("%s: `postino serve -c DIR/%s/postino.conf` (PORT %d%s), where postino.conf is:\n" % (
            name, os.path.basename(srv.w), b["pi_port"],
            "; MPORT a free port, or PI_METRICS" if v["metrics"] else ""))
        L.append("```\n%s```\n" % srv.config_text("observe", srv.w, b["pi_port"], sink_hop(), "MPORT"))
    L.append("Reproduce: `MODE=observe RUNS=%d MESSAGES=%d SESSIONS=\"%s\" bench/run.sh` (as root, "
             "after `make build/postino`; `make bench` runs it after maildir and relay).\n" % (
                 b["runs"], b["messages"], " ".join(map(str, b["sessions"]))))
    return L


def render_observe(b):
    """The observe mode's section: the verdict, each variant's figures, every run, how."""
    summary = b.get("summary") or observe_summary(b)
    L = header("observe", b, "variant")
    L.append("postino alone, delivering to a Maildir as in the maildir mode, in two variants run "
             "alternately in the same run: **default** (the plain bench config) and "
             "**metrics+json** (`listen metrics` scraped every second, and `log_format json`).\n")
    L += machine_table("observe", b)
    L.append("## Verdict: metrics+json against default\n")
    for s in b["sessions"]:
        L += observe_verdict(s, summary[str(s)])
    L.append("")
    L.append("## Each variant: messages/s end to end, peak memory (Pss and Rss summed over the "
             "server's processes, sampled every 100 ms), CPU time of the server\n")
    L += observe_table(b, summary)
    if b["failures"]:
        L.append("## Failed runs (not in the figures above)\n")
        L += ["- %s, %d sessions, run %d: %s" % (f["server"], f["sessions"], f["run"],
                                                f["error"].splitlines()[0][:300]) for f in b["failures"]]
        L.append("")
    L += every_run("observe", b)
    L.append(OBSERVE_NOTE)
    L += observe_method(b)
    return "\n".join(L)


# RESULTS.md holds one section per mode between these markers; a run of one
# mode replaces its own section and keeps the others as they were. Sections
# named in KEPT are written by hand (A/B comparisons of two commits) and kept.
BEGIN, END = "<!-- bench:%s begin -->", "<!-- bench:%s end -->"
KEPT = ("ab",)


def read_sections(path):
    try:
        with open(path) as f:
            text = f.read()
    except OSError:
        return {}
    out = {}
    for m in tuple(MODES) + KEPT:
        b, e = text.find(BEGIN % m), text.find(END % m)
        if b >= 0 and e > b:
            out[m] = text[b + len(BEGIN % m):e].strip("\n") + "\n"
    if not out and text.startswith(TITLE["maildir"].strip()):
        out["maildir"] = text.rstrip("\n") + "\n"     # before there were sections
    return out


def write_sections(path, sections):
    parts = ["<!-- Written by bench/bench.py: one section per mode (MODE=maildir, MODE=relay, "
             "MODE=sendmail, MODE=observe, MODE=web, MODE=backlog, "
             "MODE=fanout); "
             "a run of one mode rewrites its own section only. -->\n"]
    for m in tuple(MODES) + KEPT:
        if m in sections:
            parts.append("%s\n%s%s\n" % (BEGIN % m, sections[m], END % m))
    with open(path, "w") as f:
        f.write("\n".join(parts))


def read_json(path):
    try:
        with open(path) as f:
            data = json.load(f)
    except (OSError, ValueError):
        return {}
    if "results" in data:            # before there were modes: maildir only
        return {"maildir": data}
    return data


def write_modes(texts, blocks):
    """Each mode's section texts[mode] into RESULTS (the other sections kept),
    its block blocks[mode] into RESULTS_JSON."""
    sections = read_sections(RESULTS)
    data = read_json(RESULTS_JSON)
    for mode, b in blocks.items():
        sections[mode] = texts[mode]
        data[mode] = b
    write_sections(RESULTS, sections)
    with open(RESULTS_JSON, "w") as f:
        json.dump(data, f, indent=1)
    log("wrote %s and %s" % (RESULTS, RESULTS_JSON))


def write_section(mode, text, block):
    write_modes({mode: text}, {mode: block})
