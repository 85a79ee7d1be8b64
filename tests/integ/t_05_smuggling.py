"""
t_05_smuggling: SMTP smuggling (CVE-2023-51764 and kin). Only CRLF.CRLF ends
the DATA phase; a bare LF or bare CR anywhere in the data, or look-alike
endings such as LF.LF, CR.LF, LF.CRLF, CRLF.LF, CR.CRLF, CRLF.CR, never end
the message, and a message that holds them is refused after the real end
with 550 5.5.2, nothing delivered, and nothing of it read as commands.

Each attack hides a second transaction (MAIL/RCPT/DATA to a victim) behind a
fake ending, all in one write, and checks: the one reply after the real end
is 550 5.5.2; the next command gets its own reply (the session goes on);
behind a barrier (good messages to the same two mailboxes, awaited) both
mailboxes hold only the barrier messages. Raw sockets throughout.
"""
import unittest

import lib
from lib import expect

FAKE_ENDINGS = {
    "lf_dot_lf": b"\n.\n",
    "lf_dot_crlf": b"\n.\r\n",
    "cr_dot_lf": b"\r.\n",
    "cr_dot_cr": b"\r.\r",
    "cr_dot_crlf": b"\r.\r\n",
    "crlf_dot_lf": b"\r\n.\n",
    "crlf_dot_cr": b"\r\n.\r",
    "lf_lf_dot_lf": b"\n\n.\n",
    "crlf_lf_dot_crlf": b"\r\n\n.\r\n",
}


class Smuggling(lib.SharedServerTestCase):

    @classmethod
    def server_options(cls):
        return dict()

    def outer(self, tag, rcpt):
        return ("From: <alice@sender.test>\r\nTo: <%s>\r\nSubject: t05 outer %s\r\n\r\n"
                "outer body\r\nline1" % (rcpt, tag)).encode()

    def smuggled(self, tag, victim):
        return ("MAIL FROM:<evil@attacker.test>\r\nRCPT TO:<%s>\r\nDATA\r\n"
                "From: <ceo@example.test>\r\nSubject: t05 smuggled %s\r\n\r\nsmuggled\r\n"
                % (victim, tag)).encode()

    def open_data(self, rcpt):
        c = self.raw(self.srv)
        c.ehlo()
        expect(c.cmd("MAIL FROM:<alice@sender.test>"), 250, "2.1.0")
        expect(c.cmd("RCPT TO:<%s>" % rcpt), 250, "2.1.5")
        expect(c.cmd("DATA"), 354)
        return c

    def refused(self, c):
        """The reply after the real end is 550 5.5.2 and nothing else follows it."""
        expect(c.reply(), 550, "5.5.2")
        expect(c.cmd("NOOP"), 250, "2.0.0")   # the session goes on

    def barrier(self, *locals_):
        """Good messages to each mailbox, awaited; then each must hold only that one."""
        lib.mailbox_barrier(self.srv, "t05", locals_)

    def attack(self, tag, ending, bytewise=False):
        rcpt, victim = "o_%s@example.test" % tag, "v_%s@example.test" % tag
        c = self.open_data(rcpt)
        head = self.outer(tag, rcpt)
        tail = self.smuggled(tag, victim) + b".\r\n"
        if bytewise:
            c.send(head)
            for b in ending:
                c.send(bytes([b]))
            c.send(tail)
        else:
            c.send(head + ending + tail)
        self.refused(c)
        self.barrier("o_" + tag, "v_" + tag)

    # -- bare LF / CR anywhere

    def test_bare_lf_in_body(self):
        c = self.open_data("o_barelf@example.test")
        c.send(b"Subject: t05 bare lf\r\n\r\nline1\nline2\r\n.\r\n")
        self.refused(c)
        self.barrier("o_barelf")

    def test_bare_cr_in_body(self):
        c = self.open_data("o_barecr@example.test")
        c.send(b"Subject: t05 bare cr\r\n\r\nline1\rline2\r\n.\r\n")
        self.refused(c)
        self.barrier("o_barecr")

    def test_bare_lf_in_header(self):
        c = self.open_data("o_hdrlf@example.test")
        c.send(b"Subject: t05 header\nX-Injected: yes\r\n\r\nbody\r\n.\r\n")
        self.refused(c)
        self.barrier("o_hdrlf")

    def test_bare_lf_at_end_of_data(self):
        # "line\n" then the real ending: the LF before ".\r\n" is bare
        c = self.open_data("o_lfend@example.test")
        c.send(b"Subject: t05 lf end\r\n\r\nline\n\r\n.\r\n")
        self.refused(c)
        self.barrier("o_lfend")

    # -- a clean message with the same shape goes through

    def test_control_clean_message(self):
        c = self.open_data("o_clean@example.test")
        c.send(b"Subject: t05 clean\r\n\r\nline1\r\n..\r\n.x\r\nMAIL FROM:<a@b.test>\r\n.\r\n")
        expect(c.reply(), 250, "2.0.0")
        expect(c.cmd("NOOP"), 250, "2.0.0")
        [raw] = self.srv.wait_mail("o_clean")
        self.assertTrue(raw.endswith(b"\n\nline1\n.\nx\nMAIL FROM:<a@b.test>\n"), raw)

    def test_session_usable_after_refusal(self):
        c = self.open_data("o_after@example.test")
        c.send(self.outer("after", "o_after@example.test") + b"\n.\n" + b"more\r\n.\r\n")
        expect(c.reply(), 550, "5.5.2")
        expect(c.cmd("MAIL FROM:<alice@sender.test>"), 250, "2.1.0")
        expect(c.cmd("RCPT TO:<o_after@example.test>"), 250, "2.1.5")
        expect(c.cmd("DATA"), 354)
        c.send(b"Subject: t05 after ok\r\n\r\nfine\r\n.\r\n")
        expect(c.reply(), 250, "2.0.0")
        [raw] = self.srv.wait_mail("o_after")
        self.assertEqual(lib.header_value(raw, "Subject"), "t05 after ok")


def _make(tag, ending, bytewise):
    def test(self):
        self.attack(tag + ("_bytewise" if bytewise else ""), ending, bytewise)
    test.__doc__ = "fake ending %r%s" % (ending, " sent byte by byte" if bytewise else "")
    return test


for _tag, _ending in FAKE_ENDINGS.items():
    setattr(Smuggling, "test_fake_end_" + _tag, _make(_tag, _ending, False))
    setattr(Smuggling, "test_fake_end_" + _tag + "_bytewise", _make(_tag, _ending, True))


if __name__ == "__main__":
    unittest.main()
