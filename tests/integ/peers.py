"""
peers: the other side of postino's relay tests (tests/integ/t_12 .. t_18).

  - DnsServer: a dnsmasq on 127.0.0.1:PORT answering for *.test from records
    given on its command line (MX, A, null MX, TXT); every other .test name is
    NXDOMAIN. BlackholeDns: a UDP port that never answers (DNS timeouts), or
    answers every query with a fixed RCODE (SERVFAIL).
  - ScriptedPeer: a thread-based SMTP server with a reply plan (including
    silence, dropped connections, "fail the first N connections", STARTTLS),
    recording every connection: connect time, each command line as received,
    the MAIL/RCPT arguments, the dot-unstuffed message data, TLS.
  - AiosmtpdPeer: a real aiosmtpd Controller storing what it receives.
  - free_shared_port(ips), make_cert(dir), dns_query(port, name, qtype).

Every fixture is a context manager and has an idempotent stop(); nothing
outlives the test (dnsmasq is killed and waited for, threads joined).
Only Debian's python3 standard library, python3-aiosmtpd and dnsmasq are used.
"""
import copy
import os
import random
import select
import shutil
import socket
import ssl
import struct
import atexit
import subprocess
import tempfile
import threading
import time

import lib

DNSMASQ = os.environ.get("POSTINO_DNSMASQ", "/usr/sbin/dnsmasq")
KEEP_TMP = os.environ.get("KEEP_TMP") == "1"

QTYPE = {"A": 1, "NS": 2, "CNAME": 5, "SOA": 6, "MX": 15, "TXT": 16, "AAAA": 28}
NOERROR, SERVFAIL, NXDOMAIN = 0, 2, 3


# --------------------------------------------------------------------------
# Ports


def free_shared_port(ips, proto=socket.SOCK_STREAM, tries=200):
    """A port number free (for proto) on every address in ips at once: postino
    uses one smtp_port for every MX host, so peers on 127.0.0.2 and 127.0.0.3
    must share the number. Any 127/8 address works on Linux without setup."""
    ips = list(ips)
    for _ in range(tries):
        socks = []
        try:
            first = socket.socket(socket.AF_INET, proto)
            socks.append(first)
            first.bind((ips[0], 0))
            port = first.getsockname()[1]
            ok = True
            for ip in ips[1:]:
                s = socket.socket(socket.AF_INET, proto)
                socks.append(s)
                try:
                    s.bind((ip, port))
                except OSError:
                    ok = False
                    break
            if ok:
                return port
        finally:
            for s in socks:
                s.close()
    raise AssertionError("no port free on all of %s" % ", ".join(ips))


def free_udp_tcp_port(ip="127.0.0.1", tries=200):
    """A port free for both UDP and TCP on ip (a DNS server needs both)."""
    for _ in range(tries):
        u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        t = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        try:
            u.bind((ip, 0))
            port = u.getsockname()[1]
            try:
                t.bind((ip, port))
            except OSError:
                continue
            return port
        finally:
            u.close()
            t.close()
    raise AssertionError("no UDP+TCP port free on %s" % ip)


# --------------------------------------------------------------------------
# A tiny DNS client (readiness checks and self-checks)


def _encode_name(name):
    out = b""
    for label in name.rstrip(".").split("."):
        if label:
            out += bytes([len(label)]) + label.encode("ascii")
    return out + b"\0"


def _read_name(data, off):
    """(name, offset after the name) with compression pointers followed."""
    labels = []
    end = None
    for _ in range(128):
        n = data[off]
        if n & 0xC0 == 0xC0:
            if end is None:
                end = off + 2
            off = ((n & 0x3F) << 8) | data[off + 1]
            continue
        off += 1
        if n == 0:
            break
        labels.append(data[off:off + n].decode("ascii", "replace"))
        off += n
    return ".".join(labels), (end if end is not None else off)


def dns_query(port, name, qtype="A", host="127.0.0.1", timeout=1.0):
    """One UDP query. Returns (rcode, answers) where answers is a list of
    (type name or number, value): A -> "1.2.3.4", MX -> (pref, host) with
    host "" for the root (null MX), TXT -> bytes, others -> raw rdata.
    Raises socket.timeout when nothing answers."""
    qt = QTYPE[qtype] if isinstance(qtype, str) else qtype
    tid = random.randrange(65536)
    pkt = struct.pack("!HHHHHH", tid, 0x0100, 1, 0, 0, 0) + _encode_name(name) \
        + struct.pack("!HH", qt, 1)
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.settimeout(timeout)
        s.sendto(pkt, (host, port))
        deadline = time.monotonic() + timeout
        while True:
            s.settimeout(max(0.01, deadline - time.monotonic()))
            data = s.recv(65535)
            if len(data) >= 12 and struct.unpack("!H", data[:2])[0] == tid:
                break
    flags, qd, an = struct.unpack("!HHH", data[2:8])
    rcode = flags & 0xF
    off = 12
    for _ in range(qd):
        _, off = _read_name(data, off)
        off += 4
    names = {v: k for k, v in QTYPE.items()}
    answers = []
    for _ in range(an):
        _, off = _read_name(data, off)
        rtype, _cls, _ttl, rdlen = struct.unpack("!HHIH", data[off:off + 10])
        off += 10
        rdata = data[off:off + rdlen]
        if rtype == 1:
            value = socket.inet_ntoa(rdata)
        elif rtype == 28:
            value = socket.inet_ntop(socket.AF_INET6, rdata)
        elif rtype == 15:
            pref = struct.unpack("!H", rdata[:2])[0]
            value = (pref, _read_name(data, off + 2)[0])
        elif rtype == 16:
            value = rdata[1:1 + rdata[0]] if rdata else b""
        else:
            value = rdata
        answers.append((names.get(rtype, rtype), value))
        off += rdlen
    return rcode, answers


# --------------------------------------------------------------------------
# DNS servers


