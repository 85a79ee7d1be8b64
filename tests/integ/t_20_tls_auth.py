"""
t_20_tls_auth: TLS and authenticated submission.
STARTTLS (RFC 3207) on the smtp and submission listeners: advertised until
TLS is on, 220 2.0.0, the session starts over (no STARTTLS in the next EHLO,
MAIL before EHLO is refused), 501/503 for arguments, a second STARTTLS, a
STARTTLS before EHLO or inside a transaction; plaintext pipelined after
STARTTLS is thrown away (CVE-2011-0411); a failed or stalled handshake
closes the session; the idle timeout still applies under TLS. Implicit TLS
on smtps (RFC 8314). AUTH PLAIN and LOGIN (RFC 4954, RFC 4616): offered on
submission/smtps only, over TLS or to loopback clients (538 5.7.11 for a
non-loopback client in the clear, when the machine has such an address);
235 2.7.0, 535 5.7.8 after a growing delay, 421 4.7.0 after 5 failures,
501 for "*" and bad base64, 504 for an unknown mechanism, 503 for a second
AUTH. Submission policy (RFC 6409): 530 5.7.0 before AUTH, the sender must
be the login or an alias that reaches it (553 5.7.1), an authenticated
client may relay; port 25 keeps relay_networks-only relaying.
The certificate is a throwaway self-signed one made with the openssl CLI.
"""
import base64
import os
import shutil
import socket
import ssl
import subprocess
import tempfile
import time
import unittest

import lib
import peers
from lib import expect

STRANGER = "127.0.0.9"   # outside relay_networks (127.0.0.1/32), still loopback
USER, PASSWORD = "bob@example.test", "secret"
CRYPT_USER, CRYPT_PASSWORD = "carol@example.test", "c0rrect horse"


def make_cert(folder, name):
    """A self-signed EC certificate for mx.test and 127.0.0.1: (cert path, key path)."""
    return peers.make_cert(folder, cn=lib.HOSTNAME, name=name, ip="127.0.0.1")


def crypt_hash(password):
    """A users-file hash made by `postino passwd`."""
    cp = subprocess.run([lib.BIN, "passwd"], input=password.encode() + b"\n",
                        stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=60, check=True)
    return cp.stdout.decode().strip()


