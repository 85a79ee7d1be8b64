"""
lib: the harness of postino's integration tests (tests/integ/t_NN_*.py,
tests/crash/t_*.py). It drives the real binary named by $POSTINO_BIN
(default: build/postino of this checkout; `make integ` points it at the ASan build).

What it owns:
  - Server: writes a config into a fresh temp dir, runs `postino serve`,
    waits until the SMTP port answers, stops it with SIGTERM (exit 0 within
    10 s or the test fails) and fails the test if the server's stderr holds
    sanitizer reports. The temp dir is removed unless KEEP_TMP=1.
  - Raw: a raw-socket SMTP dialogue (send bytes, read one full reply,
    multi-line included) for the tests where smtplib would hide the bytes.
  - helpers: free_port, wait_for (bounded polling, never a fixed sleep as
    synchronisation), maildir_files, queue_json, run_cli, reply checks.

Only Debian's /usr/bin/python3 standard library is used.
A test never leaves a process behind: every Server is stopped by addCleanup
(IntegTestCase.server) or by the context manager, and an atexit hook kills
whatever is still running as a last resort.
"""
import atexit
import json
import os
import re
import shutil
import signal
import smtplib
import socket
import subprocess
import sys
import tempfile
import time
import unittest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BIN = os.environ.get("POSTINO_BIN", os.path.join(ROOT, "build", "postino"))
KEEP_TMP = os.environ.get("KEEP_TMP") == "1"
# Deadlines are generous: the ASan build is several times slower.
START_TIMEOUT = float(os.environ.get("POSTINO_START_TIMEOUT", "15"))
STOP_TIMEOUT = 10.0
DELIVERY_TIMEOUT = float(os.environ.get("POSTINO_DELIVERY_TIMEOUT", "10"))
SANITIZER_MARKERS = ("AddressSanitizer", "runtime error:", "LeakSanitizer")
HOSTNAME = "mx.test"

_running = set()   # Popen objects still alive, for the atexit safety net


@atexit.register
def _kill_leftovers():
    for proc in list(_running):
        if proc.poll() is None:
            try:
                proc.kill()
                proc.wait(5)
            except Exception:
                pass


def free_port(host="127.0.0.1"):
    """A TCP port that was free a moment ago (bind to port 0, read it, release it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return s.getsockname()[1]


def wait_for(predicate, timeout=DELIVERY_TIMEOUT, interval=0.02, what="condition"):
    """Polls predicate() until it returns a true value (returned) or raises
    AssertionError after timeout seconds. Exceptions from predicate propagate.
    what may be a callable, evaluated only for the failure message."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() >= deadline:
            raise AssertionError("timed out after %.1fs waiting for %s"
                                 % (timeout, what() if callable(what) else what))
        time.sleep(interval)


def sanitizer_report(text):
    """The sanitizer marker found in text, or None."""
    for marker in SANITIZER_MARKERS:
        if marker in text:
            return marker
    return None


def read_text(path):
    try:
        with open(path, "rb") as f:
            return f.read().decode("utf-8", "replace")
    except FileNotFoundError:
        return ""


# --------------------------------------------------------------------------
# Maildir helpers


def maildir_path(data_dir, domain, local):
    return os.path.join(data_dir, "mail", domain, local)


def maildir_files(data_dir, domain, local, sub="new"):
    """Sorted paths of the messages in DATA/mail/DOMAIN/LOCAL/new (or sub)."""
    d = os.path.join(maildir_path(data_dir, domain, local), sub)
    try:
        names = os.listdir(d)
    except FileNotFoundError:
        return []
    return sorted(os.path.join(d, n) for n in names if not n.startswith("."))


def maildir_messages(data_dir, domain, local):
    """The bytes of every message in new/, in file-name order."""
    out = []
    for p in maildir_files(data_dir, domain, local):
        with open(p, "rb") as f:
            out.append(f.read())
    return out


def wait_maildir_count(data_dir, domain, local, count, timeout=DELIVERY_TIMEOUT):
    """Waits until new/ holds at least count messages; returns their bytes
    (fails if it then holds more than count)."""
    wait_for(lambda: len(maildir_files(data_dir, domain, local)) >= count, timeout,
             what=lambda: "%d message(s) in %s@%s (found %d)"
             % (count, local, domain, len(maildir_files(data_dir, domain, local))))
    msgs = maildir_messages(data_dir, domain, local)
    if len(msgs) != count:
        raise AssertionError("%s@%s: expected %d message(s), found %d"
                             % (local, domain, count, len(msgs)))
    return msgs


