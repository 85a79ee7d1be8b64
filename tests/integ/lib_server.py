"""
lib_server: the server under test (re-exported by lib).

What it owns: Server, which writes a config into a fresh temp dir, runs
`postino serve`, waits until the SMTP port answers with a 220 greeting, stops
it with SIGTERM (exit 0 within 10 s or the test fails) and fails the test if
the server's stderr holds sanitizer reports; the temp dir is removed unless
KEEP_TMP=1. IntegTestCase (self.server(...) stopped by addCleanup) and
SharedServerTestCase (one server for a whole class).
"""
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import unittest

from lib_base import (BIN, DELIVERY_TIMEOUT, HOSTNAME, KEEP_TMP, START_TIMEOUT, STOP_TIMEOUT,
                      _running, free_port, queue_json, read_text, sanitizer_report, wait_for)
from lib_maildir import header_value, maildir_files, maildir_messages, wait_maildir_count
from lib_smtp import Raw, make_message, send_message, smtp_client


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
        # The tests run as root, so the server drops to run_as (postino): it
        # must cross this folder to its data_dir and read the config, users and
        # aliases files again at SIGHUP. 0711 and the 0644 files the test
        # writes allow that, and nothing more than a real /etc/postino would.
        os.chmod(self.tmp, 0o711)
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
        self.wrapper = []  # a command that runs `postino serve` (it must exec it: same pid)
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
            self.proc = subprocess.Popen(self.wrapper + [BIN, "serve", "-c", self.conf],
                                         stdin=subprocess.DEVNULL,
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
    after its last. Subclasses override server_options() (Server keyword args).
    The server is stopped by a class cleanup: also when setUpClass fails after
    it, and after what a subclass registers with cls.addClassCleanup once the
    server runs (a peer, a Dovecot, a browser), which is stopped first."""

    @classmethod
    def server_options(cls):
        return {}

    @classmethod
    def setUpClass(cls):
        cls.srv = Server(**cls.server_options())
        cls.addClassCleanup(cls.srv.close)
        cls.srv.start()


def mailbox_barrier(srv, tag, locals_):
    """Sends a good message "TAG barrier LOCAL" to each LOCAL@example.test, waits for them and
    for an empty queue, then asserts each mailbox holds only that one (nothing smuggled or
    refused arrived before it): the end of a smuggling test."""
    for local in locals_:
        srv.send("alice@sender.test", [local + "@example.test"],
                 make_message("%s barrier %s" % (tag, local)))
    for local in locals_:
        wait_for(lambda: len(srv.maildir(local)) >= 1, what="barrier for " + local)
    srv.wait_queue_empty()
    for local in locals_:
        subjects = [header_value(m, "Subject")
                    for m in maildir_messages(srv.data, "example.test", local)]
        if subjects != ["%s barrier %s" % (tag, local)]:
            raise AssertionError("mailbox %s holds a smuggled or refused message: %r"
                                 % (local, subjects))
