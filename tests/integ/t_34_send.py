"""
t_34_send: `postino send`, the SMTP submission client: a message reaches a
local Maildir intact (dot-stuffing, LF -> CRLF); DSN options reach the server;
AUTH PLAIN on the submission listener; a wrong password, a refused recipient
and a refused connection give the sysexits codes; STARTTLS works.
"""
import os
import shutil
import tempfile

import lib
from t_30_pop3 import make_cert

USER, PASSWORD = "bob@example.test", "s3cret"


class Send(lib.SharedServerTestCase):

    @classmethod
    def server_options(cls):
        cls.tmpdir = tempfile.mkdtemp(prefix="postino-send-")
        cert, key = make_cert(cls.tmpdir)
        cls.sub_port = lib.free_port()
        return dict(users=["%s:{PLAIN}%s" % (USER, PASSWORD)],
                    tls_cert=cert, tls_key=key,
                    relayhost="[127.0.0.1]:%d" % lib.free_port(),
                    extra=["listen submission 127.0.0.1:%d" % cls.sub_port])

    @classmethod
    def tearDownClass(cls):
        super().tearDownClass()
        shutil.rmtree(cls.tmpdir, ignore_errors=True)

    def msgfile(self, content):
        fd, path = tempfile.mkstemp(dir=self.tmpdir, suffix=".eml")
        with os.fdopen(fd, "wb") as f:
            f.write(content)
        return path

    def send(self, extra, content=b"Subject: t34\n\nhello\n", port=None):
        args = ["send", "--server", "127.0.0.1:%d" % (port or self.srv.port)] + extra
        return lib.run_cli(args + [self.msgfile(content)])

    def count(self):
        return len(lib.maildir_files(self.srv.data, "example.test", "bob"))

    def test_local_delivery_body_intact(self):
        before = self.count()
        body = b"line one\n.starts with a dot\n..two dots\nlast\n"
        cp = self.send(["--from", "alice@sender.test", "--to", USER, "-v"],
                       b"Subject: t34 local\r\nFrom: <alice@sender.test>\n\n" + body)
        self.assertEqual(cp.returncode, 0, cp.stderr)
        self.assertIn("%s: 250" % USER, cp.stdout)
        self.assertRegex(cp.stdout, r"250 2\.0\.0 Ok: queued as [A-Za-z0-9]+")
        self.assertIn("C: MAIL FROM:<alice@sender.test>", cp.stderr)
        self.assertIn("S: 220", cp.stderr)
        msgs = lib.wait_maildir_count(self.srv.data, "example.test", "bob", before + 1)
        raw = [m for m in msgs if b"t34 local" in m][0]
        self.assertTrue(raw.endswith(b"\n\n" + body), raw)

    def test_dsn_options(self):
        cp = self.send(["--from", "alice@sender.test", "--to", "user@remote.test",
                        "--notify", "success,failure", "--ret", "hdrs",
                        "--envid", "abc+def=1", "--orcpt", "bob@example.test"],
                       b"Subject: t34 dsn\n\nx\n")
        self.assertEqual(cp.returncode, 0, cp.stderr)
        qid = lib.queue_id_of(cp.stdout.strip().splitlines()[-1])
        [m] = [m for m in self.srv.queue() if m["id"] == qid]
        [r] = m["recipients"]
        self.assertEqual(r["notify"], "SUCCESS,FAILURE")
        self.assertEqual(r["orcpt"], "rfc822;bob@example.test")
        show = lib.run_cli(["queue", "-c", self.srv.conf, "show", qid])
        self.assertEqual(show.returncode, 0, show.stderr)
        self.assertIn("abc+def=1", show.stdout)
        self.assertIn("HDRS", show.stdout)

    def test_auth_submission(self):
        before = self.count()
        cp = self.send(["--auth", "%s:%s" % (USER, PASSWORD), "--from", USER, "--to", USER, "-v"],
                       b"Subject: t34 auth\n\nx\n", port=self.sub_port)
        self.assertEqual(cp.returncode, 0, cp.stderr)
        self.assertNotIn(PASSWORD, cp.stderr)
        self.assertIn("S: 235", cp.stderr)
        lib.wait_maildir_count(self.srv.data, "example.test", "bob", before + 1)

    def test_wrong_password(self):
        cp = self.send(["--auth", "%s:wrong" % USER, "--from", USER, "--to", USER],
                       port=self.sub_port)
        self.assertEqual(cp.returncode, 69, cp.stderr)
        self.assertIn("535", cp.stderr)

    def test_rejected_recipient(self):
        cp = self.send(["--from", "alice@sender.test", "--to", "nobody@example.test"])
        self.assertEqual(cp.returncode, 69, cp.stderr)
        self.assertRegex(cp.stdout, r"(?m)^nobody@example\.test: 550 ")

    def test_partly_rejected(self):
        cp = self.send(["--from", "alice@sender.test", "--to", "nobody@example.test",
                        "--to", USER])
        self.assertEqual(cp.returncode, 69, cp.stderr)
        self.assertRegex(cp.stdout, r"(?m)^nobody@example\.test: 550 ")
        self.assertRegex(cp.stdout, r"(?m)^bob@example\.test: 250 ")
        self.assertIn("queued as", cp.stdout)

    def test_connection_refused(self):
        cp = self.send(["--from", "a@b.test", "--to", USER], port=lib.free_port())
        self.assertEqual(cp.returncode, 75, cp.stderr)

    def test_starttls(self):
        before = self.count()
        cp = self.send(["--starttls", "--from", "alice@sender.test", "--to", USER, "-v"],
                       b"Subject: t34 tls\n\nx\n")
        self.assertEqual(cp.returncode, 0, cp.stderr)
        self.assertIn("C: STARTTLS", cp.stderr)
        self.assertIn("TLS established", cp.stderr)
        lib.wait_maildir_count(self.srv.data, "example.test", "bob", before + 1)

    def test_usage(self):
        cp = lib.run_cli(["send", "--help"])
        self.assertEqual(cp.returncode, 0)
        self.assertIn("NOT verified", cp.stdout)
        self.assertEqual(lib.run_cli(["send", "--from", "a@b"]).returncode, 64)
        self.assertEqual(lib.run_cli(["send", "--server", "x", "--from", "a", "--to", "b"]).returncode, 64)
        self.assertEqual(lib.run_cli(["send", "--server", "127.0.0.1:25", "--from", "a",
                                      "--to", "b", "--ret", "bogus"]).returncode, 64)
        cp = lib.run_cli(["send", "--server", "127.0.0.1:25", "--from", "a", "--to", "b",
                          "/nonexistent/file"])
        self.assertEqual(cp.returncode, 66)