def wait_maildir_stable(srv, local, polls=10, timeout=30):
    """Waits until srv's Maildir of local holds the same number of files over polls polls."""
    history = []

    def stable():
        history.append(len(srv.maildir(local)))
        return len(history) >= polls and len(set(history[-polls:])) == 1
    wait_for(stable, timeout=timeout, interval=0.05, what="the Maildir to stop growing")


def all_maildir_files(data_dir):
    """Every message file under DATA/mail/*/*/new."""
    out = []
    root = os.path.join(data_dir, "mail")
    if not os.path.isdir(root):
        return out
    for domain in sorted(os.listdir(root)):
        ddir = os.path.join(root, domain)
        if not os.path.isdir(ddir):
            continue
        for local in sorted(os.listdir(ddir)):
            out.extend(maildir_files(data_dir, domain, local))
    return out


def split_message(raw):
    """(list of unfolded header lines as str, body bytes) of a stored LF message."""
    head, sep, body = raw.partition(b"\n\n")
    if not sep:
        head, body = raw, b""
    headers = []
    for line in head.decode("utf-8", "replace").split("\n"):
        if line[:1] in (" ", "\t") and headers:
            headers[-1] += " " + line.strip()
        else:
            headers.append(line)
    return headers, body


def header_value(raw, name):
    """The first header called name (case-insensitive), unfolded, or None."""
    headers, _ = split_message(raw)
    prefix = name.lower() + ":"
    for h in headers:
        if h.lower().startswith(prefix):
            return h[len(prefix):].strip()
    return None


# --------------------------------------------------------------------------
# Command-line helpers


def run_cli(args, timeout=30, env=None, check_sanitizer=True):
    """Runs BIN with args; returns CompletedProcess with str stdout/stderr.
    Fails (AssertionError) on a sanitizer report in stderr."""
    full_env = dict(os.environ)
    if env:
        full_env.update(env)
    cp = subprocess.run([BIN] + list(args), stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                        stderr=subprocess.PIPE, timeout=timeout, env=full_env)
    cp.stdout = cp.stdout.decode("utf-8", "replace")
    cp.stderr = cp.stderr.decode("utf-8", "replace")
    if check_sanitizer:
        marker = sanitizer_report(cp.stderr)
        if marker:
            raise AssertionError("%s in stderr of postino %s:\n%s"
                                 % (marker, " ".join(args), cp.stderr))
    return cp


def queue_json(conf):
    """`postino queue -c CONF list --json` parsed: a list of dicts."""
    cp = run_cli(["queue", "-c", conf, "list", "--json"])
    if cp.returncode != 0:
        raise AssertionError("queue list --json exited %d: %s" % (cp.returncode, cp.stderr))
    out = []
    for line in cp.stdout.splitlines():
        if line.strip():
            try:
                out.append(json.loads(line))
            except ValueError as e:
                raise AssertionError("queue list --json: bad JSON line %r: %s" % (line, e))
    return out


# --------------------------------------------------------------------------
# Replies

ESC_RE = re.compile(r"^([245])\.(\d{1,3})\.(\d{1,3})$")
QUEUED_RE = re.compile(r"^250 2\.0\.0 Ok: queued as ([A-Za-z0-9]+)$")


class Reply:
    """One SMTP reply: code (int), lines (text after "NNN-"/"NNN "), raw lines."""

    def __init__(self, raw_lines):
        self.raw_lines = raw_lines
        self.code = int(raw_lines[0][:3])
        self.lines = [l[4:] for l in raw_lines]

    @property
    def text(self):
        return self.lines[-1]

    @property
    def esc(self):
        """The enhanced status code of the last line, or None."""
        word = self.text.split(" ", 1)[0]
        return word if ESC_RE.match(word) else None

    def __str__(self):
        return " | ".join(self.raw_lines)

    __repr__ = __str__


def check_esc(code, text, where=""):
    """Asserts text starts with an RFC 3463 code whose class matches code."""
    word = text.split(" ", 1)[0]
    m = ESC_RE.match(word)
    if not m:
        raise AssertionError("%sreply %d %r has no enhanced status code" % (where, code, text))
    if m.group(1) != str(code)[0]:
        raise AssertionError("%sreply %d %r: enhanced code class differs" % (where, code, text))


def expect(reply, code, esc=None, text_re=None, enhanced=True):
    """Asserts a Reply has this code, an enhanced status code (for 2xx/4xx/5xx;
    equal to esc when given), and its last line matches text_re when given.
    enhanced=False: the reply may lack enhanced codes (greeting, HELO/EHLO 250)."""
    if reply is None:
        raise AssertionError("expected %d, connection closed" % code)
    if reply.code != code:
        raise AssertionError("expected %d%s, got %s" % (code, " " + esc if esc else "", reply))
    if enhanced and str(code)[0] in "245":
        for l in reply.lines:
            check_esc(reply.code, l)
    if esc is not None and reply.esc != esc:
        raise AssertionError("expected %d %s, got %s" % (code, esc, reply))
    if text_re is not None and not re.search(text_re, reply.text):
        raise AssertionError("reply %s does not match %r" % (reply, text_re))
    return reply


