#!/usr/bin/python3
"""
bench: end-to-end throughput and memory of postino against a private Postfix.

Three modes ($MODE: maildir, relay, sendmail, or both, the default, which runs
maildir and relay):

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

For every session count (maildir: 1 10 50; relay: 10 50; $SESSIONS overrides
both) and every run (1..$RUNS), and for each server (postfix, postino; the
order alternates from run to run):

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
above), MSG_SIZE (4096), ONLY (postfix|postino, default both), TIMEOUT
(seconds per run, 600), QUIET_WAIT (seconds to wait before each run for the
machine to be idle, 60), RETRY_BUSY (times a run is repeated when other work
kept more than 10% of the CPUs busy during it, 2; the last attempt counts
whatever it measured), POSTINO_BIN (build/postino), PF_PORT (2625), PI_PORT
(2725), SINK_ADDR (127.0.0.2), SINK_PORT (2825), SINK_DIR (/dev/shm, where the
sink's dump goes), SETTLE (2: seconds to wait for stray duplicates before the
sink is checked), BENCH_DIR (parent of the scratch directory, /var/tmp),
KEEP=1 keeps the scratch directories, RESULTS, RESULTS_JSON. Must run as root
(Postfix's master needs it).
"""
import datetime
import json
import os
import platform
import re
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

MODES = ("maildir", "relay", "sendmail")
MODE = os.environ.get("MODE", "both").strip() or "both"
BOTH = ("maildir", "relay")              # MODE=both; sendmail runs only as MODE=sendmail
DEFAULT_SESSIONS = {"maildir": "1 10 50", "relay": "10 50", "sendmail": "1 8"}
DEFAULT_MESSAGES = {"maildir": 10000, "relay": 10000, "sendmail": 2000}
# the servers' configuration in each mode: sendmail mode sets both up exactly
# as maildir mode does (the SMTP listener stays, unused)
CONF_MODE = {"maildir": "maildir", "relay": "relay", "sendmail": "maildir"}
RUNS = int(os.environ.get("RUNS", "3"))
MESSAGES_ENV = os.environ.get("MESSAGES", "").strip()
MESSAGES = int(MESSAGES_ENV or "10000")  # set per mode in main()
SESSIONS_ENV = os.environ.get("SESSIONS", "").strip()
MSG_SIZE = int(os.environ.get("MSG_SIZE", "4096"))
ONLY = os.environ.get("ONLY", "").strip()
TIMEOUT = float(os.environ.get("TIMEOUT", "600"))
POSTINO_BIN = os.path.abspath(os.environ.get("POSTINO_BIN", os.path.join(ROOT, "build", "postino")))
PF_PORT = int(os.environ.get("PF_PORT", "2625"))
PI_PORT = int(os.environ.get("PI_PORT", "2725"))
SINK_ADDR = os.environ.get("SINK_ADDR", "127.0.0.2")
SINK_PORT = int(os.environ.get("SINK_PORT", "2825"))
SINK_DIR = os.environ.get("SINK_DIR", "/dev/shm")
SETTLE = float(os.environ.get("SETTLE", "2"))
BENCH_DIR = os.environ.get("BENCH_DIR", "/var/tmp")
QUIET_WAIT = float(os.environ.get("QUIET_WAIT", "60"))   # s to wait for an idle machine
QUIET_BUSY = 0.10                                        # "idle": under 10% of CPUs busy
RETRY_BUSY = int(os.environ.get("RETRY_BUSY", "2"))      # repeats of a run that others disturbed
KEEP = os.environ.get("KEEP", "") == "1"
RESULTS = os.environ.get("RESULTS", os.path.join(HERE, "RESULTS.md"))
RESULTS_JSON = os.environ.get("RESULTS_JSON", os.path.join(HERE, "results.json"))

SMTP_SOURCE = shutil.which("smtp-source") or "/usr/sbin/smtp-source"
SMTP_SINK = shutil.which("smtp-sink") or "/usr/sbin/smtp-sink"
POSTFIX = shutil.which("postfix") or "/usr/sbin/postfix"
POSTFIX_SENDMAIL = "/usr/sbin/sendmail"     # Postfix's, which runs postdrop
POSTDROP = "/usr/sbin/postdrop"
RCPT = {"maildir": "u@bench.test", "relay": "u@relay.test", "sendmail": "u@bench.test"}
SENDER = "sender@bench.local"
HELO = "bench.client"
VUID = VGID = 65534          # nobody:nogroup owns the Postfix virtual mailboxes
SINK_USER = "nobody"         # smtp-sink run as root must drop privileges (-u)
POLL = 0.05                  # completion poll interval (s)
MEM_EVERY = 0.1              # memory sample interval (s)


