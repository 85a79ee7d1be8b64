#!/usr/bin/python3
"""
bench: end-to-end throughput and memory of postino against a private Postfix.

For every session count in $SESSIONS and every run (1..$RUNS), and for each
server (postfix, postino; the order alternates from run to run):

  1. fresh state: the server's work directory is removed and made anew, then
     `sync`, so that no run inherits the previous run's dirty pages or queue;
  2. the server is started and the script waits until its SMTP port accepts;
  3. the clock starts, and `smtp-source -s S -m N -l 4096 ...` sends N
     messages over S parallel sessions (one full SMTP transaction per
     connection: no -d);
  4. the clock stops when the recipient's Maildir new/ directory holds N
     files; meanwhile, every 100 ms, the proportional set size (Pss) and the
     resident set size (Rss) of all the server's processes (the Postfix master
     and its descendants, or the postino process and its descendants) are read
     from /proc/PID/smaps_rollup and summed; the peak of each sum is kept;
  5. the server is stopped and the result checked (exactly N files).

Every step is bounded in time ($TIMEOUT per run). Results go to $RESULTS
(bench/RESULTS.md) as Markdown with medians, min/max, the postino/postfix
ratio, the machine and the exact commands; raw runs to $RESULTS_JSON.

Environment: RUNS (3), MESSAGES (10000), SESSIONS ("1 10 50"), MSG_SIZE (4096),
ONLY (postfix|postino, default both), TIMEOUT (seconds per run, 600),
QUIET_WAIT (seconds to wait before each run for the machine to be idle, 60),
RETRY_BUSY (times a run is repeated when other work kept more than 10% of the
CPUs busy during it, 2; the last attempt counts whatever it measured),
POSTINO_BIN (build/postino), PF_PORT (2625), PI_PORT (2725),
BENCH_DIR (parent of the scratch directory, /var/tmp), KEEP=1 keeps it,
RESULTS, RESULTS_JSON. Must run as root (Postfix's master needs it).
"""
import datetime
import json
import os
import platform
import resource
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)

RUNS = int(os.environ.get("RUNS", "3"))
MESSAGES = int(os.environ.get("MESSAGES", "10000"))
SESSIONS = [int(s) for s in os.environ.get("SESSIONS", "1 10 50").split()]
MSG_SIZE = int(os.environ.get("MSG_SIZE", "4096"))
ONLY = os.environ.get("ONLY", "").strip()
TIMEOUT = float(os.environ.get("TIMEOUT", "600"))
POSTINO_BIN = os.path.abspath(os.environ.get("POSTINO_BIN", os.path.join(ROOT, "build", "postino")))
PF_PORT = int(os.environ.get("PF_PORT", "2625"))
PI_PORT = int(os.environ.get("PI_PORT", "2725"))
BENCH_DIR = os.environ.get("BENCH_DIR", "/var/tmp")
QUIET_WAIT = float(os.environ.get("QUIET_WAIT", "60"))   # s to wait for an idle machine
QUIET_BUSY = 0.10                                        # "idle": under 10% of CPUs busy
RETRY_BUSY = int(os.environ.get("RETRY_BUSY", "2"))      # repeats of a run that others disturbed
KEEP = os.environ.get("KEEP", "") == "1"
RESULTS = os.environ.get("RESULTS", os.path.join(HERE, "RESULTS.md"))
RESULTS_JSON = os.environ.get("RESULTS_JSON", os.path.join(HERE, "results.json"))

SMTP_SOURCE = shutil.which("smtp-source") or "/usr/sbin/smtp-source"
POSTFIX = shutil.which("postfix") or "/usr/sbin/postfix"
RCPT = "u@bench.test"
SENDER = "sender@bench.local"
HELO = "bench.client"
VUID = VGID = 65534          # nobody:nogroup owns the Postfix virtual mailboxes
POLL = 0.05                  # Maildir count poll interval (s)
MEM_EVERY = 0.1              # memory sample interval (s)