def expect_smtplib(result, code, esc=None):
    """Same as expect() for an smtplib (code, bytes) pair."""
    got_code, msg = result
    text = msg.decode("utf-8", "replace") if isinstance(msg, bytes) else msg
    if got_code != code:
        raise AssertionError("expected %d %s, got %d %s" % (code, esc or "", got_code, text))
    lines = text.split("\n")
    check_esc(got_code, lines[-1])
    if esc is not None and lines[-1].split(" ", 1)[0] != esc:
        raise AssertionError("expected %d %s, got %d %s" % (code, esc, got_code, text))
    return text


def queue_id_of(reply_text):
    """The ID of "250 2.0.0 Ok: queued as ID" (a Reply or the smtplib text)."""
    line = reply_text if isinstance(reply_text, str) else reply_text.raw_lines[-1]
    if not line.startswith("250 "):
        line = "250 " + line
    m = QUEUED_RE.match(line)
    if not m:
        raise AssertionError("not a 'queued as' reply: %r" % line)
    return m.group(1)


def padded_command(head, tail, octets):
    """head, spaces, tail: a command line of exactly octets octets once the
    CRLF is added (RFC 5321 and RFC 3461 4 count the CRLF in a line's length)."""
    pad = octets - 2 - len(head) - len(tail)
    assert pad >= 1, (head, tail, octets)
    return head + " " * pad + tail


# --------------------------------------------------------------------------
# Raw-socket dialogue


class Raw:
    """A raw SMTP connection. Use as a context manager or call close()."""

    def __init__(self, port, host="127.0.0.1", source=None, timeout=10.0, greeting=True):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.settimeout(timeout)
        self.buf = b""
        self.greeting = None
        try:
            if source:
                self.sock.bind((source, 0))
            self.sock.connect((host, port))
            self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            if greeting:
                self.greeting = self.reply()
        except BaseException:
            self.sock.close()
            raise

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass

    def send(self, data):
        if isinstance(data, str):
            data = data.encode("utf-8")
        self.sock.sendall(data)

    def _readline(self):
        """One line (without CRLF) or None at EOF."""
        while b"\n" not in self.buf:
            chunk = self.sock.recv(65536)
            if not chunk:
                if self.buf:
                    line, self.buf = self.buf, b""
                    return line.decode("utf-8", "replace")
                return None
            self.buf += chunk
        line, _, self.buf = self.buf.partition(b"\n")
        if not line.endswith(b"\r"):
            raise AssertionError("server line not ended by CRLF: %r" % line)
        return line[:-1].decode("utf-8", "replace")

    def reply(self):
        """Reads one full reply (multi-line included); None if the server closed."""
        raw = []
        while True:
            line = self._readline()
            if line is None:
                if raw:
                    raise AssertionError("connection closed inside a reply: %r" % raw)
                return None
            if len(line) < 3 or not line[:3].isdigit() or (len(line) > 3 and line[3] not in " -"):
                raise AssertionError("malformed reply line %r" % line)
            if raw and line[:3] != raw[0][:3]:
                raise AssertionError("reply code changes inside a reply: %r then %r" % (raw, line))
            raw.append(line)
            if len(line) == 3 or line[3] == " ":
                return Reply(raw)

    def cmd(self, line):
        """Sends line + CRLF, returns the reply."""
        if isinstance(line, str):
            line = line.encode("utf-8")
        self.send(line + b"\r\n")
        return self.reply()

    def expect_closed(self, timeout=5.0):
        """Asserts the server closes the connection (EOF, or a reset) within timeout
        without sending anything else."""
        self.sock.settimeout(timeout)
        try:
            data = self.buf + self.sock.recv(65536)
        except ConnectionResetError:
            return
        except socket.timeout:
            raise AssertionError("server did not close the connection within %.1fs" % timeout)
        if data:
            raise AssertionError("expected the connection to close, got %r" % data)

    def ehlo(self, name="client.test"):
        return expect(self.cmd("EHLO " + name), 250, enhanced=False)

    def transaction(self, sender, rcpts, body, esmtp=True):
        """EHLO (once) is the caller's job. MAIL, RCPTs, DATA, body (bytes,
        CRLF lines, dot-stuffed by the caller), final dot. Returns the final Reply."""
        expect(self.cmd("MAIL FROM:<%s>" % sender), 250, "2.1.0")
        for r in rcpts:
            expect(self.cmd("RCPT TO:<%s>" % r), 250, "2.1.5")
        expect(self.cmd("DATA"), 354)
        if isinstance(body, str):
            body = body.encode("utf-8")
        if not body.endswith(b"\r\n"):
            body += b"\r\n"
        self.send(body + b".\r\n")
        return self.reply()


