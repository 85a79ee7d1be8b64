"""
peers_smtp: the scripted SMTP peer of the relay tests (re-exported by peers).

What it owns: make_cert (a throwaway self-signed certificate made with the
openssl CLI) and server_tls_context; ScriptedPeer, a thread-based SMTP server
with a reply plan (DEFAULT_PLAN; silence, dropped connections, "fail the first
N connections", STARTTLS), recording every connection: connect time, each
command line as received, the MAIL/RCPT arguments, the dot-unstuffed message
data, TLS. Its threads are joined on stop.
"""
import copy
import os
import select
import socket
import ssl
import subprocess
import threading
import time


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


def _openssl(args):
    cp = subprocess.run(["openssl"] + args, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                        stderr=subprocess.STDOUT, timeout=30)
    if cp.returncode != 0:
        raise AssertionError("openssl %s failed: %s"
                             % (args[0], cp.stdout.decode("utf-8", "replace")))


def make_ca(directory, name="ca"):
    """A throwaway certificate authority (EC P-256, 2 days) made with the openssl
    CLI: NAME.crt and NAME.key in directory; returns (cert_path, key_path)."""
    cert = os.path.join(directory, name + ".crt")
    key = os.path.join(directory, name + ".key")
    _openssl(["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
              "-nodes", "-keyout", key, "-out", cert, "-days", "2", "-subj", "/CN=Test CA " + name,
              "-addext", "basicConstraints=critical,CA:TRUE",
              "-addext", "keyUsage=critical,keyCertSign,cRLSign"])
    return cert, key


def make_signed_cert(directory, ca, cn, name="cert"):
    """A certificate for DNS:cn signed by ca (make_ca's pair): NAME.crt and NAME.key
    in directory; returns (cert_path, key_path)."""
    cert = os.path.join(directory, name + ".crt")
    key = os.path.join(directory, name + ".key")
    csr = os.path.join(directory, name + ".csr")
    ext = os.path.join(directory, name + ".ext")
    with open(ext, "w") as f:
        f.write("subjectAltName=DNS:%s\nbasicConstraints=CA:FALSE\n"
                "extendedKeyUsage=serverAuth\n" % cn)
    _openssl(["req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
              "-nodes", "-keyout", key, "-out", csr, "-subj", "/CN=" + cn])
    _openssl(["x509", "-req", "-in", csr, "-CA", ca[0], "-CAkey", ca[1], "-CAcreateserial",
              "-out", cert, "-days", "2", "-extfile", ext])
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
    # the reply to a BDAT chunk that is not the LAST one (RFC 3030; LAST gets "dot");
    # the peer takes BDAT when its "ehlo" offers CHUNKING
    "bdat": "250 2.0.0 chunk ok",
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
        self.data = None                     # bytes, CRLF lines, dot-unstuffed (BDAT: as sent)
        self.chunks = []                     # the sizes of the BDAT chunks ([] after DATA)
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
        self.bdat_data = b""       # the BDAT chunks of the current transaction so far

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
            self.end_of_data(self.read_data(), p["dot"])
        elif verb == "BDAT":
            self.bdat(arg)
        elif verb == "RSET":
            self.txn = None
            self.answer(p["rset"])
        elif verb == "NOOP":
            self.answer(p["noop"])
        else:
            self.send("502 5.5.2 command not recognised")

    def read_exact(self, n):
        """The next n octets, whatever they hold (a BDAT chunk)."""
        while len(self.buf) < n:
            self.recv()
        data, self.buf = self.buf[:n], self.buf[n:]
        return data

    def bdat(self, arg):
        """RFC 3030: "BDAT size [LAST]"; the chunk is read before any reply."""
        words = arg.split(" ")
        if not words[0].isdigit() or len(words) > 2 or (len(words) == 2 and words[1].upper() != "LAST"):
            self.send("501 5.5.4 syntax: BDAT size [LAST]")
            raise _Closed()
        size, last = int(words[0]), len(words) == 2
        data = self.read_exact(size)
        txn = self.txn
        if txn is None or not txn.accepted:
            self.send("503 5.5.1 no valid recipients")
            return
        self.bdat_data = (self.bdat_data if txn.chunks else b"") + data
        self.record(lambda: txn.chunks.append(size))
        if not last:
            self.answer(self.tplan["bdat"])
            return
        self.end_of_data(self.bdat_data, self.tplan["dot"])

    def end_of_data(self, data, value):
        """The message of the transaction is complete (final dot, BDAT LAST): recorded, and
        answered with the plan's value."""
        txn = self.txn
        self.record(lambda: setattr(txn, "data", data))
        if value is SILENT or value == CLOSE:
            self.answer(value)
        code = int(str(value)[:3])
        self.record(lambda: setattr(txn, "dot_reply", code))
        self.txn = None
        self.send(value)

    def gather(self, wait):
        """Reads, for at most wait seconds, until the buffer holds a DATA line
        (the end of a pipelined group) - or RSET/QUIT."""
        deadline = time.monotonic() + wait
        while True:
            lines = self.buf.upper().split(b"\n")
            if any(l.startswith((b"DATA", b"BDAT", b"RSET", b"QUIT")) for l in lines):
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