def client_context(cafile, max_version=None):
    """A client context that checks the server's certificate against cafile."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.load_verify_locations(cafile)
    if max_version:
        ctx.maximum_version = max_version
    return ctx


def expect_dropped(c, timeout=5.0):
    """Asserts the server closes a connection whose TLS handshake failed: EOF or a
    reset, possibly after a TLS alert, but never an SMTP reply."""
    c.sock.settimeout(timeout)
    data = c.buf
    try:
        while True:
            chunk = c.sock.recv(65536)
            if not chunk:
                break
            data += chunk
    except ConnectionResetError:
        pass
    except socket.timeout:
        raise AssertionError("server did not close the connection within %.1fs" % timeout)
    if data[:1].isdigit():
        raise AssertionError("SMTP reply where a dropped connection was expected: %r" % data)


def b64(data):
    return base64.b64encode(data.encode() if isinstance(data, str) else data).decode()


def plain(user, password, authzid=""):
    return b64("%s\0%s\0%s" % (authzid, user, password))


def non_loopback_ipv4():
    """A local IPv4 address outside 127/8 (no packet is sent), or None."""
    try:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            s.connect(("192.0.2.1", 9))
            ip = s.getsockname()[0]
    except OSError:
        return None
    return None if ip.startswith("127.") or ip == "0.0.0.0" else ip


class TlsAuth(lib.SharedServerTestCase):
    """smtp (the harness's port), submission, smtps, and a submission
    listener on a non-loopback address when there is one."""

    @classmethod
    def server_options(cls):
        cls.certdir = tempfile.mkdtemp(prefix="postino-t20-")
        cls.cert, cls.key = make_cert(cls.certdir, "mx")
        cls.sub_port = lib.free_port()
        cls.smtps_port = lib.free_port()
        cls.outside_ip = non_loopback_ipv4()
        extra = ["listen submission 127.0.0.1:%d" % cls.sub_port,
                 "listen smtps 127.0.0.1:%d" % cls.smtps_port,
                 "tls_cert %s" % cls.cert, "tls_key %s" % cls.key]
        if cls.outside_ip:
            cls.outside_port = lib.free_port(cls.outside_ip)
            extra.append("listen submission %s:%d" % (cls.outside_ip, cls.outside_port))
        return dict(users=["%s:{PLAIN}%s" % (USER, PASSWORD),
                           "%s:%s" % (CRYPT_USER, crypt_hash(CRYPT_PASSWORD)),
                           "alice@localhost:{PLAIN}other"],
                    aliases=["team@example.test: bob@example.test, alice@localhost",
                             "sales@example.test: carol@example.test"],
                    relayhost="[127.0.0.1]:%d" % lib.free_port(),
                    extra=extra)

    @classmethod
    def tearDownClass(cls):
        super().tearDownClass()
        shutil.rmtree(cls.certdir, ignore_errors=True)

    # helpers

    def conn(self, port=None, host="127.0.0.1", source=None):
        c = lib.Raw(port or self.sub_port, host=host, source=source)
        self.addCleanup(c.close)
        expect(c.greeting, 220, enhanced=False)
        return c

    def starttls(self, c, ctx=None):
        """STARTTLS on a Raw connection, then the handshake on the same socket."""
        expect(c.cmd("STARTTLS"), 220, "2.0.0")
        self.assertEqual(c.buf, b"", "plaintext after the 220")
        c.sock = (ctx or client_context(self.cert)).wrap_socket(c.sock, server_hostname=lib.HOSTNAME)
        return c

    def smtps(self):
        """A Raw connection to the smtps port, TLS from the first byte."""
        sock = socket.create_connection(("127.0.0.1", self.smtps_port), timeout=10)
        c = lib.Raw.__new__(lib.Raw)
        c.sock = client_context(self.cert).wrap_socket(sock, server_hostname=lib.HOSTNAME)
        c.buf = b""
        self.addCleanup(c.close)
        c.greeting = expect(c.reply(), 220, enhanced=False)
        return c

    def auth(self, c, user=USER, password=PASSWORD):
        return expect(c.cmd("AUTH PLAIN " + plain(user, password)), 235, "2.7.0")

    def keywords(self, reply):
        return [l.split(" ")[0].upper() for l in reply.lines[1:]]

    # STARTTLS

    def test_starttls_smtplib_submission(self):
        with lib.smtp_client(self.sub_port) as s:
            s.ehlo()
            self.assertTrue(s.has_extn("starttls"))
            code, text = s.starttls(context=client_context(self.cert))
            self.assertEqual(code, 220, text)
            code, text = s.ehlo()
            self.assertEqual(code, 250)
            self.assertFalse(s.has_extn("starttls"), text)
            self.assertIn("PLAIN", s.esmtp_features.get("auth", "").upper())
            lib.expect_smtplib(s.docmd("STARTTLS"), 503, "5.5.1")
            self.assertEqual(s.sock.version()[:5], "TLSv1")
        self.assertRegex(self.srv.log(), r"TLS established: TLSv1\.[23] \S+")

    def test_starttls_smtp_listener_delivers(self):
        with lib.smtp_client(self.srv.port) as s:
            s.ehlo()
            self.assertTrue(s.has_extn("starttls"))
            s.starttls(context=client_context(self.cert))
            s.ehlo()
            self.assertFalse(s.has_extn("starttls"))
            self.assertFalse(s.has_extn("auth"))    # port 25 never offers AUTH
            lib.expect_smtplib(s.mail("carol@sender.test"), 250, "2.1.0")
            lib.expect_smtplib(s.rcpt(USER), 250, "2.1.5")
            lib.expect_smtplib(s.data(lib.make_message("t20 over tls", to=USER)), 250, "2.0.0")
        [raw] = self.srv.wait_mail("bob")
        self.assertEqual(lib.header_value(raw, "Subject"), "t20 over tls")

    def test_starttls_tls12(self):
        c = self.conn()
        c.ehlo()
        self.starttls(c, client_context(self.cert, ssl.TLSVersion.TLSv1_2))
        self.assertEqual(c.sock.version(), "TLSv1.2")
        c.ehlo()

    def test_starttls_syntax_and_state(self):
        c = self.conn()
        expect(c.cmd("STARTTLS"), 503, "5.5.1")           # before EHLO
        c.ehlo()
        expect(c.cmd("STARTTLS now"), 501, "5.5.4")
        self.auth(c)
        expect(c.cmd("MAIL FROM:<%s>" % USER), 250, "2.1.0")
        expect(c.cmd("STARTTLS"), 503, "5.5.1")           # inside a transaction
        expect(c.cmd("RSET"), 250, "2.0.0")
        self.starttls(c)
        # RFC 3207 4.2: everything learnt in the clear is gone, AUTH included
        expect(c.cmd("MAIL FROM:<%s>" % USER), 503, "5.5.1")
        c.ehlo()
        expect(c.cmd("MAIL FROM:<%s>" % USER), 530, "5.7.0")
        self.auth(c)
        expect(c.cmd("MAIL FROM:<%s>" % USER), 250, "2.1.0")

    def test_starttls_injection_discarded(self):
        # CVE-2011-0411: a man in the middle appends a command to STARTTLS
        c = self.conn(self.srv.port)
        c.ehlo()
        c.send(b"STARTTLS\r\nRSET\r\n")
        self.starttls_after_send(c)
        # the first reply under TLS answers our own command, not the injected RSET
        expect(c.cmd("HELP"), 214, "2.0.0")
        expect(c.cmd("MAIL FROM:<a@sender.test>"), 503, "5.5.1")   # no EHLO yet under TLS
        c.ehlo()
        expect(c.cmd("QUIT"), 221, "2.0.0")
        c.expect_closed()
        lib.wait_for(lambda: "discarded 6 octets sent after STARTTLS" in self.srv.log(),
                     what="the discard to be logged")

    def starttls_after_send(self, c):
        expect(c.reply(), 220, "2.0.0")
        self.assertEqual(c.buf, b"", "the server answered the injected command in the clear")
        c.sock = client_context(self.cert).wrap_socket(c.sock, server_hostname=lib.HOSTNAME)

    def test_starttls_injected_mail_discarded(self):
        c = self.conn(self.sub_port)
        c.ehlo()
        c.send(b"STARTTLS\r\nEHLO evil\r\nAUTH PLAIN " + plain(USER, PASSWORD).encode() + b"\r\n")
        self.starttls_after_send(c)
        r = c.ehlo()
        self.assertIn("AUTH", self.keywords(r))
        expect(c.cmd("MAIL FROM:<%s>" % USER), 530, "5.7.0")   # the injected AUTH did not count

    def test_handshake_garbage_closes(self):
        c = self.conn()
        c.ehlo()
        expect(c.cmd("STARTTLS"), 220, "2.0.0")
        c.send(b"EHLO not-tls\r\n")       # plaintext where a ClientHello belongs
        expect_dropped(c)
        # the server lives on
        c2 = self.conn()
        c2.ehlo()

    def test_handshake_stall_times_out(self):
        c = self.conn()
        c.ehlo()
        expect(c.cmd("STARTTLS"), 220, "2.0.0")
        t0 = time.monotonic()
        expect_dropped(c, 8.0)             # timeout_server is 2s
        self.assertGreaterEqual(time.monotonic() - t0, 1.5)

    def test_idle_timeout_under_tls(self):
        c = self.conn()
        c.ehlo()
        self.starttls(c)
        c.ehlo()
        c.sock.settimeout(8.0)
        t0 = time.monotonic()
        expect(c.reply(), 421, "4.4.2")
        self.assertGreaterEqual(time.monotonic() - t0, 1.5)
        c.expect_closed(5.0)

    # implicit TLS

    def test_smtps_smtplib(self):
        with smtplib_ssl(self.smtps_port, self.cert) as s:
            code, text = s.ehlo()
            self.assertEqual(code, 250)
            self.assertFalse(s.has_extn("starttls"), text)
            self.assertTrue(s.has_extn("auth"), text)
            lib.expect_smtplib(s.docmd("STARTTLS"), 503, "5.5.1")
            lib.expect_smtplib(s.mail(USER), 530, "5.7.0")
            code, _ = s.login(USER, PASSWORD)
            self.assertEqual(code, 235)
            lib.expect_smtplib(s.mail(USER), 250, "2.1.0")
            lib.expect_smtplib(s.rcpt("friend@remote.test"), 250, "2.1.5")
            text = lib.expect_smtplib(s.data(lib.make_message("t20 smtps", to="friend@remote.test")),
                                      250, "2.0.0")
        qid = lib.queue_id_of(text)
        [m] = [m for m in self.srv.queue() if m["id"] == qid]
        self.assertEqual(m["sender"], USER)
        self.assertEqual([r["address"] for r in m["recipients"]], ["friend@remote.test"])

    def test_smtps_idle_timeout(self):
        c = self.smtps()
        c.ehlo()
        c.sock.settimeout(8.0)
        t0 = time.monotonic()
        expect(c.reply(), 421, "4.4.2")
        self.assertGreaterEqual(time.monotonic() - t0, 1.5)
        c.expect_closed(5.0)

    def test_smtps_plaintext_client_dropped(self):
        c = lib.Raw(self.smtps_port, greeting=False)
        self.addCleanup(c.close)
        c.send(b"EHLO plain.test\r\n")
        expect_dropped(c)

    # AUTH

    def test_auth_not_on_port_25(self):
        c = self.conn(self.srv.port)
        r = c.ehlo()
        self.assertNotIn("AUTH", self.keywords(r))
        expect(c.cmd("AUTH PLAIN " + plain(USER, PASSWORD)), 503, "5.5.1")
        self.starttls(c)
        r = c.ehlo()
        self.assertNotIn("AUTH", self.keywords(r))
        expect(c.cmd("AUTH PLAIN " + plain(USER, PASSWORD)), 503, "5.5.1")

    def test_auth_plain_initial_response_loopback(self):
        c = self.conn()
        r = c.ehlo()
        self.assertIn("AUTH", self.keywords(r))
        self.assertIn("AUTH PLAIN LOGIN", r.lines)
        self.auth(c)
        expect(c.cmd("AUTH PLAIN " + plain(USER, PASSWORD)), 503, "5.5.1")   # once per session
        log = lib.wait_for(lambda: "AUTH PLAIN user=%s succeeded" % USER in self.srv.log()
                           and self.srv.log(), what="the success to be logged")
        self.assertNotIn(PASSWORD + "\n", log)
        self.assertNotIn(plain(USER, PASSWORD), log)

    def test_auth_plain_challenge_and_authzid(self):
        c = self.conn()
        c.ehlo()
        r = c.cmd("AUTH PLAIN")
        self.assertEqual(r.raw_lines, ["334 "])
        expect(c.cmd(plain(USER, PASSWORD, authzid=USER.upper())), 235, "2.7.0")

    def test_auth_login_crypt_hash(self):
        c = self.conn()
        c.ehlo()
        r = c.cmd("AUTH LOGIN")
        self.assertEqual(r.raw_lines, ["334 VXNlcm5hbWU6"])
        r = c.cmd(b64(CRYPT_USER))
        self.assertEqual(r.raw_lines, ["334 UGFzc3dvcmQ6"])
        expect(c.cmd(b64(CRYPT_PASSWORD)), 235, "2.7.0")
        expect(c.cmd("MAIL FROM:<%s>" % CRYPT_USER), 250, "2.1.0")

    def test_auth_login_initial_response(self):
        c = self.conn()
        c.ehlo()
        r = c.cmd("auth login " + b64(USER))
        self.assertEqual(r.raw_lines, ["334 UGFzc3dvcmQ6"])
        expect(c.cmd(b64(PASSWORD)), 235, "2.7.0")

    def test_auth_smtplib_login(self):
        with lib.smtp_client(self.sub_port) as s:
            s.ehlo()
            s.starttls(context=client_context(self.cert))
            s.ehlo()
            code, _ = s.login(CRYPT_USER, CRYPT_PASSWORD)
            self.assertEqual(code, 235)

    def test_auth_protocol_errors(self):
        c = self.conn()
        expect(c.cmd("AUTH PLAIN " + plain(USER, PASSWORD)), 503, "5.5.1")   # before EHLO
        c.ehlo()
        expect(c.cmd("AUTH CRAM-MD5"), 504, "5.5.4")
        expect(c.cmd("AUTH"), 501, "5.5.4")
        expect(c.cmd("AUTH LOGIN"), 334)
        expect(c.cmd("*"), 501, "5.0.0")                                    # cancelled
        expect(c.cmd("AUTH PLAIN"), 334)
        expect(c.cmd("not base64!"), 501, "5.5.2")
        expect(c.cmd("AUTH PLAIN dXNlcg"), 501, "5.5.2")                    # unpadded
        expect(c.cmd("AUTH PLAIN " + b64("no nul at all")), 501, "5.5.2")
        expect(c.cmd("AUTH PLAIN " + b64("\0%s\0" % USER)), 501, "5.5.2")   # empty password
        expect(c.cmd("AUTH PLAIN ="), 501, "5.5.2")                         # empty response
        expect(c.cmd("AUTH LOGIN " + b64(USER)), 334)
        expect(c.cmd("*"), 501, "5.0.0")
        # none of these was a credentials failure: no delay, and AUTH still works
        self.auth(c)

    def test_auth_long_response(self):
        # RFC 4954 4: an AUTH line may pass 512 octets; a password of 600 octets just fails
        c = self.conn()
        c.ehlo()
        t0 = time.monotonic()
        expect(c.cmd("AUTH PLAIN " + plain(USER, "x" * 600)), 535, "5.7.8")
        self.assertGreaterEqual(time.monotonic() - t0, 0.8)
        expect(c.cmd("AUTH PLAIN " + "A" * 4000), 500, "5.5.2")             # past any valid size
        expect(c.cmd("NOOP"), 250, "2.0.0")
        expect(c.cmd("NOOP " + "x" * 600), 500, "5.5.2")                    # other commands keep 512

    def test_auth_failure_delay_grows(self):
        c = self.conn()
        c.ehlo()
        t0 = time.monotonic()
        expect(c.cmd("AUTH PLAIN " + plain(USER, "wrong")), 535, "5.7.8")
        t1 = time.monotonic()
        expect(c.cmd("AUTH PLAIN " + plain(USER, "wrong again")), 535, "5.7.8")
        t2 = time.monotonic()
        self.assertGreaterEqual(t1 - t0, 0.8)
        self.assertGreaterEqual(t2 - t1, 1.5)
        # the delay does not stop the right password
        self.auth(c)
        lib.wait_for(lambda: self.srv.log().count("AUTH PLAIN user=%s failed" % USER) >= 2,
                     what="the failures to be logged")

    def test_auth_unknown_user_and_authzid_fail(self):
        c = self.conn()
        c.ehlo()
        expect(c.cmd("AUTH PLAIN " + plain("nobody@example.test", PASSWORD)), 535, "5.7.8")
        expect(c.cmd("AUTH PLAIN " + plain(USER, PASSWORD, authzid=CRYPT_USER)), 535, "5.7.8")

    def test_auth_five_failures_close(self):
        c = self.conn()
        c.ehlo()
        c.sock.settimeout(20)
        for i in range(4):
            expect(c.cmd("AUTH LOGIN"), 334)
            expect(c.cmd(b64(USER)), 334)
            expect(c.cmd(b64("guess%d" % i)), 535, "5.7.8")
        t0 = time.monotonic()
        expect(c.cmd("AUTH PLAIN " + plain(USER, "guess5")), 535, "5.7.8")
        self.assertGreaterEqual(time.monotonic() - t0, 7.0)              # capped at 8 s
        expect(c.reply(), 421, "4.7.0")
        c.expect_closed()

    def test_auth_client_gone_while_delayed(self):
        c = self.conn()
        c.ehlo()
        c.send("AUTH PLAIN " + plain(USER, "wrong") + "\r\n")
        c.close()
        c2 = self.conn()   # the server is fine; the dead session is freed later
        c2.ehlo()
        self.auth(c2)

    def test_auth_pipelined_with_mail(self):
        c = self.conn()
        c.ehlo()
        c.send("AUTH PLAIN %s\r\nMAIL FROM:<%s>\r\nRCPT TO:<x@remote.test>\r\nRSET\r\n"
               % (plain(USER, PASSWORD), USER))
        expect(c.reply(), 235, "2.7.0")
        expect(c.reply(), 250, "2.1.0")
        expect(c.reply(), 250, "2.1.5")
        expect(c.reply(), 250, "2.0.0")

    # submission policy

    def test_mail_before_auth(self):
        c = self.conn()
        c.ehlo()
        expect(c.cmd("MAIL FROM:<%s>" % USER), 530, "5.7.0")
        expect(c.cmd("RCPT TO:<%s>" % USER), 503, "5.5.1")

    def test_relay_refused_on_port_25_for_stranger(self):
        c = self.conn(self.srv.port, source=STRANGER)
        c.ehlo()
        expect(c.cmd("MAIL FROM:<carol@sender.test>"), 250, "2.1.0")
        expect(c.cmd("RCPT TO:<user@remote.test>"), 554, "5.7.1")

    def test_relay_after_auth(self):
        c = self.conn(source=STRANGER)      # not in relay_networks: AUTH is what counts
        c.ehlo()
        self.auth(c)
        r = c.transaction(USER, ["someone@remote.test", "other@elsewhere.test"],
                          lib.make_message("t20 relayed", sender=USER, to="someone@remote.test"))
        qid = lib.queue_id_of(expect(r, 250, "2.0.0"))
        [m] = [m for m in self.srv.queue() if m["id"] == qid]
        self.assertEqual(sorted(r["address"] for r in m["recipients"]),
                         ["other@elsewhere.test", "someone@remote.test"])
        for rc in m["recipients"]:
            self.assertIn(rc["status"], ("deferred", "pending"))

    def test_sender_must_be_owned(self):
        c = self.conn()
        c.ehlo()
        self.auth(c)
        for sender, code in (("alice@localhost", 553), ("carol@example.test", 553),
                             ("sales@example.test", 553), ("bob@other.test", 553),
                             ("BOB@Example.TEST", 250), ("team@example.test", 250), ("", 250)):
            r = c.cmd("MAIL FROM:<%s>" % sender)
            if code == 553:
                expect(r, 553, "5.7.1")
            else:
                expect(r, 250, "2.1.0")
                expect(c.cmd("RSET"), 250, "2.0.0")
        expect(c.cmd("MAIL FROM:<%s>" % USER), 250, "2.1.0")
        expect(c.cmd("AUTH PLAIN " + plain(USER, PASSWORD)), 503, "5.5.1")   # in a transaction

    def test_crypt_user_owns_alias(self):
        c = self.conn()
        c.ehlo()
        self.auth(c, CRYPT_USER, CRYPT_PASSWORD)
        expect(c.cmd("MAIL FROM:<sales@example.test>"), 250, "2.1.0")

    # a client that is not on loopback

    def test_non_loopback_needs_tls(self):
        if not self.outside_ip:
            self.skipTest("no non-loopback IPv4 address on this machine")
        c = self.conn(self.outside_port, host=self.outside_ip, source=self.outside_ip)
        r = c.ehlo()
        self.assertIn("STARTTLS", self.keywords(r))
        self.assertNotIn("AUTH", self.keywords(r))
        expect(c.cmd("AUTH PLAIN " + plain(USER, PASSWORD)), 538, "5.7.11")
        expect(c.cmd("MAIL FROM:<%s>" % USER), 530, "5.7.0")
        self.starttls(c)
        r = c.ehlo()
        self.assertIn("AUTH", self.keywords(r))
        self.auth(c)
        expect(c.cmd("MAIL FROM:<%s>" % USER), 250, "2.1.0")


def smtplib_ssl(port, cafile):
    import smtplib
    return smtplib.SMTP_SSL("127.0.0.1", port, local_hostname="client.test", timeout=15,
                            context=client_context(cafile))


class BadKey(lib.IntegTestCase):

    def test_key_not_matching_certificate(self):
        folder = tempfile.mkdtemp(prefix="postino-t20-")
        self.addCleanup(shutil.rmtree, folder, True)
        cert, _ = make_cert(folder, "a")
        _, other_key = make_cert(folder, "b")
        srv = self.server(start=False, tls_cert=cert, tls_key=other_key)
        cp = lib.run_cli(["serve", "-c", srv.conf], timeout=30)
        self.assertNotEqual(cp.returncode, 0)
        self.assertIn("does not match", cp.stderr)


if __name__ == "__main__":
    unittest.main()