def smtp_client(port, source=None, timeout=15.0):
    """An smtplib.SMTP connected to 127.0.0.1:port (greeting read), local name client.test."""
    return smtplib.SMTP("127.0.0.1", port, local_hostname="client.test", timeout=timeout,
                        source_address=(source, 0) if source else None)


def make_message(subject, body="Hello.\r\n", sender="alice@sender.test", to="bob@example.test",
                 extra_headers=(), message_id=None):
    """A small CRLF message (bytes, not dot-stuffed)."""
    lines = ["From: <%s>" % sender, "To: <%s>" % to, "Subject: %s" % subject,
             "Message-ID: <%s>" % (message_id or (subject.replace(" ", "-") + "@client.test")),
             "Date: Mon, 24 Nov 2025 08:00:00 +0000"]
    lines.extend(extra_headers)
    msg = "\r\n".join(lines).encode() + b"\r\n\r\n"
    if isinstance(body, str):
        body = body.encode("utf-8")
    return msg + body


def send_message(port, sender, rcpts, msg, source=None, mail_options=(), rcpt_options=()):
    """Sends one message with smtplib (EHLO, dot-stuffing done by smtplib).
    Returns the queue id of the 250 reply; fails on any other reply."""
    with smtp_client(port, source) as s:
        code, _ = s.ehlo()
        if code != 250:
            raise AssertionError("EHLO got %d" % code)
        expect_smtplib(s.mail(sender, list(mail_options)), 250, "2.1.0")
        for r in rcpts:
            expect_smtplib(s.rcpt(r, list(rcpt_options)), 250, "2.1.5")
        text = expect_smtplib(s.data(msg), 250, "2.0.0")
        return queue_id_of(text)


# --------------------------------------------------------------------------
# The server under test


