"""
t_41_local_ops: the server and the commands as local users and operators
meet them. SIGHUP (logrotate's postrotate) reopens log_file after a rename
and the server keeps serving; without log_file SIGHUP is logged and changes
nothing. An ordinary user (nobody) runs sendmail and mailq with a config
naming a TLS key only root can read (0600): neither reads the TLS files,
while `postino check` as root still does. mailq as nobody lists the queue
through the server's read-only socket, exactly as root's `queue list` (human
and --json); show/hold/release/delete/flush as nobody are refused (exit 77), and
mailq as nobody with the server stopped exits 69.
"""
import json
import os
import pwd
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import unittest

import lib
import peers

EX_UNAVAILABLE, EX_NOPERM = 69, 77
NOBODY = 65534


def as_nobody():
    os.setgid(NOBODY)
    os.setuid(NOBODY)


class NobodyMixin:
    """Runs the binary as nobody: a copy in the server's folder (made 0711), the config 0644."""

    def nobody_setup(self, srv):
        if os.geteuid() != 0:
            self.skipTest("needs root to run commands as another user")
        os.chmod(srv.tmp, 0o711)
        os.chmod(srv.conf, 0o644)
        self.nobody_bin = os.path.join(srv.tmp, "postino")
        shutil.copy(lib.BIN, self.nobody_bin)
        os.chmod(self.nobody_bin, 0o755)

    def run_nobody(self, args, data=b""):
        cp = subprocess.run([self.nobody_bin] + list(args), input=data, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, timeout=30, preexec_fn=as_nobody)
        cp.stdout = cp.stdout.decode("utf-8", "replace")
        cp.stderr = cp.stderr.decode("utf-8", "replace")
        marker = lib.sanitizer_report(cp.stderr)
        if marker:
            raise AssertionError("%s in stderr of %s:\n%s" % (marker, args, cp.stderr))
        return cp


class Sighup(lib.IntegTestCase):

    def test_sighup_reopens_log_file(self):
        logdir = tempfile.mkdtemp(prefix="postino-log-")
        self.addCleanup(shutil.rmtree, logdir, True)
        # the new file is created after the drop to run_as, as in a
        # /var/log/postino owned by that user
        if os.geteuid() == 0:
            pw = pwd.getpwnam("postino")
            os.chown(logdir, pw.pw_uid, pw.pw_gid)
        log = os.path.join(logdir, "postino.log")
        srv = self.server(log_file=log)
        lib.wait_for(lambda: "postino ready" in lib.read_text(log), what="ready in the log file")
        os.rename(log, log + ".1")          # what logrotate does before its postrotate
        srv.proc.send_signal(signal.SIGHUP)
        lib.wait_for(lambda: "reopened log file" in lib.read_text(log),
                     what="the reopen logged in a new log file")
        msg = lib.make_message("t41 after hup", to="hup@example.test")
        qid = srv.send("alice@sender.test", ["hup@example.test"], msg)
        srv.wait_mail("hup")
        lib.wait_for(lambda: qid in lib.read_text(log), what="%s logged in the new file" % qid)
        self.assertNotIn(qid, lib.read_text(log + ".1"))
        self.assertNotIn("reopened", lib.read_text(log + ".1"))
        self.assertTrue(srv.running())
        self.assertTrue(os.path.exists(os.path.join(srv.data, "control")))

    def test_sighup_without_log_file_keeps_serving(self):
        srv = self.server()
        srv.proc.send_signal(signal.SIGHUP)
        lib.wait_for(lambda: "nothing to reopen" in srv.log(), what="SIGHUP logged")
        self.assertTrue(srv.running())
        srv.send("alice@sender.test", ["hup2@example.test"],
                 lib.make_message("t41 hup stderr", to="hup2@example.test"))
        srv.wait_mail("hup2")
        self.assertTrue(srv.running())


class RootOnlyTlsKey(NobodyMixin, lib.IntegTestCase):

    def test_nobody_sendmail_with_root_only_tls_key(self):
        certdir = tempfile.mkdtemp(prefix="postino-t41-cert-")
        self.addCleanup(shutil.rmtree, certdir, True)
        cert, key = peers.make_cert(certdir, cn=lib.HOSTNAME, ip="127.0.0.1")
        os.chmod(certdir, 0o755)
        os.chmod(cert, 0o644)
        os.chmod(key, 0o600)
        srv = self.server(tls_cert=cert, tls_key=key)
        self.nobody_setup(srv)
        cp = self.run_nobody(["sendmail", "-C", srv.conf, "tlskey@example.test"],
                             b"Subject: t41 tls key\n\nfrom nobody\n")
        self.assertEqual(cp.returncode, 0, cp.stderr)
        srv.wait_mail("tlskey")
        cp = self.run_nobody(["queue", "-c", srv.conf, "list"])
        self.assertEqual(cp.returncode, 0, cp.stderr)
        # check is what an administrator runs to validate: as nobody it cannot read the key
        cp = self.run_nobody(["check", "-c", srv.conf])
        self.assertEqual(cp.returncode, 2, cp.stderr)
        self.assertIn("cannot read %s" % key, cp.stderr)
        self.assertEqual(lib.run_cli(["check", "-c", srv.conf]).returncode, 0)