class DnsServer:
    """dnsmasq on 127.0.0.1:port (UDP and TCP), authoritative-ish for .test:

        dns = DnsServer()
        dns.mx("best.test", "mx1.best.test", 10)     # --mx-host=best.test,mx1.best.test,10
        dns.a("mx1.best.test", "127.0.0.2")          # --host-record=mx1.best.test,127.0.0.2
        dns.null_mx("nullmx.test")                   # --mx-host=nullmx.test,.,0  (RFC 7505)
        dns.txt("exists.test", "x")                  # --txt-record=exists.test,x
        with dns: ...   (or dns.start() / dns.stop())

    Records are command-line options, so add them before start(). Names under
    .test with no record are NXDOMAIN (--local=/test/); names known through
    one record type answer NODATA for the others. TTLs are 0, so no resolver
    cache gets in the way. Queries are logged to self.log_path."""

    def __init__(self, tmp=None):
        self.port = None
        self.records = []
        self.proc = None
        self._own_tmp = tmp is None
        self.tmp = tmp or tempfile.mkdtemp(prefix="postino-dns-")
        self.log_path = os.path.join(self.tmp, "dnsmasq.log")
        self.stderr_path = os.path.join(self.tmp, "dnsmasq.stderr")

    # records (each returns self, so calls chain)

    def mx(self, domain, host, pref):
        self.records.append("--mx-host=%s,%s,%d" % (domain, host, pref))
        return self

    def a(self, host, ip):
        self.records.append("--host-record=%s,%s" % (host, ip))
        return self

    def null_mx(self, domain):
        # dnsmasq encodes the target "." as the root name: rdata 00 00 00
        # (preference 0, empty name), which is RFC 7505's "0 ."
        self.records.append("--mx-host=%s,.,0" % domain)
        return self

    def txt(self, name, text):
        self.records.append("--txt-record=%s,%s" % (name, text))
        return self

    def rr(self, name, rtype, hexdata):
        """Any record: --dns-rr=NAME,TYPE,HEX."""
        self.records.append("--dns-rr=%s,%d,%s" % (name, rtype, hexdata))
        return self

    @property
    def address(self):
        """For postino's dns_servers key."""
        return "127.0.0.1:%d" % self.port

    def command(self):
        return [DNSMASQ, "--no-daemon", "--no-resolv", "--no-hosts", "--no-poll",
                "--conf-file=/dev/null", "--listen-address=127.0.0.1", "--bind-interfaces",
                "--port=%d" % self.port, "--local=/test/", "--local-ttl=0",
                "--log-queries", "--log-facility=%s" % self.log_path] + self.records

    def start(self, timeout=10.0):
        if not os.access(DNSMASQ, os.X_OK):
            raise AssertionError("%s is not installed (apt-get install dnsmasq)" % DNSMASQ)
        last = None
        for _ in range(5):      # the port may be taken between the probe and dnsmasq's bind
            self.port = free_udp_tcp_port()
            err = open(self.stderr_path, "wb")
            try:
                self.proc = subprocess.Popen(self.command(), stdin=subprocess.DEVNULL,
                                             stdout=err, stderr=subprocess.STDOUT)
                _dns_procs.add(self.proc)
            finally:
                err.close()
            try:
                self._wait_ready(timeout)
                return self
            except _PortTaken as e:
                last = e
                self._kill()
            except BaseException:
                self._kill()
                raise
        raise AssertionError("dnsmasq could not bind a port: %s" % last)

    def _wait_ready(self, timeout):
        deadline = time.monotonic() + timeout
        while True:
            rc = self.proc.poll()
            if rc is not None:
                text = self.stderr()
                if "Address already in use" in text:
                    raise _PortTaken(text)
                raise AssertionError("dnsmasq exited with %d:\n%s" % (rc, text))
            try:
                # any answer at all (here NXDOMAIN) means it is serving
                dns_query(self.port, "readiness-probe.test", "A", timeout=0.2)
                return
            except (socket.timeout, ConnectionRefusedError, OSError):
                pass
            if time.monotonic() >= deadline:
                raise AssertionError("dnsmasq did not answer on %d within %.0fs:\n%s"
                                     % (self.port, timeout, self.stderr()))

    def query(self, name, qtype="A"):
        return dns_query(self.port, name, qtype)

    def stderr(self):
        try:
            with open(self.stderr_path, "rb") as f:
                return f.read().decode("utf-8", "replace")
        except FileNotFoundError:
            return ""

    def queries(self):
        """The query lines of the log: [(qtype, name)]."""
        out = []
        try:
            with open(self.log_path, "rb") as f:
                text = f.read().decode("utf-8", "replace")
        except FileNotFoundError:
            return out
        for line in text.splitlines():
            i = line.find("query[")
            if i >= 0:
                rest = line[i + 6:]
                qtype, _, tail = rest.partition("] ")
                out.append((qtype, tail.split(" ", 1)[0]))
        return out

    def _kill(self):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        _dns_procs.discard(self.proc)

    def stop(self):
        self._kill()
        self.proc = None
        if self._own_tmp and not KEEP_TMP:
            shutil.rmtree(self.tmp, ignore_errors=True)

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()


class _PortTaken(Exception):
    pass


_dns_procs = set()    # dnsmasq processes still alive: the atexit safety net


@atexit.register
def _kill_dns_leftovers():
    for proc in list(_dns_procs):
        if proc.poll() is None:
            try:
                proc.kill()
                proc.wait(5)
            except Exception:
                pass


