"""
t_63_dkim_sign: DKIM signing (RFC 6376, RFC 8463) with dkim_sign keys made by
`postino dkim keygen`, one RSA and one Ed25519, whose TXT records (as keygen
prints them) the test's dnsmasq serves. Debian's python3-dkim (dkimpy, written
by others) verifies, looking the key up in that dnsmasq: an authenticated
submission relayed to a peer (both algorithms), mail from `postino sendmail`,
and a failure notice postino sends to the sender's domain; a message changed
after signing fails. A From domain without a key goes unsigned; a signed
message to a local mailbox is delivered. keygen: file mode 0600 owned by
run_as, never over an existing file, usage errors. A bad key file is refused
by `check`, `serve` (also one run_as cannot read) and `reload` with
FILE:LINE and exit 2.
"""
import base64
import os
import pwd
import re
import shutil
import subprocess
import tempfile
import unittest

import dkim                      # python3-dkim
import dns.resolver              # python3-dnspython

import lib
import peers

USER, PASSWORD = "sub@example.test", "s3cret"
PEER_DOMAIN = "peer.test"        # MX 127.0.0.2: the peer that receives relayed mail
BACK_DOMAIN = "back.test"        # MX 127.0.0.3: where a notice to its sender goes
REFUSE_DOMAIN = "refuse.test"    # MX 127.0.0.4: refuses every recipient
RSA_DOMAIN, RSA_SEL = "sign.test", "rsa1"
ED_DOMAIN, ED_SEL = "ed.test", "ed1"


def keygen(args, cwd=None):
    return subprocess.run([lib.BIN, "dkim", "keygen"] + list(args), cwd=cwd,
                          stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE, timeout=60, text=True)


def txt_strings(record_line):
    """The quoted strings of keygen's `NAME. IN TXT "..." "..."` line."""
    return re.findall(r'"([^"]*)"', record_line)


def plain(user, password):
    return base64.b64encode(("\0%s\0%s" % (user, password)).encode()).decode()


