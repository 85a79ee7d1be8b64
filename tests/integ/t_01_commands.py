"""
t_01_commands: every SMTP command the server knows and each reply code of
the contract (RFC 5321 4.1, RFC 2034 enhanced codes): greeting, EHLO
keywords, HELO, MAIL/RCPT/DATA/RSET/NOOP/QUIT/VRFY/EXPN/HELP, unknown
commands, bad sequences (503 5.5.1), syntax errors (501), and ESMTP
parameters refused in a session opened with HELO (555 5.5.4).
One server for the whole module; every test opens its own connection.
"""
import unittest

import lib
from lib import expect


class Commands(lib.SharedServerTestCase):

    @classmethod
    def server_options(cls):
        return dict()

    def conn(self, ehlo=True):
        c = self.raw(self.srv)
        if ehlo:
            c.ehlo()
        return c

    # -- greeting and hello

    def test_greeting(self):
        c = self.conn(ehlo=False)
        self.assertEqual(c.greeting.raw_lines, ["220 mx.test ESMTP postino"])

    def test_ehlo_keywords(self):
        c = self.conn(ehlo=False)
        r = expect(c.cmd("EHLO client.test"), 250, enhanced=False)
        self.assertTrue(r.lines[0].startswith("mx.test"), r)
        keywords = {}
        for line in r.lines[1:]:
            word, _, rest = line.partition(" ")
            keywords[word.upper()] = rest
        for k in ("PIPELINING", "8BITMIME", "SIZE", "ENHANCEDSTATUSCODES", "DSN"):
            self.assertIn(k, keywords, r)
        self.assertEqual(keywords["SIZE"], str(100 * 1024), r)

    def test_helo(self):
        c = self.conn(ehlo=False)
        r = c.cmd("HELO client.test")
        self.assertEqual(r.code, 250, r)
        self.assertEqual(len(r.raw_lines), 1, "HELO reply must be one line: %s" % r)
        self.assertIn("mx.test", r.text)
        expect(c.cmd("MAIL FROM:<alice@sender.test>"), 250, "2.1.0")
        expect(c.cmd("RCPT TO:<bob@example.test>"), 250, "2.1.5")

    def test_helo_ehlo_without_domain(self):
        c = self.conn(ehlo=False)
        expect(c.cmd("EHLO"), 501)
        expect(c.cmd("HELO"), 501)
        expect(c.cmd("EHLO client.test"), 250, enhanced=False)

    def test_commands_case_insensitive(self):
        c = self.conn(ehlo=False)
        expect(c.cmd("ehlo client.test"), 250, enhanced=False)
        expect(c.cmd("mail from:<alice@sender.test>"), 250, "2.1.0")
        expect(c.cmd("rCpT tO:<bob@example.test>"), 250, "2.1.5")
        expect(c.cmd("noop"), 250, "2.0.0")

    # -- the transaction

    def test_full_transaction_replies(self):
        c = self.conn()
        expect(c.cmd("MAIL FROM:<alice@sender.test>"), 250, "2.1.0")
        expect(c.cmd("RCPT TO:<bob@example.test>"), 250, "2.1.5")
        r = c.cmd("DATA")
        self.assertEqual(r.code, 354, r)
        c.send(lib.make_message("t01 full") + b".\r\n")
        r = expect(c.reply(), 250, "2.0.0")
        self.assertRegex(r.raw_lines[-1], lib.QUEUED_RE)
        r = expect(c.cmd("QUIT"), 221, "2.0.0")
        c.expect_closed()

    def test_null_sender(self):
        c = self.conn()
        expect(c.cmd("MAIL FROM:<>"), 250, "2.1.0")
        expect(c.cmd("RCPT TO:<bob@example.test>"), 250, "2.1.5")

    def test_rset_noop(self):
        c = self.conn()
        expect(c.cmd("NOOP"), 250, "2.0.0")
        expect(c.cmd("NOOP some argument"), 250, "2.0.0")
        expect(c.cmd("MAIL FROM:<alice@sender.test>"), 250, "2.1.0")
        expect(c.cmd("RCPT TO:<bob@example.test>"), 250, "2.1.5")
        expect(c.cmd("RSET"), 250, "2.0.0")
        # the transaction is gone
        expect(c.cmd("RCPT TO:<bob@example.test>"), 503, "5.5.1")
        expect(c.cmd("DATA"), 503, "5.5.1")
        # and a new one can start
        expect(c.cmd("MAIL FROM:<alice@sender.test>"), 250, "2.1.0")

    def test_rset_before_helo(self):
        c = self.conn(ehlo=False)
        expect(c.cmd("RSET"), 250, "2.0.0")
        expect(c.cmd("NOOP"), 250, "2.0.0")

    def test_quit(self):
        c = self.conn(ehlo=False)
        expect(c.cmd("QUIT"), 221, "2.0.0")
        c.expect_closed()

    def test_vrfy(self):
        c = self.conn()
        expect(c.cmd("VRFY bob"), 252, "2.5.0")
        expect(c.cmd("VRFY bob@example.test"), 252, "2.5.0")

    def test_expn(self):
        c = self.conn()
        expect(c.cmd("EXPN team"), 502, "5.5.1")

    def test_help(self):
        c = self.conn()
        expect(c.cmd("HELP"), 214, "2.0.0")
        expect(c.cmd("HELP MAIL"), 214, "2.0.0")

    def test_unknown_command(self):
        c = self.conn()
        expect(c.cmd("FOO bar"), 500, "5.5.2")
        # ("MAILFROM:<a@b.test>" looks like a header line: it ends the session, t_37)
        expect(c.cmd("MAILFROM <a@b.test>"), 500, "5.5.2")
        expect(c.cmd(""), 500, "5.5.2")
        # the session goes on
        expect(c.cmd("NOOP"), 250, "2.0.0")

    # -- bad sequences

    def test_mail_before_helo(self):
        c = self.conn(ehlo=False)
        expect(c.cmd("MAIL FROM:<alice@sender.test>"), 503, "5.5.1")

    def test_rcpt_before_mail(self):
        c = self.conn()
        expect(c.cmd("RCPT TO:<bob@example.test>"), 503, "5.5.1")

    def test_data_before_mail(self):
        c = self.conn()
        expect(c.cmd("DATA"), 503, "5.5.1")

    def test_data_before_rcpt(self):
        c = self.conn()
        expect(c.cmd("MAIL FROM:<alice@sender.test>"), 250, "2.1.0")
        expect(c.cmd("DATA"), 503, "5.5.1")
        # the transaction survives: a recipient can still be added
        expect(c.cmd("RCPT TO:<bob@example.test>"), 250, "2.1.5")

    def test_nested_mail(self):
        c = self.conn()
        expect(c.cmd("MAIL FROM:<alice@sender.test>"), 250, "2.1.0")
        expect(c.cmd("MAIL FROM:<carol@sender.test>"), 503, "5.5.1")

    def test_sequence_error_after_message(self):
        c = self.conn()
        r = c.transaction("alice@sender.test", ["bob@example.test"], lib.make_message("t01 seq"))
        expect(r, 250, "2.0.0")
        # the transaction ended with the message
        expect(c.cmd("RCPT TO:<bob@example.test>"), 503, "5.5.1")
        expect(c.cmd("MAIL FROM:<alice@sender.test>"), 250, "2.1.0")

    # -- syntax errors

    def test_mail_missing_from(self):
        c = self.conn()
        expect(c.cmd("MAIL alice@sender.test"), 501, "5.5.2")
        expect(c.cmd("MAIL"), 501, "5.5.2")
        expect(c.cmd("MAIL TO:<alice@sender.test>"), 501, "5.5.2")

    def test_rcpt_missing_to(self):
        c = self.conn()
        expect(c.cmd("MAIL FROM:<alice@sender.test>"), 250, "2.1.0")
        expect(c.cmd("RCPT bob@example.test"), 501, "5.5.2")
        expect(c.cmd("RCPT"), 501, "5.5.2")
        expect(c.cmd("RCPT FROM:<bob@example.test>"), 501, "5.5.2")

    def test_bad_sender(self):
        c = self.conn()
        for bad in ("<alice@@sender.test>", "<alice sender.test>", "<a@b@c.test>", "<alice@>",
                    "<@sender.test>", "<alice@sender.test", "<alice@sender..test>"):
            expect(c.cmd("MAIL FROM:" + bad), 501, "5.1.7")
        expect(c.cmd("MAIL FROM:<alice@sender.test>"), 250, "2.1.0")

    def test_bad_recipient(self):
        c = self.conn()
        expect(c.cmd("MAIL FROM:<alice@sender.test>"), 250, "2.1.0")
        for bad in ("<bob@@example.test>", "<bob example.test>", "<a@b@example.test>",
                    "<bob@>", "<>", "<bob@example.test", "<bob@example..test>"):
            expect(c.cmd("RCPT TO:" + bad), 501, "5.1.3")
        expect(c.cmd("RCPT TO:<bob@example.test>"), 250, "2.1.5")

    def test_every_reply_has_enhanced_code(self):
        c = self.conn()
        for line in ("NOOP", "RSET", "VRFY x", "EXPN x", "HELP", "XYZZY", "RCPT TO:<x@y.test>",
                     "MAIL FROM:<alice@sender.test>", "MAIL FROM:<alice@sender.test>",
                     "RCPT TO:<bob@example.test>"):
            r = c.cmd(line)
            for l in r.lines:
                lib.check_esc(r.code, l, "%s: " % line)

    # -- ESMTP parameters in a HELO session

    def test_helo_session_rejects_parameters(self):
        c = self.conn(ehlo=False)
        expect(c.cmd("HELO client.test"), 250, enhanced=False)
        for params in ("SIZE=100", "BODY=8BITMIME", "RET=FULL", "ENVID=abc", "FOO=bar"):
            expect(c.cmd("MAIL FROM:<alice@sender.test> " + params), 555, "5.5.4")
        expect(c.cmd("MAIL FROM:<alice@sender.test>"), 250, "2.1.0")
        for params in ("NOTIFY=SUCCESS", "ORCPT=rfc822;bob@example.test", "FOO=bar"):
            expect(c.cmd("RCPT TO:<bob@example.test> " + params), 555, "5.5.4")
        expect(c.cmd("RCPT TO:<bob@example.test>"), 250, "2.1.5")

    def test_ehlo_session_accepts_parameters(self):
        c = self.conn()
        expect(c.cmd("MAIL FROM:<alice@sender.test> SIZE=100 BODY=8BITMIME RET=FULL ENVID=abc"),
               250, "2.1.0")
        expect(c.cmd("RCPT TO:<bob@example.test> NOTIFY=SUCCESS ORCPT=rfc822;bob@example.test"),
               250, "2.1.5")


if __name__ == "__main__":
    unittest.main()
