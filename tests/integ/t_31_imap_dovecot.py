"""
t_31_imap_dovecot: IMAP interoperability. Messages that postino delivered
to its Maildirs (DATA/mail/DOMAIN/LOCAL/{tmp,new,cur}) are read by a private
Dovecot (Debian's dovecot-imapd, installed with apt-get when missing) with
Python's imaplib: the content is equal to the stored file (modulo LF/CRLF),
RFC822.SIZE is the CRLF size, a new message is \\Recent and not \\Seen, a
FETCH BODY[] sets \\Seen, and Dovecot renames the file into cur/ with the
standard ":2,S" info suffix. This proves the Maildirs are standard.

The Dovecot runs from a config in the test's temp dir (base_dir, state_dir,
log there), on a free loopback port only (imaps disabled), so a system
Dovecot on 143/993, if any, does not matter. Dovecot refuses to access mail
as root, so when the test runs as root the delivered mailbox is chowned to
`nobody` and the mail processes run with that uid.
The test is skipped only if dovecot is missing and cannot be installed.
"""
import ctypes
import imaplib
import os
import pwd
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import time

import lib

DOVECOT = "/usr/sbin/dovecot"
PASSWORD = "imap-secret"
DOMAIN = "example.test"
USERS = ["bob@example.test", "carol@example.test"]
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


class Dovecot:
    """A private `dovecot -F -c CONF` on 127.0.0.1:port serving data/mail."""

    def __init__(self, mail_root, users, uid, gid, user_name):
        self.tmp = tempfile.mkdtemp(prefix="postino-dovecot-")
        os.chmod(self.tmp, 0o755)   # the auth process (internal user) reads the passwd file
        self.port = lib.free_port()
        self.log = os.path.join(self.tmp, "dovecot.log")
        self.proc = None
        passwd = os.path.join(self.tmp, "passwd")
        with open(passwd, "w") as f:
            f.write("".join("%s:{PLAIN}%s\n" % (u, PASSWORD) for u in users))
        os.chmod(passwd, 0o644)
        for d in ("run", "state"):
            os.mkdir(os.path.join(self.tmp, d))
        if os.getuid() == 0:
            internal, login = "dovecot", "dovenull"
            for name in (internal, login):
                try:
                    pwd.getpwnam(name)
                except KeyError:
                    internal = login = "nobody"
        else:
            internal = login = user_name
        home = "%s/%%d/%%n" % mail_root
        self.conf = os.path.join(self.tmp, "dovecot.conf")
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
            "mail_location = maildir:%s" % home,
            "passdb {",
            "  driver = passwd-file",
            "  args = scheme=PLAIN username_format=%%u %s" % passwd,
            "}",
            "userdb {",
            "  driver = static",
            "  args = uid=%d gid=%d home=%s" % (uid, gid, home),
            "}",
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
        with open(self.conf, "w") as f:
            f.write("\n".join(lines) + "\n")

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
            try:
                lib.wait_for(lambda: not any(reap(p) for p in family), timeout=10,
                             what="dovecot's processes to exit")
            except AssertionError:
                for p in family:
                    if reap(p):
                        try:
                            os.kill(p[0], signal.SIGKILL)
                        except ProcessLookupError:
                            pass
        if os.environ.get("KEEP_TMP") != "1":
            shutil.rmtree(self.tmp, ignore_errors=True)


def descendants(pid):
    """(pid, start time) of every live descendant of pid, from /proc."""
    parent = {}
    for n in os.listdir("/proc"):
        if n.isdigit():
            st = proc_stat(int(n))
            if st:
                parent[int(n)] = st
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        for child, (ppid, start) in parent.items():
            if ppid == p:
                out.append((child, start))
                todo.append(child)
    return out


def proc_stat(pid):
    """(ppid, start time) of pid, or None if it is gone or a zombie."""
    try:
        with open("/proc/%d/stat" % pid) as f:
            fields = f.read().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None
    if fields[0] == "Z":
        return None
    return int(fields[1]), fields[19]