class DkimSign(peers.RelayTestCase):

    keydir = None
    records = {}

    @classmethod
    def dns_records(cls, dns_server):
        dns_server.mx(PEER_DOMAIN, "mx.peer.test", 10).a("mx.peer.test", "127.0.0.2")
        dns_server.mx(BACK_DOMAIN, "mx.back.test", 10).a("mx.back.test", "127.0.0.3")
        dns_server.mx(REFUSE_DOMAIN, "mx.refuse.test", 10).a("mx.refuse.test", "127.0.0.4")
        cls.keydir = tempfile.mkdtemp(prefix="postino-dkim-")
        os.chmod(cls.keydir, 0o711)   # run_as crosses it to read the keys
        for domain, sel, kind in ((RSA_DOMAIN, RSA_SEL, "rsa"), (ED_DOMAIN, ED_SEL, "ed25519")):
            cp = keygen(["-t", kind, domain, sel], cwd=cls.keydir)
            assert cp.returncode == 0, cp.stderr
            name, _, _ = cp.stdout.partition(" ")
            assert name == "%s._domainkey.%s." % (sel, domain), cp.stdout
            cls.records[domain] = cp.stdout.strip()
            dns_server.txt(name.rstrip("."), ",".join(txt_strings(cp.stdout)))

    @classmethod
    def tearDownClass(cls):
        if cls.keydir:
            shutil.rmtree(cls.keydir, True)
        super().tearDownClass()

    def key_file(self, domain, sel):
        return os.path.join(self.keydir, "%s.%s.key" % (sel, domain))

    def dnsfunc(self, name, timeout=5):
        """dkimpy's key lookup, answered by the test's dnsmasq."""
        r = dns.resolver.Resolver(configure=False)
        r.nameservers = ["127.0.0.1"]
        r.port = self.dns.port
        r.lifetime = timeout
        if isinstance(name, bytes):
            name = name.decode()
        try:
            answer = r.resolve(name, "TXT")
        except dns.exception.DNSException:
            return None
        return b"".join(s for rr in answer for s in rr.strings)

    def verify(self, data):
        return dkim.verify(data, dnsfunc=self.dnsfunc)

    def signing_server(self, **settings):
        self.sub_port = lib.free_port()
        s = dict(extra=["listen submission 127.0.0.1:%d" % self.sub_port,
                        "dkim_sign %s %s %s" % (RSA_DOMAIN, RSA_SEL,
                                                self.key_file(RSA_DOMAIN, RSA_SEL)),
                        "dkim_sign %s %s %s" % (ED_DOMAIN, ED_SEL,
                                                self.key_file(ED_DOMAIN, ED_SEL))],
                 users=["%s:{PLAIN}%s" % (USER, PASSWORD), "rcpt@example.test:{PLAIN}x"])
        s.update(settings)
        return self.relay_server(**s)

    def submit(self, msg, rcpt, sender=USER):
        with lib.smtp_client(self.sub_port) as s:
            s.ehlo()
            lib.expect_smtplib(s.docmd("AUTH", "PLAIN " + plain(USER, PASSWORD)), 235, "2.7.0")
            lib.expect_smtplib(s.mail(sender), 250, "2.1.0")
            lib.expect_smtplib(s.rcpt(rcpt), 250, "2.1.5")
            return lib.queue_id_of(lib.expect_smtplib(s.data(msg), 250, "2.0.0"))

    def signature(self, data):
        fields = [h for h in peers.unfold_headers(data) if h.lower().startswith("dkim-signature:")]
        self.assertEqual(len(fields), 1, data[:2000])
        return dict((k.strip(), v.strip()) for k, _, v in
                    (t.partition("=") for t in fields[0].split(":", 1)[1].split(";") if t.strip()))

    def check_relayed(self, from_domain, alg, sel):
        peer = self.aiosmtpd_peer("127.0.0.2")
        self.signing_server()
        msg = lib.make_message("t63 %s" % alg, sender="ann@%s" % from_domain,
                               to="bob@%s" % PEER_DOMAIN,
                               body="Hello  Bob.\r\n\r\nSigned text.\r\n")
        self.submit(msg, "bob@%s" % PEER_DOMAIN)
        [m] = peer.wait_messages(1)
        data = m["data"]
        tags = self.signature(data)
        self.assertEqual(tags["a"], alg)
        self.assertEqual(tags["d"], from_domain)
        self.assertEqual(tags["s"], sel)
        self.assertEqual(tags["c"], "relaxed/relaxed")
        self.assertEqual([h.lower() for h in tags["h"].split(":")].count("from"), 2, tags["h"])
        self.assertTrue(data.startswith(b"DKIM-Signature: "), data[:200])
        self.assertNotRegex(data.replace(b"\r\n", b""), b"[\r\n]", "bare CR or LF")
        self.assertTrue(self.verify(data), data[:2000])
        # the check can fail: a changed body, a changed subject
        self.assertFalse(self.verify(data.replace(b"Signed text.", b"Signed text!")))
        self.assertFalse(self.verify(data.replace(b"Subject: t63", b"Subject: T63")))

    def test_submission_rsa_verifies(self):
        self.check_relayed(RSA_DOMAIN, "rsa-sha256", RSA_SEL)

    def test_submission_ed25519_verifies(self):
        self.check_relayed(ED_DOMAIN, "ed25519-sha256", ED_SEL)

    def test_from_domain_without_key_unsigned(self):
        peer = self.aiosmtpd_peer("127.0.0.2")
        self.signing_server()
        msg = lib.make_message("t63 unsigned", sender="ann@nokey.test", to="bob@%s" % PEER_DOMAIN)
        self.submit(msg, "bob@%s" % PEER_DOMAIN)
        [m] = peer.wait_messages(1)
        self.assertNotIn(b"DKIM-Signature", m["data"])

    def test_local_delivery_of_signed_message(self):
        srv = self.signing_server()
        msg = lib.make_message("t63 local", sender="ann@%s" % RSA_DOMAIN, to="rcpt@example.test")
        self.submit(msg, "rcpt@example.test")
        [stored] = srv.wait_mail("rcpt")
        self.assertIn(b"\nDKIM-Signature: ", stored)
        self.assertIn(b"Subject: t63 local", stored)
        self.assertTrue(self.verify(stored.replace(b"\n", b"\r\n")))

    def test_sendmail_mail_signed(self):
        peer = self.aiosmtpd_peer("127.0.0.2")
        srv = self.signing_server()
        text = ("From: Ann <ann@%s>\nTo: bob@%s\nSubject: t63 sendmail\n\nfrom sendmail\n"
                % (RSA_DOMAIN, PEER_DOMAIN)).encode()
        cp = subprocess.run([lib.BIN, "sendmail", "-C", srv.conf, "-t"], input=text,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=30)
        self.assertEqual(cp.returncode, 0, cp.stderr)
        [m] = peer.wait_messages(1)
        self.assertEqual(self.signature(m["data"])["d"], RSA_DOMAIN)
        self.assertTrue(self.verify(m["data"]), m["data"][:2000])
        self.assertFalse(self.verify(m["data"].replace(b"from sendmail", b"from elsewhere")))

    def test_failure_notice_signed(self):
        self.peer("127.0.0.4", {"rcpt": "550 5.1.1 no such user"})
        back = self.aiosmtpd_peer("127.0.0.3")
        srv = self.signing_server()
        sender = "carol@%s" % BACK_DOMAIN
        msg = lib.make_message("t63 notice", sender=sender, to="bob@%s" % REFUSE_DOMAIN)
        lib.send_message(srv.port, sender, ["bob@%s" % REFUSE_DOMAIN], msg)
        [n] = back.wait_messages(1)
        self.assertIn(n["sender"], ("", "<>"))   # MAIL FROM:<>
        data = n["data"]
        self.assertIn(b"multipart/report", data)
        tags = self.signature(data)
        self.assertEqual(tags["d"], RSA_DOMAIN)   # no key for mx.test or test: the first
        self.assertTrue(self.verify(data), data[:3000])
        self.assertFalse(self.verify(data.replace(b"bob@refuse.test", b"bob@refusa.test", 1)))

    def test_keygen_file_and_record(self):
        d = self.tmpdir()
        cp = keygen(["k.test", "s1"], cwd=d)
        self.assertEqual(cp.returncode, 0, cp.stderr)
        path = os.path.join(d, "s1.k.test.key")
        st = os.stat(path)
        self.assertEqual(st.st_mode & 0o777, 0o600)
        self.assertEqual(pwd.getpwuid(st.st_uid).pw_name, "postino")  # run_as, made by root
        strings = txt_strings(cp.stdout)
        self.assertTrue(all(len(s) <= 255 for s in strings), strings)
        self.assertRegex("".join(strings), r"^v=DKIM1; k=rsa; p=[A-Za-z0-9+/]+=*$")
        self.assertIn("-----BEGIN PRIVATE KEY-----", open(path).read())
        self.assertRegex(self.records[ED_DOMAIN],
                         r'^ed1\._domainkey\.ed\.test\. IN TXT "v=DKIM1; k=ed25519; p=[A-Za-z0-9+/]{43}="$')
        # never over an existing file
        before = open(path).read()
        cp = keygen(["k.test", "s1"], cwd=d)
        self.assertEqual(cp.returncode, 73, cp.stderr)
        self.assertIn("s1.k.test.key", cp.stderr)
        self.assertEqual(open(path).read(), before)
        cp = keygen(["-o", os.path.join(d, "other.pem"), "-t", "ed25519", "k.test", "s2"], cwd=d)
        self.assertEqual(cp.returncode, 0, cp.stderr)
        self.assertTrue(os.path.exists(os.path.join(d, "other.pem")))
        for bad in (["-t", "dsa", "k.test", "s"], ["k.test"], ["bad..test", "s"], ["k.test", "s/x"]):
            self.assertEqual(keygen(bad, cwd=d).returncode, 64, bad)

    def test_bad_key_refused_with_file_line(self):
        junk = self.readable_file(
            "junk.key", "-----BEGIN PRIVATE KEY-----\nnot base64\n-----END PRIVATE KEY-----\n")
        d = os.path.dirname(junk)
        srv = self.relay_server(start=False, extra=["dkim_sign junk.test s %s" % junk])
        line = srv.config_lines().index("dkim_sign junk.test s %s" % junk) + 1
        cp = lib.run_cli(["check", "-c", srv.conf])
        self.assertEqual(cp.returncode, 2, cp.stdout)
        self.assertIn("%s:%d: dkim_sign: %s: " % (srv.conf, line, junk), cp.stderr)
        cp = lib.run_cli(["serve", "-c", srv.conf])
        self.assertEqual(cp.returncode, 2, cp.stderr)
        self.assertIn("%s:%d: dkim_sign: %s: " % (srv.conf, line, junk), cp.stderr)
        # a good key the server cannot read after dropping to run_as
        shutil.copy(self.key_file(RSA_DOMAIN, RSA_SEL), os.path.join(d, "root.key"))
        os.chown(os.path.join(d, "root.key"), 0, 0)
        os.chmod(os.path.join(d, "root.key"), 0o600)
        srv2 = self.relay_server(start=False,
                                 extra=["dkim_sign %s %s %s" % (RSA_DOMAIN, RSA_SEL,
                                                                os.path.join(d, "root.key"))])
        self.assertEqual(lib.run_cli(["check", "-c", srv2.conf]).returncode, 0)  # root reads it
        cp = lib.run_cli(["serve", "-c", srv2.conf])
        self.assertEqual(cp.returncode, 2, cp.stderr)
        self.assertIn("root.key: Permission denied", cp.stderr)

    def test_reload_refuses_bad_key(self):
        peer = self.aiosmtpd_peer("127.0.0.2")
        srv = self.signing_server()
        junk = self.readable_file("junk.key", "not a key\n")
        srv.extra.append("dkim_sign junk.test s %s" % junk)
        srv.write_config()
        line = srv.config_lines().index("dkim_sign junk.test s %s" % junk) + 1
        cp = lib.run_cli(["reload", "-c", srv.conf], timeout=60)
        self.assertEqual(cp.returncode, 2, cp.stdout + cp.stderr)
        self.assertIn("%s:%d: dkim_sign: %s: not a PEM private key" % (srv.conf, line, junk),
                      cp.stderr)
        # still signing with the running settings
        msg = lib.make_message("t63 after reload", sender="ann@%s" % RSA_DOMAIN,
                               to="bob@%s" % PEER_DOMAIN)
        self.submit(msg, "bob@%s" % PEER_DOMAIN)
        [m] = peer.wait_messages(1)
        self.assertTrue(self.verify(m["data"]), m["data"][:2000])


if __name__ == "__main__":
    unittest.main()