def sessions_for(mode):
    return [int(s) for s in (SESSIONS_ENV or DEFAULT_SESSIONS[mode]).split()]


def messages_for(mode):
    return int(MESSAGES_ENV or DEFAULT_MESSAGES[mode])


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


def wait_port(port, deadline, alive=lambda: True, host="127.0.0.1"):
    while time.monotonic() < deadline:
        if not alive():
            raise BenchError("server exited before listening on %s:%d" % (host, port))
        try:
            with socket.create_connection((host, port), timeout=1) as s:
                s.settimeout(2)
                try:
                    s.recv(512)          # the greeting: the server is serving
                except OSError:
                    pass
            return
        except OSError:
            time.sleep(0.1)
    raise BenchError("%s:%d never accepted a connection" % (host, port))


def port_free(port, host="127.0.0.1"):
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        s.bind((host, port))
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

POSTFIX_MAIN = {"maildir": """\
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
""", "relay": """\
# Private Postfix instance for bench/bench.py: default settings except what
# is needed to accept mail from 127.0.0.0/8 on 127.0.0.1:{port} and relay it
# all to the relayhost, smtp-sink on {sink}, with the smtp(8) client at its
# default concurrency (and connection reuse). Queue files are fsync()ed
# (Postfix's default, which cannot be turned off).
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
relayhost = {sink}
maillog_file = {w}/maillog
default_process_limit = 100
biff = no
append_dot_mydomain = no
smtputf8_enable = no
"""}

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

POSTINO_CONF = {"maildir": """\
hostname bench.local
data_dir {w}/data
listen smtp 127.0.0.1:{port}
local_domains bench.test
relay_networks 127.0.0.1/32
max_connections 1000
max_connections_per_ip 1000
""", "relay": """\
hostname bench.local
data_dir {w}/data
listen smtp 127.0.0.1:{port}
local_domains bench.local
relay_networks 127.0.0.1/32
relayhost {sink}
max_connections 1000
max_connections_per_ip 1000
"""}


def sink_hop():
    return "[%s]:%d" % (SINK_ADDR, SINK_PORT)


class Postfix:
    name = "postfix"

    def __init__(self, top):
        self.w = os.path.join(top, "postfix")
        self.conf = os.path.join(self.w, "etc")
        self.port = PF_PORT
        self.maildir_new = os.path.join(self.w, "mail", "bench.test", "u", "new")
        self.logfile = os.path.join(self.w, "maillog")

    def prepare(self, mode):
        shutil.rmtree(self.w, ignore_errors=True)
        os.makedirs(self.conf)
        os.chmod(self.w, 0o755)
        os.mkdir(os.path.join(self.w, "queue"), 0o755)   # root-owned; `postfix start` fills it
        with open(os.path.join(self.conf, "main.cf"), "w") as f:
            f.write(POSTFIX_MAIN[CONF_MODE[mode]].format(w=self.w, port=self.port, uid=VUID, gid=VGID,
                                              sink=sink_hop()))
        with open(os.path.join(self.conf, "master.cf"), "w") as f:
            f.write(POSTFIX_MASTER.format(port=self.port))
        if CONF_MODE[mode] == "maildir":
            mail = os.path.join(self.w, "mail")
            os.mkdir(mail, 0o755)
            os.chown(mail, VUID, VGID)    # virtual(8) creates the Maildir as this uid
            with open(os.path.join(self.conf, "vmailbox"), "w") as f:
                f.write("%s bench.test/u/\n" % RCPT["maildir"])   # trailing slash: Maildir

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

    def sendmail_cmd(self, conf=None):
        """Local submission (sendmail mode): Postfix's sendmail(1), which runs
        postdrop(1) (setgid postdrop) to write the message into the instance's
        maildrop/ and wake its pickup(8) through the public/pickup socket."""
        return [POSTFIX_SENDMAIL, "-C", conf or self.conf, "-f", SENDER, RCPT["sendmail"]]

    def check_postdrop(self):
        """postdrop must be able to write into this instance's maildrop:
        the postdrop group, the setgid bit on postdrop(1), and maildrop/ and
        public/ owned by postfix:postdrop, group-writable/searchable (which
        `postfix start` normally sets up; `postfix set-permissions` repairs)."""
        import grp
        import stat
        try:
            gid = grp.getgrnam("postdrop").gr_gid
        except KeyError:
            raise BenchError("no postdrop group: reinstall the postfix package")
        st = os.stat(POSTDROP)
        if not (st.st_mode & stat.S_ISGID and st.st_gid == gid):
            raise BenchError("%s is not setgid postdrop: `postfix set-permissions`" % POSTDROP)

        def ok():
            for d, bits in (("maildrop", 0o030), ("public", 0o010)):
                st = os.stat(os.path.join(self.w, "queue", d))
                if st.st_gid != gid or (st.st_mode & bits) != bits:
                    return False
            return True
        if not ok():
            log("fixing the private instance's maildrop permissions (postfix set-permissions)")
            run([POSTFIX, "-c", self.conf, "set-permissions"], timeout=120)
            if not ok():
                raise BenchError("%s/queue/maildrop or public/ is not writable by the postdrop "
                                 "group" % self.w)

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

    def prepare(self, mode):
        shutil.rmtree(self.w, ignore_errors=True)
        os.makedirs(os.path.join(self.w, "data"))
        with open(self.conf, "w") as f:
            f.write(POSTINO_CONF[CONF_MODE[mode]].format(w=self.w, port=self.port, sink=sink_hop()))

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

    def sendmail_cmd(self, conf=None):
        """Local submission (sendmail mode): `postino sendmail`, which writes
        the message (fsync'd) into DATA_DIR/maildrop/; the server sees it
        through inotify and queues and delivers it."""
        return [POSTINO_BIN if conf is None else "postino", "sendmail", "-C", conf or self.conf,
                "-f", SENDER, RCPT["sendmail"]]

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