READING_NOTE = """## Reading the figures

The spread between runs of the same server comes mostly from the file system, not the
servers: ext4's inode allocator skips inodes freed in the last 60-300 seconds, checking each
one it passes, so a run that follows the deletion of an earlier run's 10000 files pays
kernel time on every file it creates (the slow postino runs show it as doubled CPU time per
message). Postfix pays it on every message anyway, since it creates and deletes a queue file
per message; postino recycles its queue files and creates one file per message, the Maildir
copy. The medians are the comparison; the CPU time per message is the steadiest figure.
"""

def log(msg):
    print("bench: " + msg, file=sys.stderr, flush=True)


class BenchError(Exception):
    pass


# ---------------------------------------------------------------- processes

def proc_children():
    """ppid -> [pid] for every process now on the machine."""
    kids = {}
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open("/proc/%s/stat" % name, "rb") as f:
                stat = f.read()
        except OSError:
            continue
        # comm may hold spaces and parentheses: fields follow the last ')'
        rest = stat[stat.rfind(b")") + 2:].split()
        kids.setdefault(int(rest[1]), []).append(int(name))
    return kids


def tree(root_pid):
    """root_pid and all its descendants (those alive now)."""
    if root_pid is None:
        return []
    kids = proc_children()
    out, todo = [], [root_pid]
    while todo:
        p = todo.pop()
        out.append(p)
        todo.extend(kids.get(p, ()))
    return out


def pid_alive(pid):
    try:
        os.kill(pid, 0)
        return True
    except ProcessLookupError:
        return False
    except PermissionError:
        return True


def mem_kib(pids):
    """(sum of Pss, sum of Rss) in KiB over pids, from smaps_rollup."""
    pss = rss = 0
    for p in pids:
        try:
            with open("/proc/%d/smaps_rollup" % p, "rb") as f:
                for line in f:
                    if line.startswith(b"Pss:"):
                        pss += int(line.split()[1])
                    elif line.startswith(b"Rss:"):
                        rss += int(line.split()[1])
        except OSError:
            pass    # gone in between, or a kernel thread
    return pss, rss


CLK_TCK = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pids):
    """CPU time (user + system) of pids, plus that of their reaped children.

    A reaped child's time is in its parent's cutime/cstime, and a live one's
    in its own fields, so summing all four over the live tree counts every
    process that ever ran under the root once (orphans reparented to init
    would be lost; neither server makes any)."""
    total = 0
    for p in pids:
        try:
            with open("/proc/%d/stat" % p, "rb") as f:
                stat = f.read()
        except OSError:
            continue
        rest = stat[stat.rfind(b")") + 2:].split()
        total += sum(int(x) for x in rest[11:15])   # utime stime cutime cstime
    return total / CLK_TCK


def cpu_snap():
    """(all CPU time, busy CPU time) of the machine so far, in seconds summed
    over the CPUs. Busy is user, nice, system and steal: not idle or iowait,
    and not irq and softirq, which go to whatever the network and the disks
    need (mostly the benchmark's own loopback traffic and fsyncs)."""
    with open("/proc/stat") as f:
        v = [int(x) for x in f.readline().split()[1:9]]
    user, nice, system, idle, iowait, irq, softirq, steal = v
    return sum(v) / CLK_TCK, (user + nice + system + steal) / CLK_TCK


def kthread_cpu():
    """CPU time of the kernel's threads (jbd2, kworkers: journal commits and
    writeback on behalf of whoever fsyncs, the benchmark included)."""
    total = 0
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open("/proc/%s/stat" % name, "rb") as f:
                stat = f.read()
        except OSError:
            continue
        rest = stat[stat.rfind(b")") + 2:].split()
        if name == "2" or rest[1] == b"2":
            total += int(rest[11]) + int(rest[12])
    return total / CLK_TCK


def own_cpu():
    """CPU time of this script and of its reaped children (smtp-source)."""
    a, b = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return a.ru_utime + a.ru_stime + b.ru_utime + b.ru_stime


def machine_busy(seconds=1.0):
    """Fraction of all CPUs busy (not idle or iowait) over the next seconds."""
    t1, b1 = cpu_snap()
    time.sleep(seconds)
    t2, b2 = cpu_snap()
    return 0.0 if t2 == t1 else (b2 - b1) / (t2 - t1)