class BlackholeDns:
    """A UDP (and TCP) port on 127.0.0.1 that reads DNS queries and never
    answers them: a resolver pointed at it times out. With rcode=SERVFAIL
    (or any RCODE) it answers every query at once with that code instead.
    self.count(): how many queries arrived (0 proves no lookup was made)."""

    def __init__(self, rcode=None):
        self.rcode = rcode
        self.port = None
        self._udp = self._tcp = None
        self._thread = None
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._queries = []

    @property
    def address(self):
        return "127.0.0.1:%d" % self.port

    def start(self):
        for _ in range(50):
            port = free_udp_tcp_port()
            udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            tcp = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            try:
                udp.bind(("127.0.0.1", port))
                tcp.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                tcp.bind(("127.0.0.1", port))
                tcp.listen(16)      # connections complete in the backlog, never served
            except OSError:
                udp.close()
                tcp.close()
                continue
            self.port, self._udp, self._tcp = port, udp, tcp
            break
        else:
            raise AssertionError("BlackholeDns: no port")
        self._thread = threading.Thread(target=self._run, name="blackhole-dns", daemon=True)
        self._thread.start()
        return self

    def _run(self):
        while not self._stop.is_set():
            r, _, _ = select.select([self._udp], [], [], 0.1)
            if not r:
                continue
            try:
                data, addr = self._udp.recvfrom(65535)
            except OSError:
                break
            name = "?"
            try:
                name, off = _read_name(data, 12)
                qtype = struct.unpack("!H", data[off:off + 2])[0]
            except Exception:
                qtype = 0
            with self._lock:
                self._queries.append((time.monotonic(), name, qtype))
            if self.rcode is not None and len(data) >= 12:
                flags = struct.unpack("!H", data[2:4])[0]
                rflags = 0x8000 | (flags & 0x0100) | 0x0080 | (self.rcode & 0xF)
                # header with QDCOUNT kept, no answers; the question echoed back
                reply = data[:2] + struct.pack("!HHHHH", rflags, struct.unpack("!H", data[4:6])[0],
                                               0, 0, 0) + data[12:]
                try:
                    self._udp.sendto(reply, addr)
                except OSError:
                    pass

    def count(self):
        with self._lock:
            return len(self._queries)

    def queries(self):
        with self._lock:
            return list(self._queries)

    def stop(self):
        self._stop.set()
        if self._thread is not None:
            self._thread.join(5)
            self._thread = None
        for s in (self._udp, self._tcp):
            if s is not None:
                s.close()
        self._udp = self._tcp = None

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()


# --------------------------------------------------------------------------
# Certificates


def make_cert(directory, cn="peer.test", name="cert", ip=None):
    """A throwaway self-signed certificate (EC P-256, 2 days) made with the
    openssl CLI, for DNS:cn (and IP:ip when given), written as NAME.crt and
    NAME.key in directory; returns (cert_path, key_path)."""
    cert = os.path.join(directory, name + ".crt")
    key = os.path.join(directory, name + ".key")
    san = "DNS:" + cn + (",IP:" + ip if ip else "")
    cp = subprocess.run(["openssl", "req", "-x509", "-newkey", "ec",
                         "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
                         "-keyout", key, "-out", cert, "-days", "2", "-subj", "/CN=" + cn,
                         "-addext", "subjectAltName=" + san],
                        stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                        stderr=subprocess.STDOUT, timeout=30)
    if cp.returncode != 0:
        raise AssertionError("openssl req failed: %s" % cp.stdout.decode("utf-8", "replace"))
    return cert, key


def server_tls_context(cert, key):
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(cert, key)
    return ctx


# --------------------------------------------------------------------------
# The scripted SMTP peer

CLOSE = "close"     # a plan value: drop the connection instead of answering
SILENT = None       # a plan value: never answer (keep reading, say nothing)

DEFAULT_PLAN = {
    "greeting": "220 peer.test ESMTP scripted",
    "name": "peer.test",
    # EHLO keywords after the first line; STARTTLS is added when the peer has a
    # certificate (and is not in TLS yet) unless "starttls_advertise" is False
    "ehlo": ["PIPELINING", "SIZE 10000000", "8BITMIME", "ENHANCEDSTATUSCODES", "DSN"],
    "helo": "250 peer.test",
    "mail": "250 2.1.0 ok",
    # a reply, or a dict {"default": reply, "addr@x.test": reply, ...}
    "rcpt": "250 2.1.5 ok",
    "data": "354 go ahead",
    "dot": "250 2.0.0 queued",
    "rset": "250 2.0.0 ok",
    "noop": "250 2.0.0 ok",
    "quit": "221 2.0.0 bye",
    "starttls": "220 2.0.0 ready for TLS",
    "starttls_advertise": True,
    # seconds to wait, before answering MAIL, for the rest of a pipelined group
    # (up to DATA) to arrive: makes "was it pipelined" independent of timing
    "pipeline_wait": 0.0,
    # [N, {overrides}]: the first N connections use the plan updated with overrides
    "first": None,
    # [N, {overrides}]: the first N MAIL commands (over all connections; a client
    # may reuse a connection for a retry) use the plan updated with overrides
    # for MAIL, RCPT, DATA and the final dot
    "first_mails": None,
}

EHLO_NO_DSN = ["PIPELINING", "SIZE 10000000", "8BITMIME", "ENHANCEDSTATUSCODES"]
EHLO_BARE = []          # "250 peer.test" alone: no extension at all


class PeerTransaction:
    """One MAIL transaction as the peer saw it."""

    def __init__(self, mail_arg, tls, index):
        self.index = index                   # MAIL commands before this one (all connections)
        self.t_mail = time.monotonic()       # when the MAIL command was read
        self.mail_arg = mail_arg            # text after "MAIL FROM:", parameters included
        self.sender, self.mail_params = parse_path_params(mail_arg)
        self.rcpts = []                      # [(address, {PARAM: value}, reply code)]
        self.data = None                     # bytes, CRLF lines, dot-unstuffed
        self.dot_reply = None                # code sent after the final dot
        self.tls = tls

    @property
    def accepted(self):
        """Addresses whose RCPT got a 2xx."""
        return [a for a, _, code in self.rcpts if 200 <= code < 300]

    @property
    def delivered(self):
        return self.data is not None and self.dot_reply is not None and 200 <= self.dot_reply < 300

    def rcpt_params(self, address):
        for a, p, _ in self.rcpts:
            if a.lower() == address.lower():
                return p
        return None

    def __repr__(self):
        return "<txn from=%r rcpts=%r dot=%r %d bytes tls=%s>" % (
            self.sender, [(a, c) for a, _, c in self.rcpts], self.dot_reply,
            len(self.data or b""), self.tls)


