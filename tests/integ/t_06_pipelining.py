"""
t_06_pipelining: RFC 2920 command pipelining. Commands sent in one write
are answered one reply each, in order; a refused RCPT in the batch does not
disturb the others; the message and the commands after its final dot can
arrive in one write (the server keeps the rest of its input buffer).
"""
import unittest

import lib
from lib import expect


class Pipelining(lib.SharedServerTestCase):

    @classmethod
    def server_options(cls):
        return dict(users=["p1@example.test:{PLAIN}a", "p2@example.test:{PLAIN}b",
                           "p3@example.test:{PLAIN}c", "p4@example.test:{PLAIN}d",
                           "p5@example.test:{PLAIN}e"])

    def conn(self):
        c = self.raw(self.srv)
        r = c.ehlo()
        self.assertIn("PIPELINING", [l.upper() for l in r.lines[1:]])
        return c

    def test_batch_then_message(self):
        c = self.conn()
        c.send(b"MAIL FROM:<alice@sender.test>\r\n"
               b"RCPT TO:<p1@example.test>\r\n"
               b"RCPT TO:<nobody@example.test>\r\n"
               b"RCPT TO:<p2@example.test>\r\n"
               b"DATA\r\n")
        expect(c.reply(), 250, "2.1.0")
        expect(c.reply(), 250, "2.1.5")
        expect(c.reply(), 550, "5.1.1")
        expect(c.reply(), 250, "2.1.5")
        self.assertEqual(c.reply().code, 354)
        c.send(lib.make_message("t06 batch") + b".\r\nQUIT\r\n")
        qid = lib.queue_id_of(expect(c.reply(), 250, "2.0.0"))
        expect(c.reply(), 221, "2.0.0")
        c.expect_closed()
        for local in ("p1", "p2"):
            [raw] = self.srv.wait_mail(local)
            self.assertRegex(lib.split_message(raw)[0][1], r"\bid %s\b" % qid)
        self.assertEqual(self.srv.maildir("nobody"), [])

    def test_ehlo_in_batch(self):
        c = self.raw(self.srv)
        c.send(b"EHLO client.test\r\nMAIL FROM:<alice@sender.test>\r\nRCPT TO:<p3@example.test>\r\n"
               b"DATA\r\n")
        expect(c.reply(), 250, enhanced=False)   # EHLO
        expect(c.reply(), 250, "2.1.0")
        expect(c.reply(), 250, "2.1.5")
        self.assertEqual(c.reply().code, 354)
        c.send(b"Subject: t06 ehlo\r\n\r\nx\r\n.\r\n")
        expect(c.reply(), 250, "2.0.0")
        self.srv.wait_mail("p3")

    def test_two_transactions_back_to_back(self):
        c = self.conn()
        c.send(b"MAIL FROM:<alice@sender.test>\r\nRCPT TO:<p4@example.test>\r\nDATA\r\n")
        expect(c.reply(), 250, "2.1.0")
        expect(c.reply(), 250, "2.1.5")
        self.assertEqual(c.reply().code, 354)
        # first message, its end, and the whole next transaction in one write
        c.send(b"Subject: t06 first\r\n\r\none\r\n.\r\n"
               b"MAIL FROM:<alice@sender.test>\r\nRCPT TO:<p4@example.test>\r\nDATA\r\n")
        id1 = lib.queue_id_of(expect(c.reply(), 250, "2.0.0"))
        expect(c.reply(), 250, "2.1.0")
        expect(c.reply(), 250, "2.1.5")
        self.assertEqual(c.reply().code, 354)
        c.send(b"Subject: t06 second\r\n\r\ntwo\r\n.\r\nRSET\r\nNOOP\r\n")
        id2 = lib.queue_id_of(expect(c.reply(), 250, "2.0.0"))
        expect(c.reply(), 250, "2.0.0")
        expect(c.reply(), 250, "2.0.0")
        self.assertNotEqual(id1, id2)
        msgs = self.srv.wait_mail("p4", 2)
        self.assertEqual(sorted(lib.header_value(m, "Subject") for m in msgs),
                         ["t06 first", "t06 second"])

    def test_all_recipients_refused(self):
        c = self.conn()
        c.send(b"MAIL FROM:<alice@sender.test>\r\nRCPT TO:<nobody1@example.test>\r\n"
               b"RCPT TO:<nobody2@example.test>\r\nDATA\r\nNOOP\r\n")
        expect(c.reply(), 250, "2.1.0")
        expect(c.reply(), 550, "5.1.1")
        expect(c.reply(), 550, "5.1.1")
        r = c.reply()
        self.assertIn(r.code, (503, 554), "DATA without a valid recipient: %s" % r)
        expect(r, r.code, "5.5.1")
        expect(c.reply(), 250, "2.0.0")

    def test_many_commands_in_one_write(self):
        c = self.conn()
        n = 200
        c.send(b"".join(b"NOOP %d\r\n" % i for i in range(n)) + b"VRFY x\r\nHELP\r\n")
        for i in range(n):
            expect(c.reply(), 250, "2.0.0")
        expect(c.reply(), 252, "2.5.0")
        expect(c.reply(), 214, "2.0.0")

    def test_too_many_recipients_in_batch(self):
        c = self.conn()
        c.send(b"MAIL FROM:<alice@sender.test>\r\n"
               + b"".join(b"RCPT TO:<p%d@example.test>\r\n" % (i % 5 + 1) for i in range(5))
               + b"RCPT TO:<postmaster@example.test>\r\nRSET\r\n")
        expect(c.reply(), 250, "2.1.0")
        for i in range(5):
            expect(c.reply(), 250, "2.1.5")
        expect(c.reply(), 452, "4.5.3")
        expect(c.reply(), 250, "2.0.0")


if __name__ == "__main__":
    unittest.main()
