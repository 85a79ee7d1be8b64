"""
t_60_smtputf8: internationalized mail on the server side (RFC 6530-6532).
EHLO offers SMTPUTF8; smtplib's send_message with SMTPUTF8 delivers a message
with a UTF-8 sender, UTF-8 recipients and UTF-8 headers (RFC 6532) into a
UTF-8 Maildir named as the users file spells it, matched without regard to
ASCII case; a U-label local domain (bücher.test in local_domains) and its
A-label (xn--bcher-kva.test) are one domain with one Maildir folder; a UTF-8
alias expands; without the SMTPUTF8 parameter a UTF-8 address gets 553
5.6.7; an address that is not NFC or not valid UTF-8 is a syntax error.
`postino sendmail -bs` takes SMTPUTF8 too: its drop file keeps the flag and
the UTF-8 addresses, and pickup delivers it.
"""
import email
import email.policy
import os
import smtplib
import subprocess
import unittest

import lib
from lib import expect

USERS = [
    "j\u00fcrgen@example.test:{PLAIN}pw",
    "\u7528\u6237@b\u00fccher.test:{PLAIN}pw",
    "bob@example.test:{PLAIN}pw",
]
ALIASES = ["gr\u00fc\u00dfe@example.test: j\u00fcrgen@example.test, bob@example.test"]
IDN = "xn--bcher-kva.test"


def utf8_message(to, subject):
    return lib.utf8_message("J\u00fcrgen <j\u00fcrgen@sender.test>", to, subject, "Gr\u00fc\u00dfe aus M\u00fcnchen.\n")


class SmtpUtf8(lib.SharedServerTestCase):

    @classmethod
    def server_options(cls):
        return {"users": USERS, "aliases": ALIASES,
                "local_domains": "localhost example.test b\u00fccher.test"}

    def send(self, to, subject, sender="j\u00fcrgen@sender.test"):
        with lib.smtp_client(self.srv.port) as s:
            s.ehlo()
            self.assertTrue(s.has_extn("smtputf8"))
            # send_message itself adds SMTPUTF8 (and BODY=8BITMIME) for international mail
            refused = s.send_message(utf8_message(", ".join(to), subject), sender, to)
            self.assertEqual(refused, {})

    def find(self, subject):
        for raw in lib.maildir_messages(self.srv.data, "example.test", "j\u00fcrgen"):
            msg = email.message_from_bytes(raw, policy=email.policy.SMTPUTF8)
            if msg["Subject"] == subject:
                return raw
        return None

    def test_ehlo_offers_smtputf8(self):
        with self.raw(self.srv) as r:
            rep = r.cmd("EHLO client.test")
            expect(rep, 250, enhanced=False)
            self.assertEqual(rep.raw_lines[-1], "250 SMTPUTF8")

    def test_utf8_delivery_to_utf8_mailbox(self):
        self.send(["J\u00fcrgen@EXAMPLE.test"], "t49 \u00fcber")
        lib.wait_for(lambda: self.find("t49 \u00fcber"), what="t49 \u00fcber delivered")
        raw = self.find("t49 \u00fcber")
        msg = email.message_from_bytes(raw, policy=email.policy.SMTPUTF8)
        self.assertEqual(msg["Subject"], "t49 \u00fcber")
        self.assertIn("J\u00fcrgen <j\u00fcrgen@sender.test>", msg["From"])
        self.assertTrue(raw.startswith("Return-Path: <j\u00fcrgen@sender.test>".encode()), raw[:80])

    def test_idn_domain_one_folder(self):
        self.send(["\u7528\u6237@b\u00fccher.test"], "t49 ulabel")
        self.send(["\u7528\u6237@" + IDN], "t49 alabel")
        got = lib.wait_maildir_count(self.srv.data, IDN, "\u7528\u6237", 2)
        self.assertEqual(len(got), 2)
        self.assertEqual(sorted(os.listdir(os.path.join(self.srv.data, "mail"))),
                         sorted(set(os.listdir(os.path.join(self.srv.data, "mail")))))
        self.assertFalse(os.path.exists(os.path.join(self.srv.data, "mail", "b\u00fccher.test")))

    def test_utf8_alias(self):
        before = len(self.srv.maildir("bob"))
        self.send(["gr\u00fc\u00dfe@example.test"], "t49 alias")
        self.srv.wait_mail("bob", before + 1)

    def test_unknown_utf8_user(self):
        with lib.smtp_client(self.srv.port) as s:
            s.ehlo()
            code, _ = s.mail("j\u00fcrgen@sender.test", ["SMTPUTF8"])
            self.assertEqual(code, 250)
            code, text = s.rcpt("j\u00f6rg@example.test")
            self.assertEqual(code, 550, text)

    def test_utf8_without_smtputf8_refused(self):
        with self.raw(self.srv) as r:
            expect(r.cmd("EHLO client.test"), 250, enhanced=False)
            expect(r.cmd("MAIL FROM:<j\u00fcrgen@sender.test>"), 553, "5.6.7")
            expect(r.cmd("MAIL FROM:<a@sender.test>"), 250)
            expect(r.cmd("RCPT TO:<j\u00fcrgen@example.test>"), 553, "5.6.7")
            expect(r.cmd("RSET"), 250)
            expect(r.cmd("MAIL FROM:<a@sender.test> SMTPUTF8"), 250)
            expect(r.cmd("RCPT TO:<j\u00fcrgen@example.test>"), 250)

    def test_bad_utf8_is_a_syntax_error(self):
        with self.raw(self.srv) as r:
            expect(r.cmd("EHLO client.test"), 250, enhanced=False)
            expect(r.cmd("MAIL FROM:<a@sender.test> SMTPUTF8"), 250)
            expect(r.cmd("RCPT TO:<ju\u0308rgen@example.test>"), 501, "5.1.3")  # NFD
            r.send(b"RCPT TO:<j\xc3rgen@example.test>\r\n")                     # not UTF-8
            expect(r.reply(), 501, "5.1.3")
            expect(r.cmd("RCPT TO:<a@b\u00fccher..test>"), 501, "5.1.3")

    def test_sendmail_bs_smtputf8(self):
        lines = ["EHLO client.test", "MAIL FROM:<\u00e5sa@example.test> SMTPUTF8",
                 "RCPT TO:<%s@example.test>" % "j\u00fcrgen", "DATA",
                 "Subject: t49 bs \u00fcber", "", "hi", ".", "QUIT"]
        cp = subprocess.run([lib.BIN, "sendmail", "-C", self.srv.conf, "-bs"],
                            input=("\r\n".join(lines) + "\r\n").encode(), timeout=30,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        out = cp.stdout.decode("utf-8", "replace")
        self.assertEqual(cp.returncode, 0, out + cp.stderr.decode("utf-8", "replace"))
        self.assertIn("250 SMTPUTF8", out)
        self.assertIn("250 2.0.0", out)
        lib.wait_for(lambda: self.find("t49 bs \u00fcber"), what="t49 bs delivered")


if __name__ == "__main__":
    unittest.main()