class PeerConnection:
    """One client connection as the peer saw it."""

    def __init__(self, index, client):
        self.index = index
        self.client = client                 # (ip, port) of the client
        self.t_connect = time.monotonic()    # time.monotonic() at accept
        self.wall_connect = time.time()
        self.t_close = None
        self.lines = []                      # every command line received, bytes with CRLF
        self.line_seen_after = []            # for each line: replies sent before its chunk arrived
        self.chunks = []                     # raw reads (plaintext after TLS)
        self.replies = []                    # every reply sent (str, CRLF inside multi-line)
        self.ehlo = None                     # the EHLO/HELO argument
        self.tls = False
        self.tls_version = None
        self.tls_error = None
        self.transactions = []
        self.closed_by = None                # "client", "peer" or "stop"

    def commands(self):
        """The command lines as str without CRLF (DATA content excluded)."""
        return [l.decode("utf-8", "replace").rstrip("\r\n") for l in self.lines]

    def __repr__(self):
        return "<conn #%d %s tls=%s cmds=%r txns=%r closed_by=%s>" % (
            self.index, self.client, self.tls, self.commands(), self.transactions, self.closed_by)


def parse_path_params(arg):
    """("addr", {"PARAM": "value" or None}) from "<addr> P1=V1 P2" (case of keys upper)."""
    arg = arg.strip()
    params = {}
    if arg.startswith("<"):
        end = arg.find(">")
        addr = arg[1:end] if end > 0 else arg[1:]
        rest = arg[end + 1:] if end > 0 else ""
    else:
        addr, _, rest = arg.partition(" ")
    for word in rest.split():
        k, eq, v = word.partition("=")
        params[k.upper()] = v if eq else None
    return addr, params


class _Closed(Exception):
    pass


class ScriptedPeer:
    """An SMTP server on (ip, port) in threads, answering by a reply plan
    (see DEFAULT_PLAN; plan values override it). Plan values: a reply (str,
    multi-line with "\\n" or a list of lines), SILENT (None: never answer),
    or CLOSE ("close": drop the connection without a reply). A reply whose
    code is 421 is followed by closing the connection. A greeting other
    than 220 and 421 makes every later command but QUIT get 503.

        with ScriptedPeer("127.0.0.2", port, {"rcpt": {"b@r.test": "451 4.3.0 later"}}) as p:
            ...; p.wait_messages(1)

    cert/key: enable STARTTLS (advertised in EHLO). All recorded state is
    read through snapshot copies (connections(), transactions(), messages())."""

    def __init__(self, ip, port, plan=None, cert=None, key=None, name=None):
        self.ip, self.port = ip, port
        self.name = name or "peer@%s:%d" % (ip, port)
        self._plan = dict(DEFAULT_PLAN)
        self._plan.update(plan or {})
        self.tls_ctx = server_tls_context(cert, key) if cert else None
        self._lock = threading.Lock()
        self._cond = threading.Condition(self._lock)
        self._conns = []
        self._mails = 0                      # MAIL commands seen, all connections
        self._mail_times = []
        self._socks = set()
        self._threads = []
        self._stop = threading.Event()
        self._lsock = None
        self._accept_thread = None
        self.errors = []                     # exceptions inside peer threads (test bugs)

    # lifecycle

    def start(self):
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((self.ip, self.port))
        except OSError:
            s.close()
            raise
        s.listen(64)
        self._lsock = s
        self._accept_thread = threading.Thread(target=self._accept_loop, daemon=True,
                                               name=self.name + " accept")
        self._accept_thread.start()
        return self

    def stop(self):
        """Closes the listener and every connection; joins the threads."""
        self._stop.set()
        if self._accept_thread is not None:
            self._accept_thread.join(5)
            self._accept_thread = None
        if self._lsock is not None:
            self._lsock.close()
            self._lsock = None
        with self._lock:
            socks = list(self._socks)
            threads = list(self._threads)
        for s in socks:
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        for t in threads:
            t.join(5)
        for s in socks:
            try:
                s.close()
            except OSError:
                pass

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()

    def update_plan(self, **kw):
        """Changes the plan for connections accepted from now on."""
        with self._lock:
            self._plan.update(kw)

    # recorded state (copies, safe to use from the test thread)

    def connections(self):
        with self._lock:
            return copy.deepcopy(self._conns)

    def connection_count(self):
        with self._lock:
            return len(self._conns)

    def transactions(self):
        """Every MAIL transaction (the 2xx-accepted MAILs), in order of arrival."""
        return sorted((t for c in self.connections() for t in c.transactions),
                      key=lambda t: t.index)

    def mail_times(self):
        """time.monotonic() of every MAIL command (accepted or not), in order."""
        return sorted(self._mail_times_snapshot())

    def _mail_times_snapshot(self):
        with self._lock:
            return list(self._mail_times)

    def messages(self):
        """The transactions that ended with a 2xx after the final dot."""
        return [t for t in self.transactions() if t.delivered]

    def commands(self):
        """Every command line of every connection (str, no CRLF)."""
        return [l for c in self.connections() for l in c.commands()]

    def wait_connections(self, n, timeout=10.0):
        return self._wait(lambda: len(self._conns) >= n, timeout,
                          "%d connection(s) to %s" % (n, self.name)) and self.connections()

    def wait_messages(self, n, timeout=10.0):
        def enough():
            return sum(1 for c in self._conns for t in c.transactions if t.delivered) >= n
        self._wait(enough, timeout, "%d message(s) at %s" % (n, self.name))
        return self.messages()

    def wait_command(self, prefix, timeout=10.0):
        """Waits until some connection received a command line starting with prefix
        (case-insensitive); returns the connections."""
        p = prefix.lower().encode()

        def seen():
            return any(l.lower().startswith(p) for c in self._conns for l in c.lines)
        self._wait(seen, timeout, "a %r command at %s" % (prefix, self.name))
        return self.connections()

    def wait_closed(self, n=None, timeout=10.0):
        """Waits until every connection so far (or the first n) is closed."""
        def closed():
            conns = self._conns if n is None else self._conns[:n]
            return (n is None or len(self._conns) >= n) and all(c.t_close for c in conns)
        self._wait(closed, timeout, "closed connections at %s" % self.name)
        return self.connections()

    def _wait(self, pred, timeout, what):
        deadline = time.monotonic() + timeout
        with self._cond:
            while not pred():
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError("timed out after %.1fs waiting for %s; seen: %r"
                                         % (timeout, what, self._conns))
                self._cond.wait(min(left, 0.1))
        return True

    # the server

    def _accept_loop(self):
        while not self._stop.is_set():
            try:
                r, _, _ = select.select([self._lsock], [], [], 0.05)
            except (OSError, ValueError):
                break
            if not r:
                continue
            try:
                sock, addr = self._lsock.accept()
            except OSError:
                continue
            with self._cond:
                conn = PeerConnection(len(self._conns), addr)
                self._conns.append(conn)
                self._socks.add(sock)
                plan = dict(self._plan)
                first = plan.get("first")
                if first and conn.index < first[0]:
                    plan.update(first[1])
                t = threading.Thread(target=self._serve, args=(sock, conn, plan), daemon=True,
                                     name="%s #%d" % (self.name, conn.index))
                self._threads.append(t)
                self._cond.notify_all()
            t.start()

    def _serve(self, sock, conn, plan):
        sess = _Session(self, sock, conn, plan)
        try:
            sess.run()
        except _Closed:
            pass
        except Exception as e:   # a bug in the peer itself: kept for the test to see
            with self._cond:
                self.errors.append(repr(e))
        finally:
            with self._cond:
                if conn.closed_by is None:
                    conn.closed_by = "stop" if self._stop.is_set() else "peer"
                conn.t_close = time.monotonic()
                self._socks.discard(sess.sock)
                self._socks.discard(sock)
                self._cond.notify_all()
            for s in {sess.sock, sock}:
                try:
                    s.close()
                except OSError:
                    pass


