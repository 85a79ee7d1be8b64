"""
t_34_send: `postino send`, the SMTP submission client: a message reaches a
local Maildir intact (dot-stuffing, LF -> CRLF); DSN options reach the server;
AUTH PLAIN on the submission listener, also after STARTTLS; implicit TLS
(--tls) on an smtps listener, -v showing the handshake before the greeting;
the sysexits codes: a wrong password, a refused recipient, --starttls to a
server without STARTTLS, --tls to a plain port, a 4xx RCPT (scripted 451,
max_recipients 452), a refused connection, usage (missing --from/--to) and
unreadable input (66).
"""
import os
import re
import shutil
import tempfile

import lib
import peers

USER, PASSWORD = "bob@example.test", "s3cret"


class Send(lib.SharedServerTestCase):

    @classmethod
    def server_options(cls):
        cls.tmpdir = tempfile.mkdtemp(prefix="postino-send-")
        cert, key = peers.make_cert(cls.tmpdir, cn=lib.HOSTNAME, ip="127.0.0.1")
        cls.sub_port = lib.free_port()
        cls.smtps_port = lib.free_port()
        return dict(users=["%s:{PLAIN}%s" % (USER, PASSWORD)],
                    tls_cert=cert, tls_key=key,
                    relayhost="[127.0.0.1]:%d" % lib.free_port(),
                    extra=["listen submission 127.0.0.1:%d" % cls.sub_port,
                           "listen smtps 127.0.0.1:%d" % cls.smtps_port])

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

    # ---- TLS --------------------------------------------------------------

    def test_implicit_tls(self):
        # smtps is a submission port (RFC 8314): without AUTH, MAIL gets 530 -> 69
        cp = self.send(["--tls", "--from", USER, "--to", USER, "-v"], port=self.smtps_port)
        self.assertEqual(cp.returncode, 69, cp.stderr)
        self.assertIn("-- TLS established", cp.stderr)
        self.assertIn("MAIL FROM: 530", cp.stderr)
        before = self.count()
        cp = self.send(["--tls", "--auth", "%s:%s" % (USER, PASSWORD), "--from", USER,
                        "--to", USER, "-v"], b"Subject: t34 smtps\n\nx\n", port=self.smtps_port)
        self.assertEqual(cp.returncode, 0, cp.stderr)
        self.assertNotIn(PASSWORD, cp.stderr)
        self.assertIn("S: 235", cp.stderr)
        self.assertNotIn("C: STARTTLS", cp.stderr)
        # the handshake comes first, before the server's greeting
        tls = cp.stderr.find("-- TLS established: TLSv1.")
        greeting = cp.stderr.find("S: 220")
        self.assertGreaterEqual(tls, 0, cp.stderr)
        self.assertGreater(greeting, tls, cp.stderr)
        self.assertIn("certificate not verified", cp.stderr)
        self.assertIn("%s: 250" % USER, cp.stdout)
        msgs = lib.wait_maildir_count(self.srv.data, "example.test", "bob", before + 1)
        self.assertTrue(any(b"t34 smtps" in m for m in msgs))

    def test_implicit_tls_against_plain_port(self):
        cp = self.send(["--tls", "--from", "alice@sender.test", "--to", USER])
        self.assertEqual(cp.returncode, 75, cp.stderr)
        self.assertIn("TLS handshake failed", cp.stderr)
        self.assertEqual(cp.stdout, "")

    def test_starttls_and_auth_submission(self):
        before = self.count()
        cp = self.send(["--starttls", "--auth", "%s:%s" % (USER, PASSWORD),
                        "--from", USER, "--to", USER, "-v"],
                       b"Subject: t34 tls auth\n\nx\n", port=self.sub_port)
        self.assertEqual(cp.returncode, 0, cp.stderr)
        self.assertNotIn(PASSWORD, cp.stderr)
        err = cp.stderr
        order = [err.find(s) for s in ("C: STARTTLS", "-- TLS established",
                                       "C: AUTH PLAIN <credentials hidden>", "S: 235",
                                       "C: MAIL FROM:<%s>" % USER)]
        self.assertTrue(all(i >= 0 for i in order) and order == sorted(order), (order, err))
        msgs = lib.wait_maildir_count(self.srv.data, "example.test", "bob", before + 1)
        self.assertTrue(any(b"t34 tls auth" in m for m in msgs))

    def test_starttls_not_offered(self):
        # a server without a certificate does not offer STARTTLS: the client
        # must not go on in the clear
        port = lib.free_port()
        with peers.ScriptedPeer("127.0.0.1", port) as p:
            cp = self.send(["--starttls", "--from", "alice@sender.test", "--to", USER, "-v"],
                           port=port)
            self.assertEqual(cp.returncode, 69, cp.stderr)
            self.assertIn("does not offer STARTTLS", cp.stderr)
            self.assertEqual(cp.stdout, "")
            p.wait_closed(1)
            self.assertFalse(any(l.upper().startswith(("MAIL", "RCPT", "DATA", "STARTTLS"))
                                 for l in p.commands()), p.commands())
            self.assertEqual(p.transactions(), [])

    # ---- temporary failures -------------------------------------------------

    def test_rcpt_4xx_scripted(self):
        port = lib.free_port()
        plan = {"rcpt": {"later@r.test": "451 4.3.0 t34 try later"}}
        with peers.ScriptedPeer("127.0.0.1", port, plan) as p:
            cp = self.send(["--from", "alice@sender.test", "--to", "later@r.test"], port=port)
            self.assertEqual(cp.returncode, 75, cp.stderr)
            self.assertRegex(cp.stdout, r"(?m)^later@r\.test: 451 4\.3\.0 t34 try later$")
            self.assertIn("no recipient accepted", cp.stderr)
            cp = self.send(["--from", "alice@sender.test", "--to", "later@r.test",
                            "--to", "ok@r.test"], port=port)
            self.assertEqual(cp.returncode, 75, cp.stderr)
            self.assertRegex(cp.stdout, r"(?m)^ok@r\.test: 250 ")
            [m] = p.wait_messages(1)
            self.assertEqual([a for a, _, c in m.rcpts if c == 250], ["ok@r.test"])

    def test_too_many_recipients_452(self):
        # the server's max_recipients is 5: the sixth RCPT gets 452 4.5.3
        rcpts = ["r%d@remote.test" % i for i in range(6)]
        args = ["--from", "alice@sender.test"]
        for r in rcpts:
            args += ["--to", r]
        cp = self.send(args, b"Subject: t34 many\n\nx\n")
        self.assertEqual(cp.returncode, 75, cp.stderr)
        for r in rcpts[:5]:
            self.assertRegex(cp.stdout, r"(?m)^%s: 250 " % re.escape(r))
        self.assertRegex(cp.stdout, r"(?m)^r5@remote\.test: 452 4\.5\.3 ")
        qid = lib.queue_id_of(cp.stdout.strip().splitlines()[-1])
        [m] = [m for m in self.srv.queue() if m["id"] == qid]
        self.assertEqual(sorted(r["address"] for r in m["recipients"]), rcpts[:5])

    # ---- usage and input errors ----------------------------------------------

    def test_missing_from_or_to(self):
        server = "127.0.0.1:%d" % self.srv.port
        for args in (["--to", USER], ["--from", "alice@sender.test"], []):
            cp = lib.run_cli(["send", "--server", server] + args + [self.msgfile(b"x\n")])
            self.assertEqual(cp.returncode, 64, (args, cp.stderr))
            self.assertIn("--server, --from and --to are required", cp.stderr)
        cp = lib.run_cli(["send", "--from", "a@b.test", "--to", USER])
        self.assertEqual(cp.returncode, 64, cp.stderr)
        cp = lib.run_cli(["send", "--server", server, "--starttls", "--tls",
                          "--from", "a@b.test", "--to", USER])
        self.assertEqual(cp.returncode, 64, cp.stderr)
        self.assertIn("exclude each other", cp.stderr)

    def test_unreadable_input(self):
        # documented: 66 for unreadable input (a missing file, a directory)
        server = "127.0.0.1:%d" % self.srv.port
        for path in (os.path.join(self.tmpdir, "missing.eml"), self.tmpdir):
            cp = lib.run_cli(["send", "--server", server, "--from", "alice@sender.test",
                              "--to", USER, path])
            self.assertEqual(cp.returncode, 66, (path, cp.stderr))
            self.assertIn(path, cp.stderr)
            self.assertEqual(cp.stdout, "")