def wait_port(port, deadline, alive=lambda: True):
    while time.monotonic() < deadline:
        if not alive():
            raise BenchError("server exited before listening on port %d" % port)
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1) as s:
                s.settimeout(2)
                try:
                    s.recv(512)          # the greeting: the server is serving
                except OSError:
                    pass
            return
        except OSError:
            time.sleep(0.1)
    raise BenchError("port %d never accepted a connection" % port)


def port_free(port):
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        s.bind(("127.0.0.1", port))
        return True
    except OSError:
        return False
    finally:
        s.close()


def run(cmd, timeout=60, check=True, **kw):
    p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                       timeout=timeout, text=True, **kw)
    if check and p.returncode != 0:
        raise BenchError("%s failed (%d): %s" % (" ".join(cmd), p.returncode, p.stdout.strip()[-2000:]))
    return p.stdout


def count_files(d):
    try:
        with os.scandir(d) as it:
            return sum(1 for _ in it)
    except FileNotFoundError:
        return 0


def tail(path, n=20):
    try:
        with open(path, errors="replace") as f:
            return "".join(f.readlines()[-n:])
    except OSError:
        return ""


# ---------------------------------------------------------------- servers

POSTFIX_MAIN = """\
# Private Postfix instance for bench/bench.py: default settings except what
# is needed to accept mail for bench.test on 127.0.0.1:{port} and deliver it
# with the virtual(8) agent into a Maildir. Queue files and Maildir files
# are fsync()ed (Postfix's default, which cannot be turned off).
compatibility_level = 3.6
queue_directory = {w}/queue
data_directory = {w}/data
mail_owner = postfix
setgid_group = postdrop
myhostname = bench.local
mydomain = bench.local
myorigin = $myhostname
mydestination =
inet_interfaces = 127.0.0.1
inet_protocols = ipv4
mynetworks = 127.0.0.0/8
smtpd_relay_restrictions = permit_mynetworks, reject_unauth_destination
smtpd_recipient_restrictions = permit_mynetworks, reject_unauth_destination
alias_maps =
alias_database =
local_recipient_maps =
local_transport = error:local delivery is disabled
relayhost =
virtual_mailbox_domains = bench.test
virtual_mailbox_base = {w}/mail
virtual_mailbox_maps = texthash:{w}/etc/vmailbox
virtual_uid_maps = static:{uid}
virtual_gid_maps = static:{gid}
maillog_file = {w}/maillog
default_process_limit = 100
biff = no
append_dot_mydomain = no
smtputf8_enable = no
"""

# Debian's master.cf less the pipe(8) examples and the services that need a
# chroot; chroot off everywhere (a chroot into a scratch queue directory would
# need /etc files copied into it, and changes nothing for this load).
POSTFIX_MASTER = """\
127.0.0.1:{port} inet n - n - - smtpd
pickup    unix  n       -       n       60      1       pickup
cleanup   unix  n       -       n       -       0       cleanup
qmgr      unix  n       -       n       300     1       qmgr
tlsmgr    unix  -       -       n       1000?   1       tlsmgr
rewrite   unix  -       -       n       -       -       trivial-rewrite
bounce    unix  -       -       n       -       0       bounce
defer     unix  -       -       n       -       0       bounce
trace     unix  -       -       n       -       0       bounce
verify    unix  -       -       n       -       1       verify
flush     unix  n       -       n       1000?   0       flush
proxymap  unix  -       -       n       -       -       proxymap
proxywrite unix -       -       n       -       1       proxymap
smtp      unix  -       -       n       -       -       smtp
relay     unix  -       -       n       -       -       smtp
showq     unix  n       -       n       -       -       showq
error     unix  -       -       n       -       -       error
retry     unix  -       -       n       -       -       error
discard   unix  -       -       n       -       -       discard
local     unix  -       n       n       -       -       local
virtual   unix  -       n       n       -       -       virtual
lmtp      unix  -       -       n       -       -       lmtp
anvil     unix  -       -       n       -       1       anvil
scache    unix  -       -       n       -       1       scache
postlog   unix-dgram n  -       n       -       1       postlogd
"""