class _Session:
    MAX_LINE = 64 * 1024

    def __init__(self, peer, sock, conn, plan):
        self.peer, self.sock, self.conn, self.plan = peer, sock, conn, plan
        self.buf = b""
        self.txn = None
        self.tplan = plan          # the plan of the current transaction ("first_mails")
        self.refusing = False      # after a 5xx greeting: 503 to everything but QUIT

    # I/O

    def record(self, fn):
        with self.peer._cond:
            fn()
            self.peer._cond.notify_all()

    def recv(self):
        while True:
            if self.peer._stop.is_set():
                raise _Closed()
            try:
                if not (isinstance(self.sock, ssl.SSLSocket) and self.sock.pending()):
                    r, _, _ = select.select([self.sock], [], [], 0.05)
                    if not r:
                        continue
                data = self.sock.recv(65536)
            except ssl.SSLWantReadError:
                continue
            except (ConnectionError, OSError):
                data = b""
            if not data:
                self.record(lambda: setattr(self.conn, "closed_by",
                                            self.conn.closed_by or "client"))
                raise _Closed()
            seen_after = len(self.conn.replies)
            self.record(lambda: self.conn.chunks.append(data))
            self._seen_after = seen_after
            self.buf += data
            return data

    def readline(self):
        """One line (bytes, with its LF) or _Closed."""
        while b"\n" not in self.buf:
            if len(self.buf) > self.MAX_LINE:
                raise _Closed()
            self.recv()
        line, _, self.buf = self.buf.partition(b"\n")
        return line + b"\n"

    def send(self, reply):
        if isinstance(reply, (list, tuple)):
            lines = list(reply)
        else:
            lines = reply.split("\n")
        code = lines[-1][:3]
        out = []
        for i, l in enumerate(lines):
            l = l.rstrip("\r")
            if len(l) > 3 and l[3] in " -":
                l = l[4:]
            elif len(l) == 3:
                l = ""
            out.append("%s%s%s" % (code, "-" if i < len(lines) - 1 else " ", l))
        text = "\r\n".join(out) + "\r\n"
        try:
            self.sock.sendall(text.encode("utf-8"))
        except (ConnectionError, OSError):
            raise _Closed()
        self.record(lambda: self.conn.replies.append(text))
        if code == "421":
            self.record(lambda: setattr(self.conn, "closed_by", "peer"))
            raise _Closed()
        return int(code)

    def silent(self):
        """Never answer again: record whatever comes until the client closes."""
        while True:
            line = self.readline()
            seen = self._seen_after
            self.record(lambda: (self.conn.lines.append(line),
                                 self.conn.line_seen_after.append(seen)))

    def answer(self, value):
        """Sends a plan value; returns the reply code (0 never happens: SILENT and
        CLOSE do not return)."""
        if value is SILENT:
            self.silent()
        if value == CLOSE:
            self.record(lambda: setattr(self.conn, "closed_by", "peer"))
            raise _Closed()
        return self.send(value)

    # the dialogue

    def run(self):
        self._seen_after = 0
        greeting = self.plan["greeting"]
        code = self.answer(greeting)
        if code != 220:
            self.refusing = True
        while True:
            # a command line; remember how many replies had been sent when the
            # read holding its first byte arrived (pipelining evidence)
            if self.buf:
                seen_after = self._seen_after
            else:
                self.recv()
                seen_after = self._seen_after
            while b"\n" not in self.buf:
                if len(self.buf) > self.MAX_LINE:
                    raise _Closed()
                self.recv()
            line, _, self.buf = self.buf.partition(b"\n")
            line += b"\n"
            self.record(lambda: (self.conn.lines.append(line),
                                 self.conn.line_seen_after.append(seen_after)))
            self.command(line)

    def command(self, raw):
        text = raw.decode("utf-8", "replace").rstrip("\r\n")
        verb, _, arg = text.partition(" ")
        verb = verb.upper()
        p = self.plan
        if verb == "QUIT":
            self.send(p["quit"])
            self.record(lambda: setattr(self.conn, "closed_by", "quit"))
            raise _Closed()
        if self.refusing:
            self.send("503 5.5.1 no service here")
            return
        if verb == "EHLO":
            self.conn.ehlo = arg
            self.txn = None
            if isinstance(p["ehlo"], str) or p["ehlo"] is SILENT:
                self.answer(p["ehlo"])      # a whole reply ("502 5.5.2 ...") or SILENT / CLOSE
                return
            kws = list(p["ehlo"])
            if self.peer.tls_ctx is not None and not self.conn.tls and p["starttls_advertise"]:
                kws.append("STARTTLS")
            if kws:
                self.send(["250-" + p["name"]] + ["250-" + k for k in kws[:-1]]
                          + ["250 " + kws[-1]])
            else:
                self.send("250 " + p["name"])
        elif verb == "HELO":
            self.conn.ehlo = arg
            self.txn = None
            self.answer(p["helo"])
        elif verb == "STARTTLS":
            if self.peer.tls_ctx is None or self.conn.tls:
                self.send("502 5.5.1 not available")
                return
            code = self.answer(p["starttls"])
            if code != 220:
                return
            if self.buf:
                # plaintext pipelined after STARTTLS: an injection attempt (RFC 3207 5)
                self.record(lambda: setattr(self.conn, "tls_error", "data after STARTTLS"))
                raise _Closed()
            try:
                self.sock.settimeout(10)
                tls = self.peer.tls_ctx.wrap_socket(self.sock, server_side=True)
                tls.settimeout(None)
                tls.setblocking(True)
            except (ssl.SSLError, OSError) as e:
                err = repr(e)
                self.record(lambda: setattr(self.conn, "tls_error", err))
                raise _Closed()
            with self.peer._cond:
                self.peer._socks.add(tls)
            self.sock = tls
            self.txn = None

            def mark():
                self.conn.tls = True
                self.conn.tls_version = tls.version()
                self.conn.ehlo = None
            self.record(mark)
        elif verb == "MAIL":
            if not arg.upper().startswith("FROM:"):
                self.send("501 5.5.4 syntax: MAIL FROM:<address>")
                return
            if self.txn is not None:
                self.send("503 5.5.1 nested MAIL")
                return
            wait = p.get("pipeline_wait") or 0
            if wait:
                self.gather(wait)
            with self.peer._cond:
                index = self.peer._mails
                self.peer._mails += 1
                self.peer._mail_times.append(time.monotonic())
            first = p.get("first_mails")
            if first and index < first[0]:
                p = dict(p)
                p.update(first[1])
            self.tplan = p
            txn = PeerTransaction(arg[5:], self.conn.tls, index)
            value = p["mail"]
            if value is not SILENT and value != CLOSE and str(value)[:1] == "2":
                self.txn = txn
                self.record(lambda: self.conn.transactions.append(txn))
            self.answer(value)
        elif verb == "RCPT":
            if not arg.upper().startswith("TO:"):
                self.send("501 5.5.4 syntax: RCPT TO:<address>")
                return
            if self.txn is None:
                self.send("503 5.5.1 need MAIL first")
                return
            addr, params = parse_path_params(arg[3:])
            p = self.tplan
            value = p["rcpt"]
            if isinstance(value, dict):
                value = value.get(addr.lower(), value.get(addr, value.get("default",
                                                                          DEFAULT_PLAN["rcpt"])))
            if value is SILENT or value == CLOSE:
                self.record(lambda: self.txn.rcpts.append((addr, params, 0)))
                self.answer(value)
            code = int(str(value)[:3])
            txn = self.txn
            self.record(lambda: txn.rcpts.append((addr, params, code)))
            self.send(value)
        elif verb == "DATA":
            if self.txn is None:
                self.send("503 5.5.1 need MAIL first")
                return
            if not self.txn.accepted:
                self.send("554 5.5.1 no valid recipients")
                self.txn = None
                return
            p = self.tplan
            code = self.answer(p["data"])
            if code != 354:
                self.txn = None
                return
            data = self.read_data()
            txn = self.txn
            self.record(lambda: setattr(txn, "data", data))
            value = p["dot"]
            if value is SILENT or value == CLOSE:
                self.answer(value)
            code = int(str(value)[:3])
            self.record(lambda: setattr(txn, "dot_reply", code))
            self.txn = None
            self.send(value)
        elif verb == "RSET":
            self.txn = None
            self.answer(p["rset"])
        elif verb == "NOOP":
            self.answer(p["noop"])
        else:
            self.send("502 5.5.2 command not recognised")

    def gather(self, wait):
        """Reads, for at most wait seconds, until the buffer holds a DATA line
        (the end of a pipelined group) - or RSET/QUIT."""
        deadline = time.monotonic() + wait
        while True:
            lines = self.buf.upper().split(b"\n")
            if any(l.startswith((b"DATA", b"RSET", b"QUIT")) for l in lines):
                return
            left = deadline - time.monotonic()
            if left <= 0:
                return
            if isinstance(self.sock, ssl.SSLSocket) and self.sock.pending():
                self.recv()
                continue
            r, _, _ = select.select([self.sock], [], [], min(left, 0.05))
            if r:
                self.recv()

    def read_data(self):
        """The message after 354, up to the final dot: CRLF lines, dot-unstuffed."""
        out = []
        while True:
            while b"\n" not in self.buf:
                self.recv()
            line, _, self.buf = self.buf.partition(b"\n")
            line += b"\n"
            if line == b".\r\n":
                return b"".join(out)
            if line.startswith(b"."):
                line = line[1:]
            out.append(line)