# ---------------------------------------------------------------- the sink

SINK_COUNTERS = re.compile(rb"sess=(\d+) quit=(\d+) mesg=(\d+)")


class Sink:
    """smtp-sink on SINK_ADDR:SINK_PORT, the relayhost of both servers in relay
    mode. -c makes it print "sess=S quit=Q mesg=M\\r" to stdout after every
    session, QUIT and final dot (the count of messages read so far); -D appends
    every message it receives, with its own X-Client-Addr:... header records
    in front, to one dump file (each message whole: it is written from a
    per-message temporary file when the final dot arrives, in a single-threaded
    event loop, so messages never interleave)."""

    def __init__(self, top):
        self.w = top        # on a tmpfs: the sink must not compete for the disk
        self.dump = os.path.join(self.w, "dump")
        self.counters = os.path.join(self.w, "counters")
        self.errfile = os.path.join(self.w, "stderr")
        self.proc = None

    def command(self, dump="DUMP"):
        return [SMTP_SINK, "-c", "-u", SINK_USER, "-D", dump,
                "%s:%d" % (SINK_ADDR, SINK_PORT), "1000"]

    def prepare(self):
        for p in (self.dump, self.counters, self.errfile):
            try:
                os.unlink(p)
            except FileNotFoundError:
                pass

    def start(self):
        if not port_free(SINK_PORT, SINK_ADDR):
            raise BenchError("sink address %s:%d is in use" % (SINK_ADDR, SINK_PORT))
        with open(self.counters, "wb") as out, open(self.errfile, "wb") as err:
            self.proc = subprocess.Popen(self.command(self.dump), stdin=subprocess.DEVNULL,
                                         stdout=out, stderr=err, cwd=self.w)
        # the probe is a whole session (greeting, QUIT): it counts as one
        # session and no message; the run's baseline is read after it
        deadline = time.monotonic() + 15
        while True:
            if self.proc.poll() is not None:
                raise BenchError("smtp-sink exited (%d): %s" % (self.proc.returncode,
                                                                tail(self.errfile)))
            try:
                with socket.create_connection((SINK_ADDR, SINK_PORT), timeout=1) as s:
                    s.settimeout(2)
                    s.recv(512)
                    s.sendall(b"QUIT\r\n")
                    s.recv(512)
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise BenchError("smtp-sink never accepted on %s:%d" % (SINK_ADDR, SINK_PORT))
                time.sleep(0.05)
        deadline = time.monotonic() + 5
        while self.read_counters()[0] < 1 and time.monotonic() < deadline:
            time.sleep(0.02)

    def read_counters(self):
        """(sessions, quits, messages) so far, from the last complete record."""
        try:
            with open(self.counters, "rb") as f:
                f.seek(0, os.SEEK_END)
                size = f.tell()
                f.seek(max(0, size - 256))
                data = f.read()
        except OSError:
            return (0, 0, 0)
        end = data.rfind(b"\r")
        if end < 0:
            return (0, 0, 0)
        m = None
        for m in SINK_COUNTERS.finditer(data[:end]):
            pass
        return tuple(int(x) for x in m.groups()) if m else (0, 0, 0)

    def messages(self):
        return self.read_counters()[2]

    def cpu(self):
        return cpu_seconds([self.proc.pid]) if self.proc and self.proc.poll() is None else 0.0

    def check_dump(self):
        """(records, distinct Message-Ids, records without one) in the dump."""
        records, ids, no_id = 0, set(), 0
        in_header, got_id = False, False
        try:
            f = open(self.dump, "rb")
        except FileNotFoundError:
            return 0, 0, 0
        with f:
            for line in f:
                if line.startswith(b"X-Client-Addr: "):
                    if records and not got_id:
                        no_id += 1
                    records += 1
                    in_header, got_id = True, False
                elif in_header:
                    if line == b"\n":
                        in_header = False
                    elif line[:11].lower() == b"message-id:" and not got_id:
                        ids.add(line[11:].strip())
                        got_id = True
        if records and not got_id:
            no_id += 1
        return records, len(ids), no_id

    def stop(self):
        if self.proc is None:
            return
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
        self.proc = None

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
        return [sys.executable, os.path.abspath(__file__), "--sendmail-load", str(sessions),
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
         "sendmail": "# postino vs Postfix: local submission benchmark (sendmail command to Maildir)\n"}