class Postfix:
    name = "postfix"

    def __init__(self, top):
        self.w = os.path.join(top, "postfix")
        self.conf = os.path.join(self.w, "etc")
        self.port = PF_PORT
        self.maildir_new = os.path.join(self.w, "mail", "bench.test", "u", "new")
        self.logfile = os.path.join(self.w, "maillog")

    def command(self):
        return "%s -c %s start" % (POSTFIX, self.conf)

    def prepare(self):
        shutil.rmtree(self.w, ignore_errors=True)
        os.makedirs(self.conf)
        os.chmod(self.w, 0o755)
        os.mkdir(os.path.join(self.w, "queue"), 0o755)   # root-owned; `postfix start` fills it
        mail = os.path.join(self.w, "mail")
        os.mkdir(mail, 0o755)
        os.chown(mail, VUID, VGID)    # virtual(8) creates the Maildir as this uid
        with open(os.path.join(self.conf, "main.cf"), "w") as f:
            f.write(POSTFIX_MAIN.format(w=self.w, port=self.port, uid=VUID, gid=VGID))
        with open(os.path.join(self.conf, "master.cf"), "w") as f:
            f.write(POSTFIX_MASTER.format(port=self.port))
        with open(os.path.join(self.conf, "vmailbox"), "w") as f:
            f.write("%s bench.test/u/\n" % RCPT)   # trailing slash: Maildir

    def master_pid(self):
        try:
            with open(os.path.join(self.w, "queue", "pid", "master.pid")) as f:
                pid = int(f.read().split()[0])
            return pid if pid_alive(pid) else None
        except (OSError, ValueError, IndexError):
            return None

    def start(self):
        if not port_free(self.port):
            raise BenchError("port %d is in use" % self.port)
        run([POSTFIX, "-c", self.conf, "start"], timeout=60)
        deadline = time.monotonic() + 30
        while self.master_pid() is None:
            if time.monotonic() > deadline:
                raise BenchError("postfix master did not start:\n" + tail(self.logfile))
            time.sleep(0.05)
        wait_port(self.port, deadline, lambda: self.master_pid() is not None)

    def pids(self):
        return tree(self.master_pid())

    def stop(self):
        pid = self.master_pid()
        if pid is None:
            return
        procs = tree(pid)
        run([POSTFIX, "-c", self.conf, "stop"], timeout=60, check=False)
        deadline = time.monotonic() + 20
        while any(pid_alive(p) for p in procs) and time.monotonic() < deadline:
            time.sleep(0.05)
        for p in procs:
            if pid_alive(p):
                log("postfix process %d still alive after stop; killing it" % p)
                try:
                    os.kill(p, signal.SIGKILL)
                except OSError:
                    pass


class Postino:
    name = "postino"

    def __init__(self, top):
        self.w = os.path.join(top, "postino")
        self.conf = os.path.join(self.w, "postino.conf")
        self.port = PI_PORT
        self.maildir_new = os.path.join(self.w, "data", "mail", "bench.test", "u", "new")
        self.logfile = os.path.join(self.w, "postino.log")
        self.proc = None

    def command(self):
        return "%s serve -c %s" % (POSTINO_BIN, self.conf)

    def prepare(self):
        shutil.rmtree(self.w, ignore_errors=True)
        os.makedirs(os.path.join(self.w, "data"))
        with open(self.conf, "w") as f:
            f.write("hostname bench.local\n"
                    "data_dir %s/data\n"
                    "listen smtp 127.0.0.1:%d\n"
                    "local_domains bench.test\n"
                    "relay_networks 127.0.0.1/32\n"
                    "max_connections 1000\n"
                    "max_connections_per_ip 1000\n" % (self.w, self.port))

    def start(self):
        if not port_free(self.port):
            raise BenchError("port %d is in use" % self.port)
        logf = open(self.logfile, "ab")
        self.proc = subprocess.Popen([POSTINO_BIN, "serve", "-c", self.conf],
                                     stdin=subprocess.DEVNULL, stdout=logf, stderr=logf,
                                     cwd=self.w)
        logf.close()
        try:
            wait_port(self.port, time.monotonic() + 30, lambda: self.proc.poll() is None)
        except BenchError as e:
            raise BenchError("%s\n%s" % (e, tail(self.logfile)))

    def pids(self):
        if self.proc is None or self.proc.poll() is not None:
            return []
        return tree(self.proc.pid)

    def stop(self):
        if self.proc is None:
            return
        procs = self.pids()
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                log("postino did not exit on SIGTERM within 20 s; killing it")
                self.proc.kill()
                self.proc.wait(10)
        for p in procs:
            if p != self.proc.pid and pid_alive(p):
                try:
                    os.kill(p, signal.SIGKILL)
                except OSError:
                    pass
        self.proc = None