# --------------------------------------------------------------------------
# A real peer: aiosmtpd


class AiosmtpdPeer:
    """aiosmtpd's Controller on (ip, port) storing every message it accepts:
    self.messages() -> [{"sender", "rcpts", "data" (bytes), "mail_options",
    "rcpt_options", "tls", "peer"}]. cert/key: offer STARTTLS."""

    def __init__(self, ip, port, cert=None, key=None, hostname="aiosmtpd.test"):
        from aiosmtpd.controller import Controller     # python3-aiosmtpd
        self.ip, self.port = ip, port
        self._lock = threading.Lock()
        self._messages = []
        self._sessions = []
        peer = self

        class Handler:
            async def handle_EHLO(self, server, session, envelope, hostname, responses):
                session.host_name = hostname
                with peer._lock:
                    peer._sessions.append({"ehlo": hostname, "tls": session.ssl is not None})
                return responses

            async def handle_DATA(self, server, session, envelope):
                with peer._lock:
                    peer._messages.append({
                        "sender": envelope.mail_from,
                        "rcpts": list(envelope.rcpt_tos),
                        "data": envelope.original_content or envelope.content,
                        "mail_options": list(envelope.mail_options),
                        "rcpt_options": list(envelope.rcpt_options),
                        "tls": session.ssl is not None,
                        "peer": session.peer,
                    })
                return "250 2.0.0 stored"

        kw = {}
        if cert:
            kw["tls_context"] = server_tls_context(cert, key)
            kw["require_starttls"] = False
        self.controller = Controller(Handler(), hostname=ip, port=port,
                                     server_hostname=hostname, ready_timeout=10, **kw)
        self._started = False

    def start(self):
        self.controller.start()
        self._started = True
        return self

    def stop(self):
        if self._started:
            self._started = False
            self.controller.stop()

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()

    def messages(self):
        with self._lock:
            return [dict(m) for m in self._messages]

    def sessions(self):
        with self._lock:
            return [dict(s) for s in self._sessions]

    def wait_messages(self, n, timeout=10.0):
        deadline = time.monotonic() + timeout
        while True:
            msgs = self.messages()
            if len(msgs) >= n:
                return msgs
            if time.monotonic() >= deadline:
                raise AssertionError("timed out after %.1fs waiting for %d message(s) at "
                                     "aiosmtpd %s:%d (got %d)" % (timeout, n, self.ip, self.port,
                                                                  len(msgs)))
            time.sleep(0.02)