def render(mode, b):
    """The Markdown section of one mode, from its block of results.json."""
    results, failures, info = b["results"], b["failures"], b["machine"]
    sessions, messages = b["sessions"], b["messages"]
    names = b["servers"]
    relay = mode == "relay"
    sm = mode == "sendmail"
    col = "workers" if sm else "sessions"
    loader = "the sendmail commands" if sm else "smtp-source"

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

    L = [TITLE[mode]]
    L.append("Generated by %s on %s (run took %s)." % (
        "`bench/bench.py` (`MODE=sendmail`)" if sm else
        "`bench/run.sh` (bench/bench.py, `MODE=%s`)" % mode, b["started"], b["took"]))
    L.append("%d message(s) of %d bytes of body per run, %d run(s) per server and session count; "
             "figures are medians (min-max in brackets).\n" % (messages, b["msg_size"], b["runs"]))
    if "load_start" in b:
        L.append("Load average (1, 5, 15 min) when this mode's runs began: %s.%s\n" % (
            b["load_start"], (" " + b["note"]) if b.get("note") else ""))
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
    L.append("| file system of the queues%s | %s (%s) |" % (
        "" if relay else " and Maildirs", info["fs"], info["fs_dir"]))
    if relay:
        L.append("| smtp-sink's dump | %s (%s) |" % (b.get("sink_fs", "?"), b.get("sink_dir", "?")))
    L.append("| Postfix | %s |" % info["postfix"])
    if info["postino"]:
        L.append("| postino | %s, commit %s |" % (info["postino"], info["commit"]))
    L.append("")

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

    L.append("## Every run\n")
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
    extra_h = " sink msgs / distinct | sink sessions | sink CPU s |" if relay else \
        " submit msgs/s | sendmail CPU s | distinct in Maildir |" if sm else ""
    extra_a = "---:|---:|---:|" if relay or sm else ""
    L.append("| server | " + col + " | run | seconds | of which " + ("submitting" if sm else "injecting") + " | msgs/s | peak Pss MiB "
             "| peak Rss MiB | CPU s | other load before | other load during | load |" + extra_h)
    L.append("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|" + extra_a)
    for r in results:
        extra = ""
        if relay:
            extra = " %d / %d | %d | %.1f |" % (r["sink_messages"], r["sink_distinct"],
                                               r["sink_sessions"], r["sink_cpu_seconds"])
        elif sm:
            extra = " %.0f | %s | %d |" % (r["submit_msgs_per_s"], "-" if r["client_cpu_seconds"] is None
                                           else "%.1f" % r["client_cpu_seconds"], r["distinct"])
        L.append("| %s | %d | %d | %.2f | %.2f | %.0f | %s | %s | %.1f | %.0f%% | %.0f%% | %.1f |%s" % (
            r["server"], r["sessions"], r["run"], r["seconds"], r["inject_seconds"],
            r["msgs_per_s"], mib(r["peak_pss_kib"]), mib(r["peak_rss_kib"]),
            r["cpu_seconds"], 100 * r["busy_before"], 100 * r["other_busy_during"],
            r["load1_before"], extra))
    L.append("")

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