def become_subreaper():
    """Dovecot's children outlive the master by a moment; as a child subreaper
    this process inherits them and can reap them (a PID 1 that does not reap
    would leave zombies in our process group)."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(36, 1, 0, 0, 0)   # PR_SET_CHILD_SUBREAPER
    except (OSError, AttributeError):
        pass


def reap(entry):
    """True while the process is alive; reaps it if it became our zombie."""
    try:
        pid, _ = os.waitpid(entry[0], os.WNOHANG)
        if pid:
            return False
    except ChildProcessError:
        pass
    return alive(entry)


def alive(entry):
    pid, start = entry
    st = proc_stat(pid)
    return st is not None and st[1] == start


def chown_tree(path, uid, gid):
    os.chown(path, uid, gid)
    for root, dirs, files in os.walk(path):
        for n in dirs + files:
            os.chown(os.path.join(root, n), uid, gid)


def make_traversable(top, path):
    """chmod o+x on every directory from top down to path (inclusive)."""
    top = os.path.abspath(top)
    p = os.path.abspath(path)
    while True:
        st = os.stat(p)
        os.chmod(p, st.st_mode | 0o011)
        if p == top or p == "/":
            break
        p = os.path.dirname(p)


def flags_of(fetch_data):
    """The set of flags in an imaplib FETCH response."""
    text = b" ".join(x if isinstance(x, bytes) else x[0] for x in fetch_data if x)
    m = re.search(rb"FLAGS \(([^)]*)\)", text)
    assert m, "no FLAGS in %r" % (text,)
    return set(m.group(1).decode().split())


class ImapDovecot(lib.IntegTestCase):

    @classmethod
    def setUpClass(cls):
        reason = ensure_dovecot()
        if reason:
            raise lib.unittest.SkipTest(reason)

    def setUp(self):
        self.srv = self.server(users=["%s:{PLAIN}x" % u for u in USERS])

    def deliver(self, user, subjects):
        local = user.split("@")[0]
        for i, subject in enumerate(subjects):
            body = ("Line one.\r\n.dotted line\r\n\r\nFrom the start\r\n"
                    "caf\u00e9 8bit %d\r\nlast\r\n" % i)
            msg = lib.make_message(subject, body=body, to=user)
            lib.send_message(self.srv.port, "alice@sender.test", [user], msg)
            lib.wait_maildir_count(self.srv.data, DOMAIN, local, i + 1)
        return lib.maildir_messages(self.srv.data, DOMAIN, local)

    def dovecot(self, users):
        """Hands the delivered mailboxes to an unprivileged uid and starts Dovecot."""
        mail_root = os.path.join(self.srv.data, "mail")
        if os.getuid() == 0:
            pw = pwd.getpwnam("nobody")
            uid, gid = pw.pw_uid, pw.pw_gid
            for u in users:
                local, domain = u.split("@")
                box = lib.maildir_path(self.srv.data, domain, local)
                chown_tree(box, uid, gid)
                make_traversable(self.srv.tmp, os.path.dirname(box))
        else:
            uid, gid = os.getuid(), os.getgid()
        dv = Dovecot(mail_root, USERS, uid, gid, pwd.getpwuid(os.getuid()).pw_name)
        self.addCleanup(dv.close)
        dv.start()
        self.dv = dv
        return dv

    def imap(self, user):
        c = imaplib.IMAP4("127.0.0.1", self.dv.port, timeout=15)
        self.addCleanup(self._logout, c)
        try:
            c.login(user, PASSWORD)
        except imaplib.IMAP4.error as e:
            self.fail("IMAP login %s failed: %s\n%s" % (user, e, self.dv.output()))
        return c

    @staticmethod
    def _logout(c):
        try:
            c.logout()
        except Exception:
            pass

    def test_read_delivered_messages(self):
        user = USERS[0]
        stored = self.deliver(user, ["imap one", "imap two"])
        self.assertTrue(all(b"\r" not in m for m in stored))
        dv = self.dovecot([user])
        c = self.imap(user)
        typ, data = c.select("INBOX")
        self.assertEqual(typ, "OK", data)
        self.assertEqual(int(data[0]), 2)

        # Before any fetch: new messages are \Recent, not \Seen.
        typ, data = c.fetch("1:2", "(FLAGS RFC822.SIZE UID)")
        self.assertEqual(typ, "OK", data)
        self.assertEqual(len(data), 2, data)
        for i, item in enumerate(data):
            flags = flags_of([item])
            self.assertNotIn("\\Seen", flags)
            self.assertTrue(flags <= {"\\Recent"}, flags)
            size = int(re.search(rb"RFC822\.SIZE (\d+)", item).group(1))
            self.assertEqual(size, len(stored[i]) + stored[i].count(b"\n"))

        # BODY.PEEK[] returns the stored bytes (CRLF) and sets nothing.
        for i in (1, 2):
            typ, data = c.fetch(str(i), "(BODY.PEEK[])")
            self.assertEqual(typ, "OK", data)
            content = data[0][1]
            self.assertEqual(content, stored[i - 1].replace(b"\n", b"\r\n"))
            self.assertTrue(content.startswith(b"Return-Path: <alice@sender.test>\r\n"))
            self.assertIn(b"\r\nReceived: ", content)
            self.assertIn(b"\r\nSubject: imap %s\r\n" % (b"one" if i == 1 else b"two"),
                          content)
            self.assertIn(b"\r\n.dotted line\r\n", content)
        typ, data = c.fetch("1", "(FLAGS)")
        self.assertNotIn("\\Seen", flags_of(data))

        # Header and text parts split where postino's file does.
        typ, data = c.fetch("2", "(BODY.PEEK[HEADER] BODY.PEEK[TEXT])")
        self.assertEqual(typ, "OK", data)
        head, body = stored[1].split(b"\n\n", 1)
        parts = [x[1] for x in data if isinstance(x, tuple)]
        self.assertEqual(parts[0], head.replace(b"\n", b"\r\n") + b"\r\n\r\n")
        self.assertEqual(parts[1], body.replace(b"\n", b"\r\n"))

        # SEARCH sees the headers.
        typ, data = c.search(None, "SUBJECT", '"imap two"')
        self.assertEqual((typ, data[0].split()), ("OK", [b"2"]))

        # FETCH BODY[] sets \Seen.
        typ, data = c.fetch("1", "(BODY[])")
        self.assertEqual(typ, "OK", data)
        self.assertEqual(data[0][1], stored[0].replace(b"\n", b"\r\n"))
        typ, data = c.fetch("1", "(FLAGS)")
        self.assertIn("\\Seen", flags_of(data))
        typ, data = c.fetch("2", "(FLAGS)")
        self.assertNotIn("\\Seen", flags_of(data))
        c.close()
        self._logout(c)

        # Dovecot moved the files to cur/ with the standard info suffix.
        local = user.split("@")[0]
        lib.wait_for(lambda: not lib.maildir_files(self.srv.data, DOMAIN, local),
                     what="new/ emptied by dovecot")
        cur = lib.maildir_files(self.srv.data, DOMAIN, local, "cur")
        self.assertEqual(len(cur), 2, cur)
        names = sorted(os.path.basename(p) for p in cur)
        seen = [n for n in names if n.endswith(":2,S")]
        self.assertEqual(len(seen), 1, names)
        for n in names:
            self.assertRegex(n, r"^\d+\.[^/:]+:2,S?$")
        with open(os.path.join(os.path.dirname(cur[0]), seen[0]), "rb") as f:
            self.assertEqual(f.read(), stored[0])

        # A second session: same UIDs, flags kept.
        c = self.imap(user)
        typ, data = c.select("INBOX", readonly=True)
        self.assertEqual(int(data[0]), 2)
        typ, data = c.fetch("1:2", "(FLAGS)")
        self.assertIn("\\Seen", flags_of([data[0]]))
        self.assertNotIn("\\Seen", flags_of([data[1]]))
        self.assertNotIn("\\Recent", flags_of([data[0]]) | flags_of([data[1]]))
        self.assertNotIn("Error", lib.read_text(dv.log), dv.output())

    def test_wrong_password_and_other_user(self):
        stored = self.deliver(USERS[1], ["for carol"])
        self.dovecot([USERS[1]])
        c = imaplib.IMAP4("127.0.0.1", self.dv.port, timeout=15)
        self.addCleanup(self._logout, c)
        with self.assertRaises(imaplib.IMAP4.error):
            c.login(USERS[1], "wrong")
        c = self.imap(USERS[1])
        typ, data = c.select("INBOX")
        self.assertEqual(int(data[0]), 1)
        typ, data = c.fetch("1", "(BODY.PEEK[])")
        self.assertEqual(data[0][1], stored[0].replace(b"\n", b"\r\n"))


if __name__ == "__main__":
    lib.unittest.main()
