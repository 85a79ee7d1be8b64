"""
t_42_syslog: `log_file syslog` sends the log through syslog(3), facility
mail, ident postino with the pid. The server runs in a private mount
namespace (`unshare --mount`) whose /dev is a small tmpfs holding the usual
device nodes and, as /dev/log, a UNIX datagram socket this test owns: what
the test reads is exactly what a syslog daemon would get. Checked: every
datagram is "<PRI>TIMESTAMP postino[PID]: ..." with facility mail (PRI
22 = mail.info, 20 = mail.warning with "warning: " before the text), the
mail's story arrives (queued, delivered, failed), log_format json sends one
JSON object per datagram, and SIGHUP with syslog keeps serving.
"""
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import unittest

import lib

LOG_MAIL = 2
INFO, WARNING = 6, 4
LINE = re.compile(r"^<(\d+)>([A-Z][a-z]{2} [ \d]\d \d\d:\d\d:\d\d) postino\[(\d+)\]: (.*)$", re.S)
DEVICES = ("null", "zero", "full", "random", "urandom")


def namespace_script(dev, sock):
    """sh: a tmpfs /dev with the devices bind-mounted and the test's socket as /dev/log."""
    binds = " && ".join("touch %s/%s && mount --bind /dev/%s %s/%s" % (dev, n, n, dev, n)
                        for n in DEVICES)
    return ("set -e; mount -t tmpfs -o mode=755 tmpfs %s && %s && touch %s/log && "
            "mount --bind %s %s/log && mount --rbind %s /dev && exec \"$@\""
            % (dev, binds, dev, sock, dev, dev))


def namespace_problem():
    """None if a private mount namespace with our own /dev/log can be made, else why."""
    if os.geteuid() != 0:
        return "needs root for mount namespaces (not root: uid %d)" % os.geteuid()
    if not shutil.which("unshare"):
        return "unshare(1) is not installed"
    cmd = ["unshare", "--mount", "--propagation", "private", "sh", "-c",
           "mount -t tmpfs tmpfs /mnt && true"]
    cp = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=30)
    if cp.returncode != 0:
        return "`%s` failed: %s" % (" ".join(cmd), cp.stdout.decode("utf-8", "replace").strip())
    return None


class SyslogReceiver:
    """A UNIX datagram socket that collects what postino's syslog(3) sends."""

    def __init__(self, path):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(path)
        os.chmod(path, 0o666)
        self.sock.setblocking(False)
        self.lines = []

    def drain(self):
        while True:
            try:
                self.lines.append(self.sock.recv(65536).decode("utf-8", "replace"))
            except BlockingIOError:
                return self.lines

    def wait(self, predicate, what):
        lib.wait_for(lambda: any(predicate(l) for l in self.drain()), what=what)

    def close(self):
        self.sock.close()


class Syslog(lib.IntegTestCase):

    @classmethod
    def setUpClass(cls):
        cls.problem = namespace_problem()

    def setUp(self):
        if self.problem:
            self.skipTest(self.problem)

    def syslog_server(self, **kw):
        srv = self.server(start=False, log_file="syslog", users=["bob@example.test:{PLAIN}pw"],
                          aliases=["ghost@example.test: nosuch@example.test"], **kw)
        dev = os.path.join(srv.tmp, "dev")
        os.mkdir(dev)
        rx = SyslogReceiver(os.path.join(srv.tmp, "log.sock"))
        self.addCleanup(rx.close)
        srv.wrapper = ["unshare", "--mount", "--propagation", "private", "sh", "-c",
                       namespace_script(dev, os.path.join(srv.tmp, "log.sock")), "sh"]
        srv.start()
        return srv, rx

    def parse(self, line, pid):
        m = LINE.match(line)
        self.assertIsNotNone(m, "not a syslog line: %r" % line)
        pri = int(m.group(1))
        self.assertEqual(pri >> 3, LOG_MAIL, line)
        self.assertEqual(int(m.group(3)), pid, line)
        return pri & 7, m.group(4)

    def test_mail_story_in_syslog(self):
        srv, rx = self.syslog_server()
        rx.wait(lambda l: "postino ready" in l, "postino ready through /dev/log")
        qid = srv.send("alice@sender.test", ["bob@example.test"],
                       lib.make_message("t42 syslog", to="bob@example.test"))
        srv.wait_mail("bob")
        rx.wait(lambda l: "%s: to=<bob@example.test> status=delivered" % qid in l,
                "the delivery in syslog")
        with srv.raw() as c:      # a forbidden command is a warning
            c.send(b"GET / HTTP/1.0\r\n\r\n")
            lib.expect(c.reply(), 421, "4.7.0")
        rx.wait(lambda l: "forbidden command GET" in l, "the warning in syslog")
        seen = {}
        for line in rx.drain():
            level, text = self.parse(line, srv.proc.pid)
            seen[text] = level
            self.assertNotIn("\n", text)
        ready = [t for t in seen if t.startswith("postino ready")]
        self.assertEqual([seen[t] for t in ready], [INFO])
        queued = [t for t in seen if t.startswith("%s: from=<alice@sender.test>" % qid)]
        self.assertEqual(len(queued), 1, seen)
        self.assertRegex(queued[0], r"size=\d+ nrcpt=1 client=127\.0\.0\.1 queued$")
        self.assertEqual(seen[queued[0]], INFO)
        warn = [t for t in seen if "forbidden command GET" in t]
        self.assertEqual(len(warn), 1, seen)
        self.assertTrue(warn[0].startswith("warning: smtp: 127.0.0.1"), warn)
        self.assertEqual(seen[warn[0]], WARNING)
        self.assertEqual(lib.read_text(srv.stderr_path), "")  # everything went to syslog

    def test_json_through_syslog_and_sighup(self):
        srv, rx = self.syslog_server(log_format="json")
        rx.wait(lambda l: "postino ready" in l, "postino ready through /dev/log")
        srv.proc.send_signal(signal.SIGHUP)
        rx.wait(lambda l: "nothing to reopen" in l, "SIGHUP logged")
        qid = srv.send("alice@sender.test", ["ghost@example.test"],
                       lib.make_message("t42 json", to="ghost@example.test"))
        rx.wait(lambda l: '"event":"failed"' in l and qid in l, "the failure in syslog")
        self.assertTrue(srv.running())
        events = []
        for line in rx.drain():
            level, text = self.parse(line, srv.proc.pid)
            obj = json.loads(text)
            self.assertEqual(obj["level"], {INFO: "info", WARNING: "warn", 3: "error"}[level])
            events.append(obj)
        failed = [e for e in events if e.get("queue_id") == qid and e["event"] == "failed"]
        self.assertEqual(len(failed), 1, events)
        self.assertEqual(failed[0]["to"], "nosuch@example.test")
        self.assertEqual(failed[0]["dsn"], "5.1.1")


if __name__ == "__main__":
    unittest.main()