class Server:
    """A `postino serve` in a fresh temp dir.

    Server(users=..., aliases=..., **settings): users is a list of lines for the
    users file (None = no users file), aliases likewise. settings override the
    default config keys (value None drops a key); extra=[lines] appends raw lines.
    """

    DEFAULTS = [
        ("hostname", HOSTNAME),
        ("local_domains", "localhost example.test"),
        ("relay_networks", "127.0.0.1/32"),
        ("timeout_server", "2s"),
        ("max_message_size", "100K"),
        ("max_recipients", "5"),
        ("max_hops", "50"),
        ("max_connections", "300"),
        ("max_connections_per_ip", "250"),
    ]

    def __init__(self, users=None, aliases=None, extra=(), tmp=None, **settings):
        self.tmp = tmp or tempfile.mkdtemp(prefix="postino-integ-")
        self.data = os.path.join(self.tmp, "data")
        self.conf = os.path.join(self.tmp, "postino.conf")
        self.port = free_port()
        self.proc = None
        self.starts = 0
        self.killed = False
        self.users_file = self.aliases_file = None
        if users is not None:
            self.users_file = os.path.join(self.tmp, "users")
            with open(self.users_file, "w") as f:
                f.write("".join(l + "\n" for l in users))
        if aliases is not None:
            self.aliases_file = os.path.join(self.tmp, "aliases")
            with open(self.aliases_file, "w") as f:
                f.write("".join(l + "\n" for l in aliases))
        self.settings = settings
        self.extra = list(extra)
        self.write_config()

    def config_lines(self):
        lines = ["# written by tests/integ/lib.py",
                 "data_dir %s" % self.data,
                 "listen smtp 127.0.0.1:%d" % self.port]
        for key, value in self.DEFAULTS:
            value = self.settings.get(key, value)
            if value is not None:
                lines.append("%s %s" % (key, value))
        for key, value in self.settings.items():
            if key not in dict(self.DEFAULTS) and value is not None:
                lines.append("%s %s" % (key, value))
        if self.users_file:
            lines.append("users %s" % self.users_file)
        if self.aliases_file:
            lines.append("aliases %s" % self.aliases_file)
        lines.extend(self.extra)
        return lines

    def write_config(self):
        with open(self.conf, "w") as f:
            f.write("\n".join(self.config_lines()) + "\n")

    @property
    def stderr_path(self):
        return os.path.join(self.tmp, "serve-%d.stderr" % self.starts)

    def log(self):
        """All server stderr so far (every start)."""
        parts = []
        for i in range(1, self.starts + 1):
            p = os.path.join(self.tmp, "serve-%d.stderr" % i)
            parts.append("---- %s ----\n%s" % (p, read_text(p)))
        return "\n".join(parts)

    def log_tail(self, n=60):
        lines = self.log().splitlines()
        return "\n".join(lines[-n:])

    # lifecycle

    def start(self):
        if not os.access(BIN, os.X_OK):
            raise AssertionError("POSTINO_BIN %s is not an executable" % BIN)
        self.starts += 1
        self.killed = False
        out = open(os.path.join(self.tmp, "serve-%d.stdout" % self.starts), "wb")
        err = open(self.stderr_path, "wb")
        try:
            self.proc = subprocess.Popen([BIN, "serve", "-c", self.conf], stdin=subprocess.DEVNULL,
                                         stdout=out, stderr=err, cwd=self.tmp)
        finally:
            out.close()
            err.close()
        _running.add(self.proc)
        try:
            self.wait_ready()
        except BaseException:
            self._force_kill()
            raise
        return self

    def _probe(self):
        """True once the port answers with a 220 greeting (then QUIT and wait for
        the close, so the probe is no longer counted as a connection)."""
        try:
            with Raw(self.port, timeout=5.0) as c:
                if c.greeting is None or c.greeting.code != 220:
                    raise AssertionError("readiness probe: unexpected greeting %s" % c.greeting)
                c.send(b"QUIT\r\n")
                c.reply()
                try:
                    c.expect_closed(5.0)
                except AssertionError:
                    pass
                return True
        except (ConnectionRefusedError, ConnectionResetError):
            return False

    def wait_ready(self):
        deadline = time.monotonic() + START_TIMEOUT
        while True:
            rc = self.proc.poll()
            if rc is not None:
                _running.discard(self.proc)
                raise AssertionError("postino serve exited with %d before listening:\n%s"
                                     % (rc, self.log_tail()))
            if self._probe():
                return
            if time.monotonic() >= deadline:
                raise AssertionError("postino serve did not accept connections on %d within %.0fs:\n%s"
                                     % (self.port, START_TIMEOUT, self.log_tail()))
            time.sleep(0.015)

    def running(self):
        return self.proc is not None and self.proc.poll() is None

    def _force_kill(self):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)
        if self.proc is not None:
            _running.discard(self.proc)

    def kill9(self):
        """SIGKILL (a crash); the next stop()/close() does not expect exit 0."""
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(10)
        _running.discard(self.proc)
        self.killed = True

    def signal_and_wait(self, sig=signal.SIGTERM, timeout=STOP_TIMEOUT):
        """Sends sig, waits for the exit; returns (exit status, seconds). Kills -9
        and fails if it does not exit within timeout."""
        t0 = time.monotonic()
        self.proc.send_signal(sig)
        try:
            rc = self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self._force_kill()
            raise AssertionError("postino serve did not exit within %.0fs of signal %d:\n%s"
                                 % (timeout, sig, self.log_tail()))
        _running.discard(self.proc)
        return rc, time.monotonic() - t0

    def check_log(self):
        """Fails if any server stderr holds a sanitizer report."""
        text = self.log()
        marker = sanitizer_report(text)
        if marker:
            raise AssertionError("%s in postino serve stderr:\n%s" % (marker, text))

    def stop(self):
        """SIGTERM; asserts exit 0 within 10 s and a clean stderr."""
        if self.proc is None:
            return
        if self.killed or self.proc.poll() is not None:
            rc = self.proc.returncode
            _running.discard(self.proc)
            if not self.killed and rc != 0:
                self.check_log()
                raise AssertionError("postino serve had already exited with %d:\n%s"
                                     % (rc, self.log_tail()))
        else:
            rc, _ = self.signal_and_wait(signal.SIGTERM, STOP_TIMEOUT)
            if rc != 0:
                self.check_log()
                raise AssertionError("postino serve exited %d after SIGTERM (expected 0):\n%s"
                                     % (rc, self.log_tail()))
        self.check_log()

    def restart(self):
        self.stop()
        return self.start()

    def close(self):
        """stop() then remove the temp dir (kept with KEEP_TMP=1)."""
        try:
            try:
                self.stop()
            finally:
                self._force_kill()
        finally:
            if KEEP_TMP:
                sys.stderr.write("\n[KEEP_TMP] %s\n" % self.tmp)
            else:
                shutil.rmtree(self.tmp, ignore_errors=True)

    def __enter__(self):
        try:
            return self.start()
        except BaseException:
            self.close()
            raise

    def __exit__(self, *exc):
        self.close()

    # conveniences

    def raw(self, **kw):
        return Raw(self.port, **kw)

    def smtp(self, source=None):
        return smtp_client(self.port, source)

    def send(self, sender, rcpts, msg, **kw):
        return send_message(self.port, sender, rcpts, msg, **kw)

    def maildir(self, local, domain="example.test"):
        return maildir_files(self.data, domain, local)

    def wait_mail(self, local, count=1, domain="example.test", timeout=DELIVERY_TIMEOUT):
        return wait_maildir_count(self.data, domain, local, count, timeout)

    def queue(self):
        return queue_json(self.conf)

    def wait_queue_empty(self, timeout=DELIVERY_TIMEOUT):
        wait_for(lambda: self.queue() == [], timeout, interval=0.05,
                 what=lambda: "an empty queue; still queued: %s" % self.queue())