class MailqNobody(NobodyMixin, lib.IntegTestCase):

    def queue_deferred(self, srv, rcpts):
        """Sends one message per recipient (remote, nothing listens): waits until each is deferred."""
        ids = []
        for r in rcpts:
            msg = lib.make_message("t41 mailq %s" % r, to=r)
            ids.append(srv.send("alice@sender.test", [r], msg))

        def deferred():
            q = srv.queue()
            return len(q) == len(ids) and all(
                x["status"] == "deferred" for m in q for x in m["recipients"])
        lib.wait_for(deferred, what="%d deferred messages" % len(ids))
        return ids

    def test_mailq_as_nobody_lists_like_root(self):
        srv = self.server(relayhost="[127.0.0.1]:%d" % lib.free_port(), retry_min="1h",
                          retry_max="2h")
        self.nobody_setup(srv)
        ids = self.queue_deferred(srv, ["q1@remote.test", "q2@remote.test", "q3@remote.test"])
        self.assertEqual(lib.run_cli(["queue", "-c", srv.conf, "hold", ids[1]]).returncode, 0)
        lib.wait_for(lambda: [m["hold"] for m in srv.queue() if m["id"] == ids[1]] == [True],
                     what="%s held" % ids[1])
        root = lib.run_cli(["queue", "-c", srv.conf, "list"])
        self.assertEqual(root.returncode, 0, root.stderr)
        # the queue folder is closed to nobody: the listing comes from the server
        cp = self.run_nobody(["queue", "-c", srv.conf, "list"])
        self.assertEqual(cp.returncode, 0, cp.stderr)
        self.assertEqual(cp.stdout, root.stdout)
        self.assertEqual(set(re.findall(r"^([0-9A-F]{16})!?\s", cp.stdout, re.M)), set(ids))
        self.assertIn("%s!" % ids[1], cp.stdout)
        cp = self.run_nobody(["sendmail", "-C", srv.conf, "-bp"])
        self.assertEqual((cp.returncode, cp.stdout), (0, root.stdout), cp.stderr)
        root_json = lib.run_cli(["queue", "-c", srv.conf, "list", "--json"])
        cp = self.run_nobody(["queue", "-c", srv.conf, "list", "--json"])
        self.assertEqual(cp.returncode, 0, cp.stderr)
        self.assertEqual(cp.stdout, root_json.stdout)
        self.assertEqual(sorted(json.loads(l)["id"] for l in cp.stdout.splitlines()), sorted(ids))
        # changing the queue stays with root and the mail system's user
        for args in (["hold", ids[0]], ["release", ids[1]], ["delete", ids[2]], ["flush"],
                     ["flush", ids[0]], ["show", ids[0]]):
            cp = self.run_nobody(["queue", "-c", srv.conf] + args)
            self.assertEqual(cp.returncode, EX_NOPERM, "%s: %s" % (args, cp.stderr))
            self.assertIn("permission", cp.stderr)
        self.assertEqual(lib.run_cli(["queue", "-c", srv.conf, "list"]).stdout, root.stdout)
        self.assertNotIn("control: flush", srv.log())
        # the read-only socket answers nothing but the listing
        sock = os.path.join(srv.data, "showq")
        for req in (b"FLUSH\n", b"DELETE %s\n" % ids[0].encode(), b"LIST --bogus\n"):
            self.assertTrue(showq_request(sock, req).startswith(b"ERR "), req)
        self.assertEqual(len(srv.queue()), 3)

    def test_mailq_as_nobody_server_stopped(self):
        srv = self.server(relayhost="[127.0.0.1]:%d" % lib.free_port(), retry_min="1h",
                          retry_max="2h")
        self.nobody_setup(srv)
        self.queue_deferred(srv, ["s1@remote.test"])
        srv.stop()
        cp = self.run_nobody(["queue", "-c", srv.conf, "list"])
        self.assertEqual(cp.returncode, EX_UNAVAILABLE, cp.stderr)
        self.assertIn("mail system is down", cp.stderr)
        cp = self.run_nobody(["queue", "-c", srv.conf, "hold", srv.queue()[0]["id"]])
        self.assertEqual(cp.returncode, EX_NOPERM, cp.stderr)
        # root reads the files themselves
        self.assertEqual(lib.run_cli(["queue", "-c", srv.conf, "list"]).returncode, 0)


def showq_request(path, req):
    """One request on the read-only socket; the whole answer."""
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
        s.settimeout(10)
        s.connect(path)
        s.sendall(req)
        out = b""
        while True:
            chunk = s.recv(65536)
            if not chunk:
                return out
            out += chunk


if __name__ == "__main__":
    unittest.main()
