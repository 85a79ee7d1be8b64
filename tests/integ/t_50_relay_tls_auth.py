"""
t_50_relay_tls_auth: tls_policy and relay_auth on the way out (RFC 3207,
RFC 4954). A test CA signs the peers' certificates (openssl CLI):
`verify` delivers with tls_ca_file = that CA and defers (4.7.5, OpenSSL's
reason logged, nothing sent after the handshake) with a certificate for
another name or without the CA; `encrypt` toward a peer without STARTTLS
defers (4.7.4) and the message stays queued; `none` sends in the clear
although STARTTLS is offered; the per-recipient log line says how the
connection was protected. relay_auth toward a relayhost that requires AUTH
(aiosmtpd) authenticates over STARTTLS with PLAIN, or LOGIN when PLAIN is
not offered, and the peer sees the right user and password; a relayhost
that offers AUTH but no STARTTLS gets no password and the mail is deferred;
a wrong password (535) defers; the password appears neither in the log nor
in the delay notice; `postino check` and `postino reload` read the password
file again (a corrected password is used after the reload).
"""
import os
import tempfile
import shutil
import unittest

import lib
import peers

PASSWORD = "Tr0ub4dor&3-relay-secret"


class RelayTlsAuth(peers.DsnTestCase):

    @classmethod
    def dns_records(cls, dns):
        dns.mx("v.test", "mx.v.test", 10).a("mx.v.test", "127.0.0.2")
        dns.mx("plain.test", "mx.plain.test", 10).a("mx.plain.test", "127.0.0.3")
        dns.a("smtp.relay.test", "127.0.0.4")

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        try:
            # readable by the server's run_as user (a reload reads the files again)
            cls.pki = tempfile.mkdtemp(prefix="postino-t50-")
            os.chmod(cls.pki, 0o755)
            cls.ca = peers.make_ca(cls.pki)
            cls.mx_cert = peers.make_signed_cert(cls.pki, cls.ca, "mx.v.test", "mx")
            cls.other_cert = peers.make_signed_cert(cls.pki, cls.ca, "other.test", "other")
            cls.relay_cert = peers.make_signed_cert(cls.pki, cls.ca, "smtp.relay.test", "relay")
            cls.pwfile = os.path.join(cls.pki, "relay.pw")
            with open(cls.pwfile, "w") as f:
                f.write(PASSWORD + "\n")
            for name in os.listdir(cls.pki):
                os.chmod(os.path.join(cls.pki, name), 0o644)
        except BaseException:
            cls.tearDownClass()
            raise

    @classmethod
    def tearDownClass(cls):
        if getattr(cls, "pki", None):
            shutil.rmtree(cls.pki, True)
        super().tearDownClass()

    # helpers

    def rcpt_log(self, srv, addr, status):
        """The per-recipient log lines of addr with status."""
        return self.wait_log(srv, "to=<%s>" % addr, "status=%s" % status)

    def assert_no_password(self, srv):
        self.assertNotIn(PASSWORD, srv.log())
        for path in lib.all_maildir_files(srv.data):
            with open(path, "rb") as f:
                self.assertNotIn(PASSWORD.encode(), f.read(), path)

    def relayhost_server(self, **settings):
        return self.dsn_server(relayhost="[smtp.relay.test]:%d" % self.port,
                               extra=["relay_auth [smtp.relay.test] relay-user@example.test "
                                      + self.pwfile], **settings)

    # tls_policy

    def test_verify_with_ca_delivers(self):
        a = self.aiosmtpd_peer("127.0.0.2", cert=self.mx_cert[0], key=self.mx_cert[1])
        srv = self.relay_server(tls_ca_file=self.ca[0], extra=["tls_policy v.test verify"])
        qid, msg = self.send(srv, ["ok@v.test"], "t50 verify")
        [m] = a.wait_messages(1)
        self.assertTrue(m["tls"], m)
        self.check_relayed_content(m["data"], msg, qid)
        [line] = self.rcpt_log(srv, "ok@v.test", "sent")
        self.assertRegex(line, r" tls=TLSv1\.[23]/\S+/verified ")
        self.wait_queue_empty(srv)

    def check_verify_defers(self, cert, settings, reason):
        p = self.peer("127.0.0.2", cert=cert[0], key=cert[1])
        srv = self.relay_server(extra=["tls_policy v.test verify"], **settings)
        self.send(srv, ["bad@v.test"], "t50 verify fails")
        r = self.wait_status(srv, "bad@v.test", "deferred")
        self.assertIn("4.7.5", r["last_reply"])
        self.assertIn(reason, r["last_reply"])
        # the TLS of that attempt is recorded with the recipient (queue list --json)
        self.assertRegex(r["tls"] or "", r"^TLSv1\.[23]/[A-Z0-9_-]+/unverified$", r)
        self.wait_log(srv, "smtp out: mx.v.test[127.0.0.2]", "4.7.5", reason)
        self.rcpt_log(srv, "bad@v.test", "deferred")
        # the handshake was made, but nothing went over it
        verbs = [l.split()[0].upper() for l in p.commands()]
        self.assertEqual(verbs[:2], ["EHLO", "STARTTLS"], verbs)
        self.assertNotIn("MAIL", verbs)
        self.assertEqual(p.messages(), [])
        self.assertIsNotNone(self.rcpt(srv, "bad@v.test"))

    def test_verify_wrong_name_defers(self):
        self.check_verify_defers(self.other_cert, {"tls_ca_file": self.ca[0]},
                                 "hostname mismatch")

    def test_verify_without_ca_defers(self):
        self.check_verify_defers(self.mx_cert, {}, "unable to get local issuer certificate")

    def test_encrypt_without_starttls_defers(self):
        p = self.peer("127.0.0.3")   # no certificate: no STARTTLS offered
        srv = self.relay_server(extra=["tls_policy plain.test encrypt"])
        self.send(srv, ["enc@plain.test"], "t50 encrypt")
        r = self.wait_status(srv, "enc@plain.test", "deferred")
        self.assertIn("4.7.4", r["last_reply"])
        self.assertIn("does not offer STARTTLS", r["last_reply"])
        self.assertEqual(r["tls"], "none", r)
        self.wait_log(srv, "smtp out: mx.plain.test[127.0.0.3]", "4.7.4")
        self.assertEqual([l.split()[0].upper() for l in p.commands()][:1], ["EHLO"])
        self.assertNotIn("MAIL", [l.split()[0].upper() for l in p.commands()])
        self.assertEqual(self.rcpt(srv, "enc@plain.test")["status"], "deferred")

    def test_none_sends_in_the_clear(self):
        p = self.peer("127.0.0.2", cert=self.mx_cert[0], key=self.mx_cert[1])
        srv = self.relay_server(tls_ca_file=self.ca[0], extra=["tls_policy v.test none"])
        qid, msg = self.send(srv, ["clear@v.test"], "t50 none")
        [t] = p.wait_messages(1)
        self.assertFalse(t.tls)
        self.check_relayed_content(t.data, msg, qid)
        self.assertNotIn("STARTTLS", [l.split()[0].upper() for l in p.commands()])
        [line] = self.rcpt_log(srv, "clear@v.test", "sent")
        self.assertIn(" tls=none ", line)
        self.wait_queue_empty(srv)

    def test_policies_do_not_share_a_delivery(self):
        """The same relayhost, one domain verify and one none: two connections,
        one over TLS, one in the clear, both delivered."""
        p = self.peer("127.0.0.4", cert=self.relay_cert[0], key=self.relay_cert[1])
        srv = self.relay_server(relayhost="[smtp.relay.test]:%d" % self.port,
                                tls_ca_file=self.ca[0],
                                extra=["tls_policy v.test verify", "tls_policy plain.test none"])
        self.send(srv, ["s@v.test", "c@plain.test"], "t50 two policies")
        txns = p.wait_messages(2)
        by_rcpt = {t.rcpts[0][0]: t for t in txns}
        self.assertTrue(by_rcpt["s@v.test"].tls)
        self.assertFalse(by_rcpt["c@plain.test"].tls)
        self.assertEqual([len(t.rcpts) for t in txns], [1, 1])
        self.wait_queue_empty(srv)

    # relay_auth

    def check_auth_delivers(self, exclude, mechanism):
        a = self.aiosmtpd_peer("127.0.0.4", cert=self.relay_cert[0], key=self.relay_cert[1],
                               auth={"relay-user@example.test": PASSWORD}, auth_exclude=exclude)
        srv = self.relayhost_server()
        qid, msg = self.dsn_send(srv, "x@far.test")
        [m] = a.wait_messages(1)
        self.assertTrue(m["tls"])
        self.assertEqual(m["auth"], "relay-user@example.test")
        self.check_relayed_content(m["data"], msg, qid)
        [t] = a.auth_tries()
        self.assertEqual((t["mechanism"], t["user"], t["password"], t["ok"], t["tls"]),
                         (mechanism, "relay-user@example.test", PASSWORD, True, True))
        self.wait_queue_empty(srv)
        self.wait_log(srv, "smtp out: authenticated as relay-user@example.test")
        self.assert_no_password(srv)

    def dsn_send(self, srv, rcpt, **kw):
        return self.send_dsn(srv, [rcpt], "t50 auth", rcpt_options={rcpt: ["NOTIFY=DELAY"]}, **kw)

    def test_auth_plain_over_starttls(self):
        self.check_auth_delivers((), "PLAIN")

    def test_auth_login_over_starttls(self):
        self.check_auth_delivers(("PLAIN",), "LOGIN")

    def test_auth_without_starttls_sends_no_password(self):
        p = self.peer("127.0.0.4", {"ehlo": ["PIPELINING", "AUTH PLAIN LOGIN", "8BITMIME"]})
        srv = self.relayhost_server()
        self.dsn_send(srv, "y@far.test")
        r = self.wait_status(srv, "y@far.test", "deferred")
        self.assertIn("4.7.4", r["last_reply"])
        self.wait_log(srv, "smtp out: smtp.relay.test[127.0.0.4]", "4.7.4",
                      "relay_auth", "does not offer STARTTLS")
        verbs = [l.split()[0].upper() for l in p.commands()]
        self.assertNotIn("AUTH", verbs)
        self.assertNotIn("MAIL", verbs)
        for c in p.connections():
            for chunk in c.chunks:
                self.assertNotIn(b"relay-user", chunk)
        self.assert_no_password(srv)

    def test_auth_wrong_password_defers(self):
        a = self.aiosmtpd_peer("127.0.0.4", cert=self.relay_cert[0], key=self.relay_cert[1],
                               auth={"relay-user@example.test": "another password"})
        srv = self.relayhost_server(delay_warning="1s", retry_min="1s", retry_max="1s")
        self.dsn_send(srv, "z@far.test")
        r = self.wait_status(srv, "z@far.test", "deferred")
        self.assertIn("4.7.8", r["last_reply"])
        self.assertIn("authentication as relay-user@example.test", r["last_reply"])
        self.assertIn("535", r["last_reply"])
        self.rcpt_log(srv, "z@far.test", "deferred")
        tries = a.auth_tries()
        self.assertTrue(tries and not any(t["ok"] for t in tries), tries)
        self.assertTrue(all(t["tls"] for t in tries), tries)
        self.assertEqual(a.messages(), [])
        # the delay notice quotes the failure, never the password
        [n] = self.wait_notices(srv, 1, settle=False)
        self.assertEqual(n.actions(), ["delayed"])
        self.assertIn("4.7.8", n.rcpt("z@far.test")["status"])
        self.assert_no_password(srv)

    def test_password_file_read_by_check_and_reload(self):
        """check and reload read the password file again: a wrong password defers, the
        corrected file is taken by `postino reload` and the mail goes; a missing file
        makes check exit 2 naming it."""
        a = self.aiosmtpd_peer("127.0.0.4", cert=self.relay_cert[0], key=self.relay_cert[1],
                               auth={"relay-user@example.test": PASSWORD})
        pw = self.readable_file("pw", "old-wrong-password\n")
        srv = self.dsn_server(relayhost="[smtp.relay.test]:%d" % self.port,
                              extra=["relay_auth [smtp.relay.test] relay-user@example.test " + pw])
        self.dsn_send(srv, "r@far.test")
        r = self.wait_status(srv, "r@far.test", "deferred")
        self.assertIn("4.7.8", r["last_reply"])
        cp = lib.run_cli(["check", "-c", srv.conf])
        self.assertEqual(cp.returncode, 0, cp.stderr)
        self.assertIn("relay_auth [smtp.relay.test] relay-user@example.test %s\n" % pw, cp.stdout)
        self.assertNotIn("old-wrong-password", cp.stdout + cp.stderr)
        with open(pw, "w") as f:
            f.write(PASSWORD + "\n")
        cp = lib.run_cli(["reload", "-c", srv.conf], timeout=60)
        self.assertEqual(cp.returncode, 0, cp.stdout + cp.stderr)
        [m] = a.wait_messages(1, timeout=20)
        self.assertEqual(m["auth"], "relay-user@example.test")
        self.wait_queue_empty(srv)
        self.assertNotIn("old-wrong-password", srv.log())
        self.assert_no_password(srv)
        os.unlink(pw)
        cp = lib.run_cli(["check", "-c", srv.conf])
        self.assertEqual(cp.returncode, 2, cp.stdout)
        self.assertIn(pw + ": cannot open", cp.stderr)


if __name__ == "__main__":
    unittest.main()