class IntegTestCase(unittest.TestCase):
    """Base class: self.server(...) starts a Server stopped by addCleanup."""

    def server(self, start=True, **kw):
        srv = Server(**kw)
        self.addCleanup(srv.close)
        if start:
            srv.start()
        return srv

    def raw(self, srv, **kw):
        c = srv.raw(**kw)
        self.addCleanup(c.close)
        return c


class SharedServerTestCase(IntegTestCase):
    """One server for the whole class, started before its first test and stopped
    after its last. Subclasses override server_options() (Server keyword args)."""

    @classmethod
    def server_options(cls):
        return {}

    @classmethod
    def setUpClass(cls):
        cls.srv = Server(**cls.server_options())
        try:
            cls.srv.start()
        except BaseException:
            cls.srv.close()
            raise

    @classmethod
    def tearDownClass(cls):
        cls.srv.close()


# --------------------------------------------------------------------------
# Delivery Status Notifications (RFC 3464 in an RFC 6522 multipart/report):
# parse_notice() checks one notice as stored (Maildir copy, or the bytes a
# peer received) and returns a Notice for the field-by-field checks.

import email
import email.policy
import email.utils

DSN_ACTIONS = ("failed", "delayed", "delivered", "relayed", "expanded")
DSN_STATUS_RE = re.compile(r"^([245])\.(\d{1,3})\.(\d{1,3})$")
# RFC 3464 2.2 / 2.3 grammar order (extension fields come after these)
DSN_MSG_ORDER = ("original-envelope-id", "reporting-mta", "dsn-gateway", "received-from-mta",
                 "arrival-date")
DSN_RCPT_ORDER = ("original-recipient", "final-recipient", "action", "status", "remote-mta",
                  "diagnostic-code", "last-attempt-date", "final-log-id", "will-retry-until")
MSGID_RE = re.compile(r"^<[^<>@\s]+@[^<>@\s]+>$")
DATE_RE = re.compile(r"^(?:(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun), )?\d{1,2} "
                     r"(?:Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) \d{4} "
                     r"\d\d:\d\d(?::\d\d)? [+-]\d{4}(?: \([^()]*\))?$")


class Notice:
    """One parsed notice. raw: the bytes as given; msg: the email package's
    message; text: part 1 (str); fields: per-message fields {lower name: value};
    rcpts: per-recipient dicts {lower name: value}; fields_order/rcpt_orders:
    the field names in order; original_type; original: part 3's body (bytes,
    LF line ends); original_headers: part 3's header section (bytes, LF)."""

    def rcpt(self, addr):
        """The per-recipient fields whose Final-Recipient is addr (exactly one)."""
        found = [r for r in self.rcpts if dsn_addr(r.get("final-recipient", "")) == addr.lower()]
        if len(found) != 1:
            raise AssertionError("notice lists Final-Recipient %s %d time(s): %r"
                                 % (addr, len(found), self.rcpts))
        return found[0]

    def final_recipients(self):
        return sorted(dsn_addr(r["final-recipient"]) for r in self.rcpts)

    def actions(self):
        return sorted(set(r["action"].lower() for r in self.rcpts))


def dsn_addr(value):
    """"rfc822; bob@x" -> "bob@x" (lower case)."""
    t, semi, a = value.partition(";")
    if not semi or t.strip().lower() != "rfc822":
        raise AssertionError("not an rfc822-typed address: %r" % value)
    return a.strip().lower()


def dsn_date(value, what):
    """Parses an RFC 5322 date (a notice's Date, Arrival-Date, ...): aware datetime."""
    if not DATE_RE.match(value.strip()):
        raise AssertionError("%s: not an RFC 5322 date-time: %r" % (what, value))
    try:
        d = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError) as e:
        raise AssertionError("%s: not an RFC 5322 date: %r (%s)" % (what, value, e))
    if d is None or d.tzinfo is None:
        raise AssertionError("%s: date without a zone: %r" % (what, value))
    return d


def _check_order(names, order, what):
    pos = [order.index(n) for n in names if n in order]
    if pos != sorted(pos):
        raise AssertionError("%s: fields not in RFC 3464 order: %r" % (what, names))
    known = [i for i, n in enumerate(names) if n in order]
    ext = [i for i, n in enumerate(names) if n not in order]
    if known and ext and min(ext) < max(known):
        raise AssertionError("%s: an extension field before an RFC 3464 field: %r" % (what, names))
    if len(set(names)) != len(names):
        raise AssertionError("%s: a field is repeated: %r" % (what, names))