# --------------------------------------------------------------------------
# Small helpers for the relay tests


def unfold_headers(data):
    """The header lines of a CRLF message, unfolded: [str]."""
    head = data.split(b"\r\n\r\n", 1)[0].decode("utf-8", "replace")
    out = []
    for line in head.split("\r\n"):
        if line[:1] in (" ", "\t") and out:
            out[-1] += " " + line.strip()
        else:
            out.append(line)
    return out


def strip_first_received(data):
    """(the first header, unfolded, as str; the rest of the message bytes):
    what postino prepended, and the original message after it."""
    end = data.find(b"\r\n")
    while end >= 0 and data[end + 2:end + 3] in (b" ", b"\t"):
        end = data.find(b"\r\n", end + 2)
    if end < 0:
        raise AssertionError("no header line in %r" % data[:200])
    first = data[:end].decode("utf-8", "replace")
    first = " ".join(part.strip() for part in first.split("\r\n"))
    return first, data[end + 2:]


# --------------------------------------------------------------------------
# The base class of the relay tests

PEER_IPS = ("127.0.0.2", "127.0.0.3", "127.0.0.4", "127.0.0.5")
OUTSIDE_IP = "127.0.0.9"     # a client outside relay_networks (127.0.0.1/32)
SENDER = "alice@sender.test"  # sender.test is NXDOMAIN: a notice to it fails at once

# postino settings for relay tests: short retries, short client timeouts (so a
# broken client never waits minutes), no DELAY notices
RELAY_DEFAULTS = dict(
    relay_networks="127.0.0.1/32",
    retry_min="1s", retry_max="4s",
    queue_lifetime="1h", delay_warning="0",
    timeout_greeting="5s", timeout_mail="5s", timeout_rcpt="5s",
    timeout_data_init="5s", timeout_data_block="5s", timeout_data_end="5s",
)


class RelayTestCase(lib.IntegTestCase):
    """A dnsmasq for the whole class (records from dns_records(dns), a
    classmethod to override), and per test: self.port, an SMTP port free on
    every PEER_IPS address (postino's smtp_port), peers and servers stopped by
    addCleanup."""

    dns = None

    @classmethod
    def dns_records(cls, dns):
        pass

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        dns = DnsServer()
        try:
            cls.dns_records(dns)
            dns.start()
        except BaseException:
            dns.stop()
            raise
        cls.dns = dns

    @classmethod
    def tearDownClass(cls):
        if cls.dns is not None:
            cls.dns.stop()
            cls.dns = None
        super().tearDownClass()

    def setUp(self):
        super().setUp()
        self.port = free_shared_port(("127.0.0.1",) + PEER_IPS)

    # fixtures

    def peer(self, ip, plan=None, port=None, **kw):
        p = ScriptedPeer(ip, port or self.port, plan, **kw)
        p.start()
        self.addCleanup(p.stop)
        self.addCleanup(self._peer_errors, p)
        return p

    def _peer_errors(self, p):
        if p.errors:
            raise AssertionError("%s: errors inside the peer: %s" % (p.name, p.errors))

    def aiosmtpd_peer(self, ip, port=None, **kw):
        p = AiosmtpdPeer(ip, port or self.port, **kw)
        p.start()
        self.addCleanup(p.stop)
        return p

    def blackhole(self, **kw):
        b = BlackholeDns(**kw).start()
        self.addCleanup(b.stop)
        return b

    def tmpdir(self):
        d = tempfile.mkdtemp(prefix="postino-relay-")
        self.addCleanup(shutil.rmtree, d, True)
        return d

    def relay_server(self, start=True, dns=None, **settings):
        """A postino with RELAY_DEFAULTS, dns_servers = this class's dnsmasq (or
        dns: anything with .address) and smtp_port = self.port; settings override."""
        s = dict(RELAY_DEFAULTS)
        s["dns_servers"] = (dns or self.dns).address
        s["smtp_port"] = str(self.port)
        s.update(settings)
        return self.server(start=start, **s)

    # sending

    def send(self, srv, rcpts, subject="relay test", msg=None, sender=SENDER, **kw):
        """Sends one message (from 127.0.0.1 unless source=...); returns (qid, msg bytes)."""
        if isinstance(rcpts, str):
            rcpts = [rcpts]
        if msg is None:
            msg = lib.make_message(subject, sender=sender, to=rcpts[0])
        qid = lib.send_message(srv.port, sender, rcpts, msg, **kw)
        return qid, msg

    # queue and log

    def rcpt(self, srv, address):
        """The queue list --json entry of a recipient (the latest message holding
        it), or None."""
        found = None
        for m in lib.queue_json(srv.conf):
            for r in m["recipients"]:
                if r["address"].lower() == address.lower():
                    found = dict(r, message=m["id"])
        return found

    def wait_rcpt(self, srv, address, pred, timeout=10.0, what=None):
        """Waits until pred(entry) for the recipient's queue entry; returns it."""
        box = {}

        def check():
            box["r"] = self.rcpt(srv, address)
            return box["r"] is not None and pred(box["r"])
        lib.wait_for(check, timeout, interval=0.05, what=lambda: "%s for %s (now %r)"
                               % (what or "a state", address, box.get("r")))
        return box["r"]

    def wait_status(self, srv, address, status, timeout=10.0, attempts=1):
        return self.wait_rcpt(srv, address,
                              lambda r: r["status"] == status and r["attempts"] >= attempts,
                              timeout, "status %s with >= %d attempt(s)" % (status, attempts))

    def wait_queue_empty(self, srv, timeout=10.0):
        lib.wait_for(lambda: lib.queue_json(srv.conf) == [], timeout, interval=0.05,
                     what=lambda: "an empty queue; still queued: %s" % lib.queue_json(srv.conf))

    def log_lines(self, srv, *needles):
        return [l for l in srv.log().splitlines() if all(n in l for n in needles)]

    def wait_log(self, srv, *needles, timeout=10.0):
        """Waits for a log line containing every needle; returns the matching lines."""
        return lib.wait_for(lambda: self.log_lines(srv, *needles), timeout,
                                      interval=0.05, what=lambda: "a log line with %r; log:\n%s"
                                      % (needles, srv.log_tail(30)))

    # checks

    def check_relayed_content(self, data, original, qid, hostname="mx.test"):
        """data (as the peer got it) = postino's Received header (by HOSTNAME, id QID)
        followed by the original message byte for byte; CRLF everywhere."""
        first, rest = strip_first_received(data)
        self.assertTrue(first.startswith("Received:"), first)
        self.assertIn("by %s" % hostname, first)
        self.assertRegex(first, r"\bid %s\b" % qid)
        self.assertEqual(rest, original)
        self.assertNotRegex(data.replace(b"\r\n", b""), b"[\r\n]", "bare CR or LF in %r" % data)


