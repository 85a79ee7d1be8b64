"""
bench_servers: the servers the benchmark drives and the sink. Postfix: a
private instance (its own main.cf and master.cf per mode, started and stopped
with its own master, never the system service); Postino: `postino serve` with
the configuration of each mode; Sink: smtp-sink, the relay mode's next hop,
started per run, whose counters and dump say how many messages arrived and
how many distinct. Each prepares fresh state, starts, reports its process
tree, and stops within a deadline. observe_variants() gives the observe
mode's two postino variants (plain; metrics listener scraped every second
plus JSON logs), each a Postino with its own name, directory and extra config.
"""
import os
import re
import shutil
import signal
import socket
import subprocess
import threading
import time
import urllib.request

from bench_conf import (BenchError, CONF_MODE, OBSERVE_VARIANTS, PF_PORT, PI_METRICS, PI_PORT,
                        POSTDROP, POSTFIX, POSTFIX_SENDMAIL, POSTINO_BIN, POSTINO_EXTRA_CONF, RCPT,
                        SENDER, SINK_ADDR, SINK_PORT, SINK_USER, SMTP_SINK, VGID, VUID, log)
from bench_proc import cpu_seconds, free_port, pid_alive, port_free, run, tail, tree, wait_port


# ---------------------------------------------------------------- servers

# What main.cf holds in every mode: the instance's own directories, 127.0.0.1
# only, mail accepted from 127.0.0.0/8, no local(8) delivery; then the mode's
# own lines (PF_MODE_LINES), then PF_TAIL.
PF_COMMON = """\
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
"""
PF_TAIL = """\
maillog_file = {w}/maillog
default_process_limit = 100
biff = no
append_dot_mydomain = no
smtputf8_enable = no
"""
PF_MODE_LINES = {"maildir": """\
relayhost =
virtual_mailbox_domains = bench.test
virtual_mailbox_base = {w}/mail
virtual_mailbox_maps = texthash:{w}/etc/vmailbox
virtual_uid_maps = static:{uid}
virtual_gid_maps = static:{gid}
""", "relay": """\
relayhost = {sink}
"""}
PF_COMMENT = {"maildir": """\
# Private Postfix instance for bench/bench.py: default settings except what
# is needed to accept mail for bench.test on 127.0.0.1:{port} and deliver it
# with the virtual(8) agent into a Maildir. Queue files and Maildir files
# are fsync()ed (Postfix's default, which cannot be turned off).
""", "relay": """\
# Private Postfix instance for bench/bench.py: default settings except what
# is needed to accept mail from 127.0.0.0/8 on 127.0.0.1:{port} and relay it
# all to the relayhost, smtp-sink on {sink}, with the smtp(8) client at its
# default concurrency (and connection reuse). Queue files are fsync()ed
# (Postfix's default, which cannot be turned off).
"""}
POSTFIX_MAIN = {m: PF_COMMENT[m] + PF_COMMON + PF_MODE_LINES[m] + PF_TAIL for m in PF_COMMENT}

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
    """`postino serve`; name "postino" in the comparison modes, a variant's name
    ("default", "metrics+json") in observe mode. metrics: serve `listen metrics`
    (on PI_METRICS, or a free port picked before each run) and scrape it every
    second; extra: config lines added after the mode's."""

    def __init__(self, top, name="postino", metrics=bool(PI_METRICS), extra=POSTINO_EXTRA_CONF):
        self.name = name
        slug = "".join(c if c.isalnum() else "-" for c in name)
        self.w = os.path.join(top, "postino" if name == "postino" else "postino-" + slug)
        self.conf = os.path.join(self.w, "postino.conf")
        self.port = PI_PORT
        self.maildir_new = os.path.join(self.w, "data", "mail", "bench.test", "u", "new")
        self.logfile = os.path.join(self.w, "postino.log")
        self.metrics, self.extra = metrics, list(extra)
        self.metrics_port = 0
        self.proc = None

    def config_text(self, mode, w, port, sink, metrics_port):
        """This server's config file in a mode (prepare writes it; RESULTS.md shows it)."""
        text = POSTINO_CONF[CONF_MODE[mode]].format(w=w, port=port, sink=sink)
        if self.metrics:
            text += "listen metrics 127.0.0.1:%s\n" % metrics_port
        return text + "".join(line + "\n" for line in self.extra)

    def prepare(self, mode):
        shutil.rmtree(self.w, ignore_errors=True)
        os.makedirs(os.path.join(self.w, "data"))
        if self.metrics:
            self.metrics_port = PI_METRICS or free_port()
        with open(self.conf, "w") as f:
            f.write(self.config_text(mode, self.w, self.port, sink_hop(), self.metrics_port))

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
            if self.metrics:
                wait_port(self.metrics_port, time.monotonic() + 30, lambda: self.proc.poll() is None)
        except BenchError as e:
            raise BenchError("%s\n%s" % (e, tail(self.logfile)))
        self.scrapes = self.scrape_failures = 0
        if self.metrics:
            self.scraping = threading.Event()
            self.scraper = threading.Thread(target=self.scrape, daemon=True)
            self.scraper.start()

    def scrape(self):
        """metrics: GET /metrics once the server is up and then every second while it
        runs (as Prometheus would, more often), so the run pays for the counters and
        for the scrapes; counts the scrapes that answered and those that failed."""
        url = "http://127.0.0.1:%d/metrics" % self.metrics_port
        while True:
            try:
                with urllib.request.urlopen(url, timeout=5) as r:
                    r.read()
                self.scrapes += 1
            except OSError as e:
                self.scrape_failures += 1
                log("metrics scrape failed: %s" % e)
            if self.scraping.wait(1.0):
                return

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
        if self.metrics:
            self.scraping.set()
            self.scraper.join()
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


def observe_variants(top):
    """The observe mode's servers: postino in each of OBSERVE_VARIANTS."""
    return [Postino(top, name, metrics, POSTINO_EXTRA_CONF + extra)
            for name, metrics, extra in OBSERVE_VARIANTS]


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

    def __init__(self, top, addr=SINK_ADDR, port=SINK_PORT, dump=True, name=""):
        """addr, port: where it listens; dump=False: count only, no dump file
        (backlog mode); name: a prefix of its files in top (fanout mode: many sinks)."""
        self.w = top        # on a tmpfs: the sink must not compete for the disk
        self.addr, self.port, self.with_dump = addr, port, dump
        self.dump = os.path.join(self.w, name + "dump")
        self.counters = os.path.join(self.w, name + "counters")
        self.errfile = os.path.join(self.w, name + "stderr")
        self.proc = None

    def command(self, dump="DUMP"):
        return [SMTP_SINK, "-c", "-u", SINK_USER] + (["-D", dump] if self.with_dump else []) + \
            ["%s:%d" % (self.addr, self.port), "1000"]

    def prepare(self):
        for p in (self.dump, self.counters, self.errfile):
            try:
                os.unlink(p)
            except FileNotFoundError:
                pass

    def start(self):
        if not port_free(self.port, self.addr):
            raise BenchError("sink address %s:%d is in use" % (self.addr, self.port))
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
                with socket.create_connection((self.addr, self.port), timeout=1) as s:
                    s.settimeout(2)
                    s.recv(512)
                    s.sendall(b"QUIT\r\n")
                    s.recv(512)
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise BenchError("smtp-sink never accepted on %s:%d" % (self.addr, self.port))
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