# RESULTS.md holds one section per mode between these markers; a run of one
# mode replaces its own section and keeps the others as they were.
BEGIN, END = "<!-- bench:%s begin -->", "<!-- bench:%s end -->"


def read_sections(path):
    try:
        with open(path) as f:
            text = f.read()
    except OSError:
        return {}
    out = {}
    for m in MODES:
        b, e = text.find(BEGIN % m), text.find(END % m)
        if b >= 0 and e > b:
            out[m] = text[b + len(BEGIN % m):e].strip("\n") + "\n"
    if not out and text.startswith(TITLE["maildir"].strip()):
        out["maildir"] = text.rstrip("\n") + "\n"     # before there were sections
    return out


def write_sections(path, sections):
    parts = ["<!-- Written by bench/bench.py: one section per mode (MODE=maildir, MODE=relay, "
             "MODE=sendmail); "
             "a run of one mode rewrites its own section only. -->\n"]
    for m in MODES:
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


def main():
    if os.geteuid() != 0:
        sys.exit("bench: must run as root (the Postfix master needs it)")
    global MESSAGES
    modes = list(BOTH) if MODE == "both" else [MODE]
    if any(m not in MODES for m in modes):
        sys.exit("bench: MODE must be maildir, relay, sendmail or both (maildir and relay)")
    tools = [POSTFIX] + ([SMTP_SOURCE] if set(modes) & set(BOTH) else []) + \
        ([SMTP_SINK] if "relay" in modes else []) + \
        ([POSTFIX_SENDMAIL, POSTDROP] if "sendmail" in modes else [])
    for tool in tools:
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
    sink_top, sink = None, None
    servers = []
    if ONLY in ("", "postfix"):
        servers.append(Postfix(top))
    if ONLY in ("", "postino"):
        servers.append(Postino(top))
    info = machine_info(top)
    blocks = {}
    interrupted = False
    try:
        if "relay" in modes:
            sink_top = tempfile.mkdtemp(prefix="postino-bench-sink.", dir=SINK_DIR)
            os.chmod(sink_top, 0o755)
            os.chown(sink_top, VUID, VGID)      # smtp-sink writes as nobody
            sink = Sink(sink_top)
        for mode in modes:
            MESSAGES = messages_for(mode)
            started = datetime.datetime.now(datetime.timezone.utc)
            log("%s: scratch directory %s (%s), %d run(s) x sessions %s x %s, %d messages" % (
                mode, top, info["fs"], RUNS, sessions_for(mode), [s.name for s in servers],
                MESSAGES))
            results, failures = [], []
            blocks[mode] = {"machine": info, "messages": MESSAGES, "msg_size": MSG_SIZE,
                            "runs": RUNS, "sessions": sessions_for(mode),
                            "servers": [s.name for s in servers], "retry_busy": RETRY_BUSY,
                            "pf_port": PF_PORT, "pi_port": PI_PORT,
                            "started": started.strftime("%Y-%m-%d %H:%M UTC"),
                            "load_start": " ".join(open("/proc/loadavg").read().split()[:3]),
                            "note": os.environ.get("BENCH_NOTE", "").strip(),
                            "results": results, "failures": failures}
            if mode == "relay":
                blocks[mode].update({"sink": sink_hop(), "settle": SETTLE, "sink_dir": SINK_DIR,
                                     "sink_fs": sh("df -T %s | awk 'NR==2 {print $2}'" % sink_top)})
            try:
                run_mode(mode, servers, sink if mode == "relay" else None, results, failures)
            except KeyboardInterrupt:
                log("interrupted; writing what was measured")
                interrupted = True
            finally:
                took = datetime.datetime.now(datetime.timezone.utc) - started
                blocks[mode]["took"] = str(took).split(".")[0]
            if interrupted:
                break
    finally:
        for srv in servers:
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
    sections = read_sections(RESULTS)
    data = read_json(RESULTS_JSON)
    for mode, b in blocks.items():
        sections[mode] = render(mode, b)
        data[mode] = b
    write_sections(RESULTS, sections)
    with open(RESULTS_JSON, "w") as f:
        json.dump(data, f, indent=1)
    log("wrote %s" % RESULTS)
    return 1 if any(b["failures"] for b in blocks.values()) else 0


if __name__ == "__main__":
    if sys.argv[1:2] == ["--sendmail-load"]:
        sys.exit(sendmail_load(sys.argv[2:]))
    sys.exit(main())