def _raw_parts(raw, boundary):
    """The raw body parts (header + body, LF line ends) of a multipart between
    its boundaries: [bytes]."""
    data = raw.replace(b"\r\n", b"\n")
    delim = b"\n--" + boundary.encode("ascii")
    pieces = data.split(delim)
    if len(pieces) < 3:
        raise AssertionError("boundary %r not found" % boundary)
    out = []
    for p in pieces[1:]:
        if p.startswith(b"--"):
            break
        nl = p.find(b"\n")
        if nl < 0 or p[:nl].strip(b" \t"):
            raise AssertionError("junk after a boundary: %r" % p[:80])
        out.append(p[nl + 1:])
    else:
        raise AssertionError("no closing boundary")
    return out


def parse_notice(raw, sender, hostname=HOSTNAME, stored=True):
    """Checks raw as one notice from postino to sender (RFC 3464 / RFC 6522 /
    RFC 5322 / DSN.md 4) and returns a Notice. stored: raw is a Maildir copy
    (Return-Path: <> first, then postino's Received line); else the bytes a
    next hop received (Received line first, CRLF). Raises AssertionError."""
    lines = raw.split(b"\n")
    for n, l in enumerate(lines):
        if len(l.rstrip(b"\r")) > 998:
            raise AssertionError("notice line %d is %d octets (over 998)" % (n + 1, len(l)))
    if not stored and raw.replace(b"\r\n", b"").find(b"\n") >= 0:
        raise AssertionError("bare LF in a notice on the wire")
    text_lines = raw.replace(b"\r\n", b"\n").decode("utf-8", "replace").split("\n")
    first = 0
    if stored:
        if text_lines[0] != "Return-Path: <>":
            raise AssertionError("stored notice does not start with Return-Path: <>: %r"
                                 % text_lines[0])
        first = 1
    if not re.match(r"^Received: by %s \(postino\) id [A-Za-z0-9]+;" % re.escape(hostname),
                    text_lines[first]):
        raise AssertionError("no 'Received: by %s (postino) id NID' line: %r"
                             % (hostname, text_lines[first]))
    msg = email.message_from_bytes(raw, policy=email.policy.default)
    for part in msg.walk():
        if part.defects:
            raise AssertionError("defects in %s: %r" % (part.get_content_type(), part.defects))
    nt = Notice()
    nt.raw, nt.msg = raw, msg
    if msg.get_content_type() != "multipart/report":
        raise AssertionError("Content-Type %r" % msg.get("Content-Type"))
    if msg.get_param("report-type") != "delivery-status":
        raise AssertionError("report-type %r" % msg.get_param("report-type"))
    if msg.get("MIME-Version", "").strip() != "1.0":
        raise AssertionError("MIME-Version %r" % msg.get("MIME-Version"))
    for name in ("Date", "From", "To", "Subject", "Message-ID", "Auto-Submitted",
                 "MIME-Version", "Content-Type"):
        if len(msg.get_all(name) or []) != 1:
            raise AssertionError("header %s appears %d times" % (name, len(msg.get_all(name) or [])))
    nt.date = dsn_date(header_value(raw.replace(b"\r\n", b"\n"), "Date") or "", "Date")
    froms = email.utils.getaddresses([str(msg["From"])])
    if [a.lower() for _, a in froms] != [("MAILER-DAEMON@%s" % hostname).lower()]:
        raise AssertionError("From %r" % str(msg["From"]))
    tos = email.utils.getaddresses([str(msg["To"])])
    if [a.lower() for _, a in tos] != [sender.lower()]:
        raise AssertionError("To %r, expected <%s>" % (str(msg["To"]), sender))
    if str(msg["Auto-Submitted"]).strip().lower() != "auto-replied":
        raise AssertionError("Auto-Submitted %r" % str(msg["Auto-Submitted"]))
    if not MSGID_RE.match(str(msg["Message-ID"]).strip()):
        raise AssertionError("Message-ID %r" % str(msg["Message-ID"]))
    nt.subject = str(msg["Subject"])
    parts = msg.get_payload()
    if not isinstance(parts, list) or len(parts) != 3:
        raise AssertionError("%s part(s), expected 3" % (len(parts) if isinstance(parts, list) else "no"))
    types = [p.get_content_type() for p in parts]
    if types[:2] != ["text/plain", "message/delivery-status"] or \
            types[2] not in ("message/rfc822", "text/rfc822-headers"):
        raise AssertionError("part types %r" % types)
    nt.original_type = types[2]
    nt.text = parts[0].get_payload(decode=True).decode("ascii")
    # part 2: the blocks as the email package split them, and the raw text
    raws = _raw_parts(raw, msg.get_boundary())
    if len(raws) != 3:
        raise AssertionError("%d raw parts" % len(raws))
    ds_raw = raws[1].split(b"\n\n", 1)[1]
    if any(b >= 0x80 for b in ds_raw):
        raise AssertionError("8-bit octets in message/delivery-status")
    blocks = parts[1].get_payload()
    if not isinstance(blocks, list) or len(blocks) < 2:
        raise AssertionError("delivery-status: %r blocks" % blocks)
    for b in blocks:
        if b.defects:
            raise AssertionError("delivery-status block defects %r" % b.defects)

    def fields(block, what):
        names = [k.lower() for k in block.keys()]
        _check_order(names, DSN_MSG_ORDER if what == "per-message" else DSN_RCPT_ORDER, what)
        return {k.lower(): " ".join(str(v).split()) for k, v in block.items()}, names
    nt.fields, nt.fields_order = fields(blocks[0], "per-message")
    if nt.fields.get("reporting-mta", "").replace(" ", "").lower() != "dns;" + hostname:
        raise AssertionError("Reporting-MTA %r" % nt.fields.get("reporting-mta"))
    for k in ("final-recipient", "action", "status"):
        if k in nt.fields:
            raise AssertionError("per-recipient field %s in the per-message block" % k)
    if "arrival-date" in nt.fields:
        nt.arrival = dsn_date(nt.fields["arrival-date"], "Arrival-Date")
    nt.rcpts, nt.rcpt_orders = [], []
    for i, b in enumerate(blocks[1:]):
        f, order = fields(b, "recipient block %d" % (i + 1))
        for k in ("final-recipient", "action", "status"):
            if k not in f:
                raise AssertionError("recipient block %d lacks %s: %r" % (i + 1, k, f))
        dsn_addr(f["final-recipient"])
        action = f["action"].lower()
        if action not in DSN_ACTIONS:
            raise AssertionError("Action %r" % f["action"])
        m = DSN_STATUS_RE.match(f["status"])
        if not m:
            raise AssertionError("Status %r" % f["status"])
        want = {"failed": "45", "delayed": "4"}.get(action, "2")
        if m.group(1) not in want:
            raise AssertionError("Status %s does not fit Action %s" % (f["status"], action))
        if "will-retry-until" in f and action != "delayed":
            raise AssertionError("Will-Retry-Until in a %s block" % action)
        for k in ("last-attempt-date", "will-retry-until"):
            if k in f:
                dsn_date(f[k], k)
        if "diagnostic-code" in f:
            dtype, semi, dtext = f["diagnostic-code"].partition(";")
            if not semi or not dtype.strip() or not dtext.strip():
                raise AssertionError("Diagnostic-Code %r" % f["diagnostic-code"])
            if dtype.strip().lower() == "smtp" and not re.match(r"^\s*[245]\d\d\b", dtext):
                raise AssertionError("smtp Diagnostic-Code without a reply code: %r"
                                     % f["diagnostic-code"])
        for k in ("remote-mta", "original-recipient"):
            if k in f and ";" not in f[k]:
                raise AssertionError("%s without a type: %r" % (k, f[k]))
        nt.rcpts.append(f)
        nt.rcpt_orders.append(order)
    for r in nt.rcpts:
        if "<%s>" % dsn_addr(r["final-recipient"]) not in nt.text.lower():
            raise AssertionError("text part does not name %s:\n%s" % (r["final-recipient"], nt.text))
    # part 3
    head3, _, body3 = raws[2].partition(b"\n\n")
    if body3.endswith(b"\n"):
        body3 = body3[:-1]     # the line end before the closing delimiter
    nt.original = body3
    nt.original_headers = body3.split(b"\n\n", 1)[0] + b"\n"
    if nt.original_type == "text/rfc822-headers" and b"\n\n" in body3.rstrip(b"\n"):
        raise AssertionError("text/rfc822-headers holds more than a header section")
    cte = (parts[2].get("Content-Transfer-Encoding") or "7bit").strip().lower()
    if any(b >= 0x80 for b in body3) and cte != "8bit":
        raise AssertionError("8-bit third part with Content-Transfer-Encoding %s" % cte)
    return nt


def notices_in(data_dir, domain, local):
    """The messages in DATA/mail/DOMAIN/LOCAL/new that are multipart/report."""
    out = []
    for p in maildir_files(data_dir, domain, local):
        with open(p, "rb") as f:
            raw = f.read()
        if re.search(rb"(?im)^content-type:\s*multipart/report", raw.split(b"\n\n", 1)[0]):
            out.append(raw)
    return out