# ---------------------------------------------------------------- one run

def smtp_source_cmd(sessions, port):
    return [SMTP_SOURCE, "-s", str(sessions), "-m", str(MESSAGES), "-l", str(MSG_SIZE),
            "-M", HELO, "-f", SENDER, "-t", RCPT, "127.0.0.1:%s" % port]


def one_run(srv, sessions):
    srv.prepare()
    subprocess.run(["sync"], timeout=120)
    srv.start()
    with open("/proc/loadavg") as f:
        load1 = float(f.read().split()[0])
    try:
        # the server is idle now: what keeps the CPUs busy is someone else;
        # wait (bounded) for a quiet second, as other work skews the figures
        quiet_until = time.monotonic() + QUIET_WAIT
        busy = machine_busy(1.0)
        while busy > QUIET_BUSY and time.monotonic() < quiet_until:
            busy = machine_busy(1.0)
        base_cpu = cpu_seconds(srv.pids())
        base_pss, base_rss = mem_kib(srv.pids())
        peak_pss, peak_rss = base_pss, base_rss
        outf = tempfile.TemporaryFile()
        all0, busy0 = cpu_snap()
        own0, kt0 = own_cpu(), kthread_cpu()
        t0 = time.monotonic()
        src = subprocess.Popen(smtp_source_cmd(sessions, srv.port), stdin=subprocess.DEVNULL,
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
                        raise BenchError("smtp-source exited %d: %s" % (
                            src.returncode, outf.read().decode(errors="replace")[-2000:]))
                if t_inject is not None:
                    # all deliveries can finish only after all injections:
                    # count only then, so the poll does not compete with the load
                    n = count_files(srv.maildir_new)
                    if n >= MESSAGES:
                        t_done = time.monotonic()
                        cpu = cpu_seconds(srv.pids()) - base_cpu
                        all1, busy1 = cpu_snap()
                        # CPU time that neither the server, smtp-source nor
                        # this script used: someone else's load during the run
                        # (nor the kernel's threads, which mostly work for it)
                        # Per-process times are whole clock ticks, truncated:
                        # allow up to a tick lost per server process (it
                        # matters only in short runs of a many-process server)
                        slack = (len(seen) + 4) / CLK_TCK
                        other = max(0.0, (busy1 - busy0) - cpu - (own_cpu() - own0)
                                    - (kthread_cpu() - kt0) - slack)
                        other_share = other / (all1 - all0) if all1 > all0 else 0.0
                        break
                if now > deadline:
                    raise BenchError("timeout after %.0f s: smtp-source %s, %d of %d in Maildir\n%s" % (
                        TIMEOUT, "done" if t_inject else "running", count_files(srv.maildir_new),
                        MESSAGES, tail(srv.logfile)))
                time.sleep(POLL)
        finally:
            if src.poll() is None:
                src.kill()
                src.wait()
            outf.close()
        time.sleep(0.3)
        n = count_files(srv.maildir_new)
        if n != MESSAGES:
            raise BenchError("%d files in Maildir, expected %d" % (n, MESSAGES))
        elapsed = t_done - t0
        return {"server": srv.name, "sessions": sessions, "messages": MESSAGES,
                "seconds": round(elapsed, 3), "inject_seconds": round(t_inject - t0, 3),
                "msgs_per_s": round(MESSAGES / elapsed, 1),
                "peak_pss_kib": peak_pss, "peak_rss_kib": peak_rss,
                "idle_pss_kib": base_pss, "cpu_seconds": round(cpu, 2),
                "busy_before": round(busy, 3), "load1_before": load1,
                "other_busy_during": round(other_share, 3)}
    finally:
        srv.stop()


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


def write_results(results, failures, servers, info, started, finished):
    def pick(srv, s, key):
        return [r[key] for r in results if r["server"] == srv and r["sessions"] == s]

    names = [s.name for s in servers]
    L = []
    L.append("# postino vs Postfix: end-to-end SMTP-to-Maildir benchmark\n")
    L.append("Generated by `bench/run.sh` (bench/bench.py) on %s (run took %s)." % (
        started.strftime("%Y-%m-%d %H:%M UTC"), str(finished - started).split(".")[0]))
    L.append("%d message(s) of %d bytes of body per run, %d run(s) per server and session count; "
             "figures are medians (min-max in brackets).\n" % (MESSAGES, MSG_SIZE, RUNS))
    if "postino" not in names:
        L.append("**Postfix only** (ONLY=postfix): the postino columns are empty. "
                 "Run `make bench` for the comparison.\n")
    if "postfix" not in names:
        L.append("**postino only** (ONLY=postino).\n")
    L.append("## Machine\n")
    L.append("| | |\n|---|---|")
    L.append("| CPUs (nproc) | %s (%s) |" % (info["nproc"], info["cpu"] or "?"))
    L.append("| memory | %s |" % info["memory"])
    L.append("| kernel | %s |" % info["kernel"])
    L.append("| OS | %s |" % info["os"])
    L.append("| file system of the queues and Maildirs | %s (%s) |" % (info["fs"], info["fs_dir"]))
    L.append("| Postfix | %s |" % info["postfix"])
    if info["postino"]:
        L.append("| postino | %s, commit %s |" % (info["postino"], info["commit"]))
    L.append("")

    L.append("## Throughput: messages/s, end to end (smtp-source start until all are in the Maildir)\n")
    L.append("| sessions | postino | Postfix | postino / Postfix |")
    L.append("|---:|---:|---:|---:|")
    for s in SESSIONS:
        cells, med = [], {}
        for n in ("postino", "postfix"):
            v = pick(n, s, "msgs_per_s")
            if v:
                med[n] = statistics.median(v)
                cells.append("%.0f (%.0f-%.0f)" % (med[n], min(v), max(v)))
            else:
                cells.append("-")
        ratio = "%.2f" % (med["postino"] / med["postfix"]) if len(med) == 2 else "-"
        L.append("| %d | %s | %s | %s |" % (s, cells[0], cells[1], ratio))
    L.append("")

    L.append("## Peak memory: proportional set size (Pss) summed over the server's processes, MiB\n")
    L.append("Sampled every 100 ms from /proc/PID/smaps_rollup during the run; Rss (summed, so "
             "shared pages count once per process) for reference.\n")
    L.append("| sessions | postino Pss | Postfix Pss | postino / Postfix | postino Rss | Postfix Rss |")
    L.append("|---:|---:|---:|---:|---:|---:|")
    for s in SESSIONS:
        row, med = [], {}
        for n in ("postino", "postfix"):
            v = pick(n, s, "peak_pss_kib")
            if v:
                med[n] = statistics.median(v)
                row.append("%s (%s-%s)" % (mib(med[n]), mib(min(v)), mib(max(v))))
            else:
                row.append("-")
        ratio = "%.2f" % (med["postino"] / med["postfix"]) if len(med) == 2 and med["postfix"] else "-"
        rss = []
        for n in ("postino", "postfix"):
            v = pick(n, s, "peak_rss_kib")
            rss.append(mib(statistics.median(v)) if v else "-")
        L.append("| %d | %s | %s | %s | %s | %s |" % (s, row[0], row[1], ratio, rss[0], rss[1]))
    L.append("")

    L.append("## CPU time of the server, ms per message (user + system, all its processes)\n")
    L.append("Less sensitive than messages/s to other load on the machine; "
             "smtp-source's own CPU time is not counted.\n")
    L.append("| sessions | postino | Postfix | postino / Postfix |")
    L.append("|---:|---:|---:|---:|")
    for s in SESSIONS:
        cells, med = [], {}
        for n in ("postino", "postfix"):
            v = [c * 1000.0 / MESSAGES for c in pick(n, s, "cpu_seconds")]
            if v:
                med[n] = statistics.median(v)
                cells.append("%.2f (%.2f-%.2f)" % (med[n], min(v), max(v)))
            else:
                cells.append("-")
        ratio = "%.2f" % (med["postino"] / med["postfix"]) if len(med) == 2 and med["postfix"] else "-"
        L.append("| %d | %s | %s | %s |" % (s, cells[0], cells[1], ratio))
    L.append("")

    if failures:
        L.append("## Failed runs (not in the figures above)\n")
        for f in failures:
            L.append("- %s, %d sessions, run %d: %s" % (f["server"], f["sessions"], f["run"],
                                                        f["error"].splitlines()[0][:300]))
        L.append("")

    L.append("## Every run\n")
    L.append("\"Other load\" is the share of all CPUs that something other than the server, "
             "smtp-source, the driver, the kernel's threads and interrupts kept busy: in the second before the run (server up "
             "and idle) and during the run; \"load\" is the 1-minute load average at the "
             "start (which counts the benchmark's own earlier runs too).\n")
    L.append("A run during which the other load passed 10%% was repeated, up to %d times "
             "(the last attempt counts whatever it measured).\n" % RETRY_BUSY)
    busy = [r for r in results if max(r["busy_before"], r["other_busy_during"]) > 0.10]
    if busy:
        L.append("**Warning: during %d of %d runs other work kept more than 10%% of the CPUs "
                 "busy; their messages/s understate the server.** Rerun on a quiet machine "
                 "for figures to quote.\n" % (len(busy), len(results)))
    L.append("| server | sessions | run | seconds | of which injecting | msgs/s | peak Pss MiB "
             "| peak Rss MiB | CPU s | other load before | other load during | load |")
    L.append("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for r in results:
        L.append("| %s | %d | %d | %.2f | %.2f | %.0f | %s | %s | %.1f | %.0f%% | %.0f%% | %.1f |" % (
            r["server"], r["sessions"], r["run"], r["seconds"], r["inject_seconds"],
            r["msgs_per_s"], mib(r["peak_pss_kib"]), mib(r["peak_rss_kib"]),
            r["cpu_seconds"], 100 * r["busy_before"], 100 * r["other_busy_during"],
            r["load1_before"]))
    L.append("")

    L.append(READING_NOTE)
    L.append("## Method and exact commands\n")
    L.append("Before each run the server's scratch directory is removed and made anew and `sync` "
             "is run; the server is started, and the clock starts when smtp-source does. "
             "smtp-source opens one connection per message (no `-d`), so each message is a whole "
             "SMTP session: greeting, HELO, MAIL, RCPT, DATA, QUIT. The clock stops when the "
             "recipient's Maildir `new/` holds all the messages (counted every 50 ms once "
             "smtp-source has finished). Both servers fsync queue files and Maildir files. "
             "Runs alternate between the servers.\n")
    L.append("Load, for S in %s:\n" % " ".join(map(str, SESSIONS)))
    L.append("```\n%s\n```\n" % " ".join(smtp_source_cmd("S", "PORT")))
    L.append("Postfix %s (PORT %d; private instance, not the system one; mailboxes owned by "
             "uid/gid %d/%d):\n" % (info["postfix"], PF_PORT, VUID, VGID))
    L.append("```\npostfix -c DIR/postfix/etc start      # stop: postfix -c DIR/postfix/etc stop\n```\n")
    L.append("DIR/postfix/etc/main.cf:\n")
    L.append("```\n%s```\n" % POSTFIX_MAIN.format(w="DIR/postfix", port=PF_PORT, uid=VUID, gid=VGID))
    L.append("DIR/postfix/etc/master.cf:\n")
    L.append("```\n%s```\n" % POSTFIX_MASTER.format(port=PF_PORT))
    L.append("DIR/postfix/etc/vmailbox:\n\n```\n%s bench.test/u/\n```\n" % RCPT)
    L.append("postino (PORT %d):\n" % PI_PORT)
    L.append("```\npostino serve -c DIR/postino/postino.conf\n```\n")
    L.append("DIR/postino/postino.conf:\n")
    L.append("```\nhostname bench.local\ndata_dir DIR/postino/data\nlisten smtp 127.0.0.1:%d\n"
             "local_domains bench.test\nrelay_networks 127.0.0.1/32\nmax_connections 1000\n"
             "max_connections_per_ip 1000\n```\n" % PI_PORT)
    L.append("Reproduce: `make bench` (or `RUNS=%d MESSAGES=%d SESSIONS=\"%s\" bench/run.sh`).\n" % (
        RUNS, MESSAGES, " ".join(map(str, SESSIONS))))
    with open(RESULTS, "w") as f:
        f.write("\n".join(L))


# ---------------------------------------------------------------- main

def main():
    if os.geteuid() != 0:
        sys.exit("bench: must run as root (the Postfix master needs it)")
    for tool in (SMTP_SOURCE, POSTFIX):
        if not os.access(tool, os.X_OK):
            sys.exit("bench: %s not found: install the postfix package "
                     "(`POSTINO_BENCH=1 scripts/install-deps.sh`)" % tool)
    if ONLY not in ("", "postfix", "postino"):
        sys.exit("bench: ONLY must be postfix or postino")
    if ONLY != "postfix" and not os.access(POSTINO_BIN, os.X_OK):
        sys.exit("bench: %s not found: `make build/postino` first (or ONLY=postfix)" % POSTINO_BIN)

    # SIGTERM/SIGHUP unwind like ^C, so that the servers are stopped
    def die(signum, frame):
        raise KeyboardInterrupt
    signal.signal(signal.SIGTERM, die)
    signal.signal(signal.SIGHUP, die)

    os.makedirs(BENCH_DIR, exist_ok=True)
    top = tempfile.mkdtemp(prefix="postino-bench.", dir=BENCH_DIR)
    os.chmod(top, 0o755)       # virtual(8) runs as nobody and must reach the mail dir
    servers = []
    if ONLY in ("", "postfix"):
        servers.append(Postfix(top))
    if ONLY in ("", "postino"):
        servers.append(Postino(top))
    started = datetime.datetime.now(datetime.timezone.utc)
    info = machine_info(top)
    log("scratch directory %s (%s), %d run(s) x sessions %s x %s, %d messages" % (
        top, info["fs"], RUNS, SESSIONS, [s.name for s in servers], MESSAGES))
    results, failures = [], []
    try:
        for s in SESSIONS:
            for r in range(1, RUNS + 1):
                order = servers if r % 2 else list(reversed(servers))
                for srv in order:
                    for attempt in range(RETRY_BUSY + 1):
                        try:
                            res = one_run(srv, s)
                        except (BenchError, subprocess.TimeoutExpired) as e:
                            failures.append({"server": srv.name, "sessions": s, "run": r,
                                             "error": str(e)})
                            log("%s s=%d run %d FAILED: %s" % (srv.name, s, r, e))
                            break
                        res["run"] = r
                        log("%-7s s=%-3d run %d: %7.1f msgs/s (%.2f s, injection %.2f s), "
                            "peak Pss %s MiB, Rss %s MiB, CPU %.1f s; other load %.0f%% "
                            "before, %.0f%% during" % (
                                srv.name, s, r, res["msgs_per_s"], res["seconds"],
                                res["inject_seconds"], mib(res["peak_pss_kib"]),
                                mib(res["peak_rss_kib"]), res["cpu_seconds"],
                                100 * res["busy_before"], 100 * res["other_busy_during"]))
                        if res["other_busy_during"] <= QUIET_BUSY or attempt == RETRY_BUSY:
                            res["attempts"] = attempt + 1
                            results.append(res)
                            break
                        log("other work disturbed that run; repeating it")
    except KeyboardInterrupt:
        log("interrupted; writing what was measured")
    finally:
        for srv in servers:
            try:
                srv.stop()
            except Exception as e:   # noqa: BLE001 -- best effort on the way out
                log("stopping %s: %s" % (srv.name, e))
        if KEEP:
            log("kept %s" % top)
        else:
            shutil.rmtree(top, ignore_errors=True)
    finished = datetime.datetime.now(datetime.timezone.utc)
    write_results(results, failures, servers, info, started, finished)
    with open(RESULTS_JSON, "w") as f:
        json.dump({"machine": info, "messages": MESSAGES, "msg_size": MSG_SIZE, "runs": RUNS,
                   "sessions": SESSIONS, "results": results, "failures": failures},
                  f, indent=1)
    log("wrote %s" % RESULTS)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