# --------------------------------------------------------------------------
# The base class of the notice tests (t_22 .. t_27)

LOCAL_SENDER = "alice@example.test"   # a sender with a Maildir on the server under test

# relay settings for notice tests: notices on, delay notices off unless asked
DSN_DEFAULTS = dict(RELAY_DEFAULTS, delay_warning="0")


class DsnTestCase(RelayTestCase):
    """RelayTestCase with helpers to send with DSN parameters and collect
    the notices (parsed and checked by lib.parse_notice)."""

    def dsn_server(self, **settings):
        s = dict(DSN_DEFAULTS)
        s.update(settings)
        return self.relay_server(**s)

    def send_dsn(self, srv, rcpts, subject="dsn test", sender=LOCAL_SENDER, mail_options=(),
                 rcpt_options=None, msg=None, source=None):
        """One message with smtplib: MAIL with mail_options, RCPT for each of
        rcpts with rcpt_options.get(addr, ()); returns (qid, msg bytes)."""
        if isinstance(rcpts, str):
            rcpts = [rcpts]
        rcpt_options = rcpt_options or {}
        if msg is None:
            msg = lib.make_message(subject, sender=sender or "mailer-daemon@client.test",
                                   to=rcpts[0])
        with lib.smtp_client(srv.port, source) as s:
            code, _ = s.ehlo()
            self.assertEqual(code, 250)
            lib.expect_smtplib(s.mail(sender, list(mail_options)), 250, "2.1.0")
            for r in rcpts:
                lib.expect_smtplib(s.rcpt(r, list(rcpt_options.get(r, ()))), 250, "2.1.5")
            text = lib.expect_smtplib(s.data(msg), 250, "2.0.0")
        return lib.queue_id_of(text), msg

    def notice_lines(self, srv, qid=None):
        """The "ID: sender notice (KIND, N recipient(s)) queued as NID" log lines."""
        return [l for l in srv.log().splitlines()
                if "sender notice (" in l and (qid is None or "%s: sender notice" % qid in l)]

    def alive(self, srv):
        """Fails at once (with the log) if the server under test has exited."""
        if not srv.running():
            raise AssertionError("postino serve exited with %s:\n%s"
                                 % (srv.proc.returncode if srv.proc else None, srv.log_tail(60)))

    def wait_alive(self, srv, pred, timeout, what):
        """lib.wait_for(pred), failing at once if the server exits meanwhile."""
        def check():
            self.alive(srv)
            return pred()
        return lib.wait_for(check, timeout, interval=0.05, what=what)

    def wait_log(self, srv, *needles, timeout=10.0):
        return self.wait_alive(srv, lambda: self.log_lines(srv, *needles), timeout,
                               lambda: "a log line with %r; log:\n%s" % (needles, srv.log_tail(30)))

    def wait_notices(self, srv, count, local="alice", domain="example.test", sender=None,
                     timeout=10.0, settle=True):
        """Waits until local@domain's Maildir holds count messages, then (settle)
        until the queue is empty, fails if it then holds more than count,
        checks each as a notice to sender (default local@domain) and returns
        them (lib.Notice), in file-name order."""
        self.wait_alive(srv, lambda: len(lib.maildir_files(srv.data, domain, local)) >= count,
                        timeout, lambda: "%d message(s) in %s@%s (found %d); log:\n%s"
                        % (count, local, domain, len(lib.maildir_files(srv.data, domain, local)),
                           srv.log_tail(30)))
        if settle:
            self.settle(srv, timeout)
        raws = lib.wait_maildir_count(srv.data, domain, local, count, 0)
        return [lib.parse_notice(r, sender or "%s@%s" % (local, domain)) for r in raws]

    def settle(self, srv, timeout=10.0):
        """Bounded wait for a quiet server: the queue empty (an owed notice is
        queued before its original is removed, and stays queued until delivered)."""
        self.wait_alive(srv, lambda: lib.queue_json(srv.conf) == [], timeout,
                        lambda: "an empty queue; still queued: %s" % lib.queue_json(srv.conf))

    def assertNoNotice(self, srv, qid=None):
        self.assertEqual(self.notice_lines(srv, qid), [], srv.log_tail(30))
        for p in lib.all_maildir_files(srv.data):
            with open(p, "rb") as f:
                head = f.read().split(b"\n\n", 1)[0]
            self.assertNotRegex(head, rb"(?im)^content-type:\s*multipart/report",
                                "a notice in %s" % p)
