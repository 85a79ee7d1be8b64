"""
t_07_dsn_params: the RFC 3461 parameters on the SMTP side (DSN.md section 2).
RET/ENVID on MAIL and NOTIFY/ORCPT on RCPT are stored with the message and
shown by `postino queue list --json` (notify, orcpt per recipient) and
`postino queue show ID` (decoded ENVID, RET). Malformed or repeated
parameters get 501 5.5.4, unknown ones 555 5.5.4, decoded CR/LF/NUL and
over-long values are refused, ORCPT=rfc822;root is valid.
A remote recipient from the relay network stays queued (relayhost on a
closed port: every attempt is a temporary failure).
"""
import unittest

import lib
from lib import expect, expect_smtplib


class DsnParams(lib.SharedServerTestCase):

    @classmethod
    def server_options(cls):
        return dict(relayhost="[127.0.0.1]:%d" % lib.free_port())

    def conn(self, mail=True):
        c = self.raw(self.srv)
        c.ehlo()
        if mail:
            expect(c.cmd("MAIL FROM:<alice@sender.test>"), 250, "2.1.0")
        return c

    def queued(self, qid):
        for m in self.srv.queue():
            if m["id"] == qid:
                return m
        self.fail("message %s not in queue list --json" % qid)

    def test_parameters_stored(self):
        with self.srv.smtp() as s:
            s.ehlo()
            self.assertTrue(s.has_extn("dsn"))
            expect_smtplib(s.mail("alice@sender.test", ["RET=HDRS", "ENVID=abc+2Bdef"]), 250, "2.1.0")
            expect_smtplib(s.rcpt("user@remote.test", ["NOTIFY=SUCCESS,FAILURE",
                                                       "ORCPT=rfc822;bob@example.test"]), 250, "2.1.5")
            text = expect_smtplib(s.data(lib.make_message("t07 stored", to="user@remote.test")),
                                  250, "2.0.0")
        qid = lib.queue_id_of(text)
        m = self.queued(qid)
        for key in ("id", "sender", "size", "arrival", "recipients"):
            self.assertIn(key, m)
        self.assertEqual(m["sender"], "alice@sender.test")
        self.assertIsInstance(m["size"], int)
        self.assertGreater(m["size"], 0)
        [r] = m["recipients"]
        for key in ("address", "status", "notify", "orcpt", "attempts", "next_attempt", "last_reply"):
            self.assertIn(key, r)
        self.assertEqual(r["address"], "user@remote.test")
        self.assertIn(r["status"], ("deferred", "pending"))
        self.assertEqual(r["notify"], "SUCCESS,FAILURE")
        self.assertEqual(r["orcpt"], "rfc822;bob@example.test")
        cp = lib.run_cli(["queue", "-c", self.srv.conf, "show", qid])
        self.assertEqual(cp.returncode, 0, cp.stderr)
        self.assertIn("abc+def", cp.stdout)
        self.assertIn("HDRS", cp.stdout)
        self.assertIn("user@remote.test", cp.stdout)
        self.assertIn("t07 stored", cp.stdout)   # the headers are shown too

    def test_notify_never_and_case(self):
        c = self.conn()
        expect(c.cmd("RCPT TO:<n1@remote.test> NOTIFY=never"), 250, "2.1.5")
        expect(c.cmd("RCPT TO:<n2@remote.test> notify=delay,Success ORCPT=RFC822;root"), 250, "2.1.5")
        expect(c.cmd("DATA"), 354)
        c.send(b"Subject: t07 never\r\n\r\nx\r\n.\r\n")
        qid = lib.queue_id_of(expect(c.reply(), 250, "2.0.0"))
        rcpts = {r["address"]: r for r in self.queued(qid)["recipients"]}
        self.assertEqual(rcpts["n1@remote.test"]["notify"], "NEVER")
        self.assertEqual(sorted(rcpts["n2@remote.test"]["notify"].split(",")), ["DELAY", "SUCCESS"])
        self.assertTrue(rcpts["n2@remote.test"]["orcpt"].lower() == "rfc822;root",
                        rcpts["n2@remote.test"])

    def test_orcpt_without_domain_is_valid(self):
        c = self.conn()
        expect(c.cmd("RCPT TO:<bob@example.test> ORCPT=rfc822;root"), 250, "2.1.5")

    def test_envid_100_ok_101_refused(self):
        c = self.conn(mail=False)
        expect(c.cmd("MAIL FROM:<alice@sender.test> ENVID=" + "e" * 101), 501, "5.5.4")
        expect(c.cmd("MAIL FROM:<alice@sender.test> ENVID=" + "e" * 100), 250, "2.1.0")

    def test_orcpt_over_500_refused(self):
        c = self.conn()
        # RFC 3461 4: the RCPT line may be 500 octets longer, so an over-long
        # ORCPT is judged by its own cap (501 5.5.4), not as a long line.
        expect(c.cmd("RCPT TO:<bob@example.test> ORCPT=rfc822;" + "o" * 494), 501, "5.5.4")
        expect(c.cmd("RCPT TO:<bob@example.test> ORCPT=rfc822;" + "o" * 501), 501, "5.5.4")
        expect(c.cmd("RCPT TO:<bob@example.test> ORCPT=rfc822;" + "o" * 493), 250, "2.1.5")

    def test_orcpt_460_in_515_octet_line_stored(self):
        c = self.conn()
        orcpt = "rfc822;" + "o" * 453
        line = "RCPT TO:<%s@remote.test> ORCPT=%s" % ("u" * 26, orcpt)
        self.assertEqual((len(orcpt), len(line)), (460, 515))
        expect(c.cmd(line), 250, "2.1.5")
        expect(c.cmd("DATA"), 354)
        c.send(b"Subject: t07 long orcpt\r\n\r\nx\r\n.\r\n")
        qid = lib.queue_id_of(expect(c.reply(), 250, "2.0.0"))
        [r] = self.queued(qid)["recipients"]
        self.assertEqual(r["orcpt"], orcpt)

    def test_mail_parameter_errors(self):
        c = self.conn(mail=False)
        cases = {
            "RET=FOO": (501, "5.5.4"),
            "RET=": (501, "5.5.4"),
            "RET=FULL RET=HDRS": (501, "5.5.4"),
            "RET=FULL RET=FULL": (501, "5.5.4"),
            "ENVID=a ENVID=b": (501, "5.5.4"),
            "ENVID=abc+2": (501, "5.5.4"),
            "ENVID=abc+ZZdef": (501, "5.5.4"),
            "ENVID=a+0Ab": (501, "5.5.4"),      # decoded LF
            "ENVID=a+0Db": (501, "5.5.4"),      # decoded CR
            "ENVID=a+00b": (501, "5.5.4"),      # decoded NUL
            "FOO=bar": (555, "5.5.4"),
            "XYZZY": (555, "5.5.4"),
        }
        for params, (code, esc) in cases.items():
            with self.subTest(params=params):
                expect(c.cmd("MAIL FROM:<alice@sender.test> " + params), code, esc)
        # none of them started a transaction
        expect(c.cmd("RCPT TO:<bob@example.test>"), 503, "5.5.1")
        expect(c.cmd("MAIL FROM:<alice@sender.test> RET=full ENVID=ok"), 250, "2.1.0")

    def test_rcpt_parameter_errors(self):
        c = self.conn()
        cases = {
            "NOTIFY=": (501, "5.5.4"),
            "NOTIFY=BOGUS": (501, "5.5.4"),
            "NOTIFY=NEVER,SUCCESS": (501, "5.5.4"),
            "NOTIFY=FAILURE,NEVER": (501, "5.5.4"),
            "NOTIFY=SUCCESS,,FAILURE": (501, "5.5.4"),
            "NOTIFY=SUCCESS,SUCCESS": (501, "5.5.4"),
            "NOTIFY=SUCCESS NOTIFY=FAILURE": (501, "5.5.4"),
            "ORCPT=bob@example.test": (501, "5.5.4"),           # no addr-type
            "ORCPT=rfc822;a+0Db@x.test": (501, "5.5.4"),         # decoded CR
            "ORCPT=rfc822;a+0Ab@x.test": (501, "5.5.4"),         # decoded LF
            "ORCPT=rfc822;a+00b@x.test": (501, "5.5.4"),         # decoded NUL
            "ORCPT=rfc822;a+2": (501, "5.5.4"),
            "ORCPT=rfc822;a ORCPT=rfc822;b": (501, "5.5.4"),
            "FOO=bar": (555, "5.5.4"),
            "RET=FULL": (555, "5.5.4"),        # a MAIL parameter on RCPT is unknown there
        }
        for params, (code, esc) in cases.items():
            with self.subTest(params=params):
                expect(c.cmd("RCPT TO:<bob@example.test> " + params), code, esc)
        # none of them added a recipient
        r = c.cmd("DATA")
        self.assertIn(r.code, (503, 554), r)
        expect(c.cmd("RCPT TO:<bob@example.test> NOTIFY=SUCCESS,FAILURE,DELAY"), 250, "2.1.5")

    def test_notify_parameter_on_mail_is_unknown(self):
        c = self.conn(mail=False)
        expect(c.cmd("MAIL FROM:<alice@sender.test> NOTIFY=SUCCESS"), 555, "5.5.4")
        expect(c.cmd("MAIL FROM:<alice@sender.test> ORCPT=rfc822;x@y.test"), 555, "5.5.4")


if __name__ == "__main__":
    unittest.main()
