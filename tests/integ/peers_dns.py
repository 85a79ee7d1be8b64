"""
peers_dns: the DNS side of the relay tests (re-exported by peers).

What it owns: ports free on several loopback addresses at once
(free_shared_port, free_udp_tcp_port); a tiny DNS client (dns_query, for
readiness checks and self-checks); DnsServer, a dnsmasq on 127.0.0.1:PORT
answering for *.test from records given on its command line (MX, A, null MX,
TXT, raw RRs), every other .test name NXDOMAIN, killed and waited for on
stop (and by an atexit hook as a last resort); BlackholeDns, a UDP port that
never answers (DNS timeouts) or answers every query with a fixed RCODE.
"""
import os
import random
import select
import shutil
import socket
import struct
import subprocess
import tempfile
import threading
import time

import lib_base


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


# dnsmasq processes still alive: lib_base's atexit safety net kills them too
_dns_procs = lib_base._running


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
