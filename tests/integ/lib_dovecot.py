"""
lib_dovecot: a private Dovecot for the IMAP tests (t_31_imap_dovecot,
t_70_imap_contrib).

What it owns: ensure_dovecot (Debian's dovecot-imapd, installed with apt-get
when missing; the reason to skip otherwise); DovecotProcess, a
`dovecot -F -c CONF` in its own temp dir whose config is the lines a test
gives plus private_lines() (base_dir, state_dir, log, a free loopback port
for imap only, no imaps, no stats listener, the internal users), so a
system Dovecot on 143/993, if any, does not matter; and stopping it with
every child it started (by pid and start time, as a child subreaper that
reaps them: lib_procs). imap_connect and imap_login open an imaplib
session that the test's cleanup logs out (imap_logout); flags_of reads the
flags of an imaplib FETCH answer.
"""
import imaplib
import os
import pwd
import re
import shutil
import socket
import subprocess
import tempfile
import time

import lib
from lib_procs import become_subreaper, descendants, stop_family

DOVECOT = "/usr/sbin/dovecot"
INSTALL_TIMEOUT = 600


def ensure_dovecot():
    """Returns None when dovecot is usable, else the reason to skip."""
    if os.path.exists(DOVECOT) and os.path.exists("/usr/lib/dovecot/imap"):
        return None
    if os.getuid() != 0:
        return "dovecot-imapd is not installed and not running as root to install it"
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    try:
        res = subprocess.run(["apt-get", "install", "-y", "-q", "--no-install-recommends",
                              "dovecot-imapd"], env=env, stdin=subprocess.DEVNULL,
                             stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                             timeout=INSTALL_TIMEOUT)
    except (OSError, subprocess.TimeoutExpired) as e:
        return "cannot install dovecot-imapd: %s" % e
    if res.returncode != 0 or not os.path.exists(DOVECOT):
        tail = res.stdout.decode("utf-8", "replace").strip().splitlines()[-3:]
        return "cannot install dovecot-imapd (apt-get exit %d): %s" % (
            res.returncode, " | ".join(tail))
    return None


def port_open(port):
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1):
            return True
    except OSError:
        return False


class DovecotProcess:
    """A private Dovecot; a subclass (or the caller) gives its config lines
    to write_config(lines) before start()."""

    def __init__(self):
        self.tmp = tempfile.mkdtemp(prefix="postino-dovecot-")
        os.chmod(self.tmp, 0o755)   # the auth process (internal user) reads files here
        self.port = lib.free_port()
        self.log = os.path.join(self.tmp, "dovecot.log")
        self.conf = os.path.join(self.tmp, "dovecot.conf")
        self.proc = None
        for d in ("run", "state"):
            os.mkdir(os.path.join(self.tmp, d))

    def private_lines(self):
        """What a private test instance needs besides the mail settings."""
        if os.getuid() == 0:
            internal, login = "dovecot", "dovenull"
            for name in (internal, login):
                try:
                    pwd.getpwnam(name)
                except KeyError:
                    internal = login = "nobody"
        else:
            internal = login = pwd.getpwuid(os.getuid()).pw_name
        lines = [
            "base_dir = %s/run" % self.tmp,
            "state_dir = %s/state" % self.tmp,
            "instance_name = postino-test-%d" % self.port,
            "protocols = imap",
            "listen = 127.0.0.1",
            "ssl = no",
            "disable_plaintext_auth = no",
            "auth_mechanisms = plain",
            "log_path = %s" % self.log,
            "info_log_path = %s" % self.log,
            "default_internal_user = %s" % internal,
            "default_login_user = %s" % login,
            "service imap-login {",
            "  inet_listener imap {",
            "    address = 127.0.0.1",
            "    port = %d" % self.port,
            "  }",
            "  inet_listener imaps {",
            "    port = 0",
            "  }",
            "}",
            "service stats {",
            "  inet_listener http {",
            "    port = 0",
            "  }",
            "}",
        ]
        if os.getuid() != 0:
            lines += ["service anvil {", "  chroot =", "}",
                      "service imap-login {", "  chroot =", "}"]
        return lines

    def write_config(self, lines):
        with open(self.conf, "w") as f:
            f.write("\n".join(lines) + "\n")
        os.chmod(self.conf, 0o644)

    def start(self, timeout=30.0):
        become_subreaper()
        self.proc = subprocess.Popen([DOVECOT, "-F", "-c", self.conf],
                                     stdin=subprocess.DEVNULL,
                                     stdout=open(os.path.join(self.tmp, "stdout"), "wb"),
                                     stderr=subprocess.STDOUT)
        lib._running.add(self.proc)
        deadline = time.monotonic() + timeout
        while not port_open(self.port):
            if self.proc.poll() is not None:
                raise AssertionError("dovecot exited %d:\n%s" % (self.proc.returncode,
                                                                 self.output()))
            if time.monotonic() >= deadline:
                raise AssertionError("dovecot did not listen on %d within %.0fs:\n%s"
                                     % (self.port, timeout, self.output()))
            time.sleep(0.05)

    def output(self):
        return (lib.read_text(os.path.join(self.tmp, "stdout")) + "\n" +
                lib.read_text(self.log))[-4000:]

    def close(self):
        if self.proc is not None:
            family = descendants(self.proc.pid)
            if self.proc.poll() is None:
                self.proc.terminate()
                try:
                    self.proc.wait(15)
                except subprocess.TimeoutExpired:
                    self.proc.kill()
                    self.proc.wait(5)
            lib._running.discard(self.proc)
            self.proc = None
            # The master's children (log, auth, imap...) exit on their own once
            # the master is gone; wait for them, kill by pid those that linger.
            stop_family(family, grace=10.0)
        if os.environ.get("KEEP_TMP") != "1":
            shutil.rmtree(self.tmp, ignore_errors=True)


def imap_connect(test, dv):
    """An imaplib connection to dv, logged out (quietly) when test ends."""
    c = imaplib.IMAP4("127.0.0.1", dv.port, timeout=15)
    test.addCleanup(imap_logout, c)
    return c


def imap_login(test, dv, user, password):
    """imap_connect, then LOGIN user (the test fails with Dovecot's log if refused)."""
    c = imap_connect(test, dv)
    try:
        c.login(user, password)
    except imaplib.IMAP4.error as e:
        test.fail("IMAP login %s failed: %s\n%s" % (user, e, dv.output()))
    return c


def imap_logout(c):
    """LOGOUT, whatever state the session is in (a second call does nothing)."""
    try:
        c.logout()
    except Exception:
        pass


def flags_of(fetch_data):
    """The set of flags in an imaplib FETCH response."""
    text = b" ".join(x if isinstance(x, bytes) else x[0] for x in fetch_data if x)
    m = re.search(rb"FLAGS \(([^)]*)\)", text)
    assert m, "no FLAGS in %r" % (text,)
    return set(m.group(1).decode().split())
