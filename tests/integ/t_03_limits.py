"""
t_03_limits: the size limits of RFC 5321 4.5.3.1 and the config's own:
command lines over 512 octets (500 5.5.2, session continues) except MAIL
up to 612 and RCPT up to 1012 (RFC 3461 4, room for the DSN parameters),
local part 64,
domain 255, max_recipients (452 4.5.3), SIZE= at MAIL and oversized data
(552 5.3.4, nothing stored), long text lines stored unchanged, and max_hops
(more Received headers than max_hops: 554 5.4.6).
"Nothing stored" is checked behind a barrier: a second, good message to the
same mailbox is sent afterwards and awaited, then the mailbox must hold only it.
"""
import unittest

import lib
from lib import expect

LIMIT = 100 * 1024


class Limits(lib.SharedServerTestCase):

    @classmethod
    def server_options(cls):  # max_message_size 100K, max_recipients 5, max_hops 50
        return dict()

    def conn(self):
        c = self.raw(self.srv)
        c.ehlo()
        return c

    def barrier(self, local, subject="barrier"):
        """Sends a good message to local@example.test and waits for it; returns
        the messages then in the mailbox (the rejected one must not be there)."""
        self.srv.send("alice@sender.test", [local + "@example.test"], lib.make_message(subject))
        lib.wait_for(lambda: any(lib.header_value(m, "Subject") == subject
                                 for m in lib.maildir_messages(self.srv.data, "example.test", local)),
                     what="the barrier message for " + local)
        return lib.maildir_messages(self.srv.data, "example.test", local)

    # -- command line length

    def test_line_512_ok_513_too_long(self):
        c = self.conn()
        line = "NOOP " + "x" * (512 - 2 - 5)
        self.assertEqual(len(line) + 2, 512)
        expect(c.cmd(line), 250, "2.0.0")
        expect(c.cmd(line + "y"), 500, "5.5.2")
        expect(c.cmd("NOOP"), 250, "2.0.0")

    def test_mail_line_612_ok_613_too_long(self):
        c = self.conn()
        head, envid = "MAIL FROM:<alice@sender.test> RET=HDRS", "ENVID=" + "e" * 100
        expect(c.cmd(lib.padded_command(head, envid, 613)), 500, "5.5.2")
        expect(c.cmd("NOOP"), 250, "2.0.0")                 # the session goes on
        expect(c.cmd(lib.padded_command(head, envid, 612)), 250, "2.1.0")
        # a value over its own limit in a line that fits: 501 5.5.4, not "too long"
        expect(c.cmd("RSET"), 250, "2.0.0")
        expect(c.cmd(lib.padded_command(head, envid + "e", 612)), 501, "5.5.4")

    def test_rcpt_line_1012_ok_1013_too_long(self):
        c = self.conn()
        expect(c.cmd("MAIL FROM:<alice@sender.test>"), 250, "2.1.0")
        head, orcpt = "RCPT TO:<bob@example.test> NOTIFY=SUCCESS", "ORCPT=rfc822;" + "o" * 493
        expect(c.cmd(lib.padded_command(head, orcpt, 1013)), 500, "5.5.2")
        expect(c.cmd("NOOP"), 250, "2.0.0")
        expect(c.cmd(lib.padded_command(head, orcpt, 1012)), 250, "2.1.5")
        expect(c.cmd(lib.padded_command(head, orcpt + "o", 1012)), 501, "5.5.4")
        # other commands keep the 512-octet limit
        expect(c.cmd(lib.padded_command("NOOP", "x", 513)), 500, "5.5.2")
        expect(c.cmd(lib.padded_command("RSET", "", 600)), 500, "5.5.2")

    def test_very_long_lines_one_reply_each(self):
        c = self.conn()
        for n in (600, 5000, 100000):
            expect(c.cmd("NOOP " + "z" * n), 500, "5.5.2")
            # exactly one reply per long line: the next command gets its own answer
            expect(c.cmd("NOOP"), 250, "2.0.0")
        expect(c.cmd("MAIL FROM:<" + "a" * 600 + "@sender.test>"), 500, "5.5.2")
        expect(c.cmd("MAIL FROM:<alice@sender.test>"), 250, "2.1.0")
        expect(c.cmd("RCPT TO:<bob@example.test>"), 250, "2.1.5")

    # -- address lengths

    def test_local_part_64_65(self):
        c = self.conn()
        expect(c.cmd("MAIL FROM:<%s@sender.test>" % ("s" * 64)), 250, "2.1.0")
        expect(c.cmd("RCPT TO:<%s@example.test>" % ("a" * 64)), 250, "2.1.5")
        expect(c.cmd("RCPT TO:<%s@example.test>" % ("a" * 65)), 501, "5.1.3")
        expect(c.cmd("RSET"), 250, "2.0.0")
        r = expect(c.cmd("MAIL FROM:<%s@sender.test>" % ("s" * 65)), 501)
        self.assertTrue(r.esc.startswith("5.1."), r)

    def test_local_part_64_delivered(self):
        local = "l" * 64
        self.srv.send("alice@sender.test", [local + "@example.test"], lib.make_message("t03 64"))
        [raw] = self.srv.wait_mail(local)
        self.assertEqual(lib.header_value(raw, "Subject"), "t03 64")

    @staticmethod
    def domain_of(n):
        """A syntactically valid domain of exactly n octets ending in .test."""
        want = n - len(".test")
        labels, used = [], 0
        while used < want:
            room = want - used - (1 if labels else 0)
            size = min(63, room)
            if room - size == 1:     # would leave room for a dot only
                size -= 1
            labels.append(chr(ord("a") + len(labels) % 26) * size)
            used += size + (1 if len(labels) > 1 else 0)
        d = ".".join(labels) + ".test"
        assert len(d) == n, (len(d), n)
        return d

    def test_domain_over_255(self):
        c = self.conn()
        long_domain = self.domain_of(256)
        r = expect(c.cmd("MAIL FROM:<a@%s>" % long_domain), 501)
        self.assertTrue(r.esc.startswith("5.1."), r)
        expect(c.cmd("MAIL FROM:<alice@sender.test>"), 250, "2.1.0")
        expect(c.cmd("RCPT TO:<a@%s>" % long_domain), 501, "5.1.3")
        expect(c.cmd("RCPT TO:<a@%s>" % self.domain_of(300)), 501, "5.1.3")
        # a long but valid domain (path stays under 256 octets) from the relay network
        expect(c.cmd("RCPT TO:<a@%s>" % self.domain_of(240)), 250, "2.1.5")

    # -- recipients

    def test_max_recipients(self):
        c = self.conn()
        expect(c.cmd("MAIL FROM:<alice@sender.test>"), 250, "2.1.0")
        for i in range(5):
            expect(c.cmd("RCPT TO:<max%d@example.test>" % i), 250, "2.1.5")
        expect(c.cmd("RCPT TO:<max5@example.test>"), 452, "4.5.3")
        expect(c.cmd("RCPT TO:<max6@example.test>"), 452, "4.5.3")
        expect(c.cmd("DATA"), 354)
        c.send(lib.make_message("t03 max") + b".\r\n")
        expect(c.reply(), 250, "2.0.0")
        for i in range(5):
            self.srv.wait_mail("max%d" % i)
        # the refused sixth recipient got nothing: only the barrier message is there
        msgs = self.barrier("max5", "t03 max barrier")
        self.assertEqual([lib.header_value(m, "Subject") for m in msgs], ["t03 max barrier"])

    # -- message size

    def test_size_parameter(self):
        c = self.conn()
        expect(c.cmd("MAIL FROM:<alice@sender.test> SIZE=%d" % (LIMIT + 1)), 552, "5.3.4")
        expect(c.cmd("MAIL FROM:<alice@sender.test> SIZE=999999999999"), 552, "5.3.4")
        expect(c.cmd("MAIL FROM:<alice@sender.test> SIZE=%d" % LIMIT), 250, "2.1.0")
        expect(c.cmd("RSET"), 250, "2.0.0")
        expect(c.cmd("MAIL FROM:<alice@sender.test> SIZE=1000"), 250, "2.1.0")
        expect(c.cmd("RCPT TO:<bob@example.test>"), 250, "2.1.5")

    def test_size_parameter_malformed(self):
        c = self.conn()
        for bad in ("SIZE=", "SIZE=abc", "SIZE=-1", "SIZE=1 SIZE=2"):
            expect(c.cmd("MAIL FROM:<alice@sender.test> " + bad), 501, "5.5.4")

    def test_oversized_data(self):
        c = self.conn()
        line = b"0123456789" * 99 + b"\r\n"   # 992 octets a line
        body = b"Subject: t03 big\r\n\r\n" + line * (LIMIT // len(line) + 50)
        self.assertGreater(len(body), LIMIT + 40000)
        r = c.transaction("alice@sender.test", ["big@example.test"], body)
        expect(r, 552, "5.3.4")
        # the session continues and the next message is fine
        r = c.transaction("alice@sender.test", ["big@example.test"],
                          lib.make_message("t03 after big"))
        expect(r, 250, "2.0.0")
        [raw] = self.srv.wait_mail("big")
        self.assertEqual(lib.header_value(raw, "Subject"), "t03 after big")
        self.assertEqual(len(self.srv.maildir("big")), 1)

    def test_long_line_stored_unchanged(self):
        srv = self.server(max_message_size="1M")
        line = bytes((ord("a") + i % 26) for i in range(100 * 1024))
        body = b"short\r\n" + line + b"\r\nend\r\n"
        srv.send("alice@sender.test", ["long@example.test"], lib.make_message("t03 long", body))
        [raw] = srv.wait_mail("long")
        self.assertEqual(raw.partition(b"\n\n")[2], body.replace(b"\r\n", b"\n"))

    # -- hops

    def received(self, n):
        return ["Received: from hop%d.test by hop%d.test; Mon, 24 Nov 2025 08:00:%02d +0000"
                % (i, i + 1, i % 60) for i in range(n)]

    def test_max_hops_loop(self):
        c = self.conn()
        msg = lib.make_message("t03 loop", extra_headers=self.received(51))
        r = c.transaction("alice@sender.test", ["hops@example.test"], msg)
        expect(r, 554, "5.4.6")
        msgs = self.barrier("hops", "t03 hops barrier")
        self.assertEqual(len(msgs), 1, "the looping message must not be delivered")

    def test_max_hops_limit_accepted(self):
        c = self.conn()
        msg = lib.make_message("t03 hops50", extra_headers=self.received(50))
        expect(c.transaction("alice@sender.test", ["hops50@example.test"], msg), 250, "2.0.0")
        [raw] = self.srv.wait_mail("hops50")
        self.assertEqual(lib.header_value(raw, "Subject"), "t03 hops50")

    def test_received_in_body_not_counted(self):
        body = "\r\n".join(self.received(60)) + "\r\n"
        c = self.conn()
        msg = lib.make_message("t03 body received", body)
        expect(c.transaction("alice@sender.test", ["hopsbody@example.test"], msg), 250, "2.0.0")
        self.srv.wait_mail("hopsbody")


if __name__ == "__main__":
    unittest.main()
