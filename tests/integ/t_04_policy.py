"""
t_04_policy: who may send what to whom. Unknown users of a local domain
(550 5.1.1 with a users file; anything goes without one; postmaster always),
relay control by client address (relay_networks 127.0.0.1/32: a client bound
to 127.0.0.9 is a stranger and gets 554 5.7.1 for remote domains), and the
old relay tricks that must not open the relay: source routes
(<@a.test:user@other.test> is really user@other.test) and the %-hack
(user%other.test@localhost is a local part of a local domain).
Relayed mail stays queued: a relayhost on a closed local port makes every
attempt a temporary failure, now and once remote delivery exists.
"""
import unittest

import lib
from lib import expect

STRANGER = "127.0.0.9"


def closed_relayhost():
    return "[127.0.0.1]:%d" % lib.free_port()


class WithUsers(lib.SharedServerTestCase):

    @classmethod
    def server_options(cls):
        return dict(users=["bob@example.test:{PLAIN}secret",
                           "alice@localhost:{PLAIN}other"],
                    aliases=["team@example.test: bob@example.test, alice@localhost"],
                    relayhost=closed_relayhost())

    def conn(self, source=None):
        c = self.raw(self.srv, source=source)
        c.ehlo()
        expect(c.cmd("MAIL FROM:<carol@sender.test>"), 250, "2.1.0")
        return c

    def test_unknown_user(self):
        c = self.conn()
        expect(c.cmd("RCPT TO:<nobody@example.test>"), 550, "5.1.1")
        expect(c.cmd("RCPT TO:<nobody@localhost>"), 550, "5.1.1")
        expect(c.cmd("RCPT TO:<bob@localhost>"), 550, "5.1.1")     # bob is a user of example.test only
        expect(c.cmd("RCPT TO:<bob@example.test>"), 250, "2.1.5")

    def test_known_users_any_case(self):
        c = self.conn(STRANGER)
        expect(c.cmd("RCPT TO:<bob@example.test>"), 250, "2.1.5")
        expect(c.cmd("RCPT TO:<BOB@Example.TEST>"), 250, "2.1.5")
        expect(c.cmd("RCPT TO:<alice@LOCALHOST>"), 250, "2.1.5")

    def test_alias_is_valid(self):
        c = self.conn(STRANGER)
        expect(c.cmd("RCPT TO:<team@example.test>"), 250, "2.1.5")

    def test_postmaster_always(self):
        c = self.conn(STRANGER)
        expect(c.cmd("RCPT TO:<postmaster@example.test>"), 250, "2.1.5")
        expect(c.cmd("RCPT TO:<PostMaster@localhost>"), 250, "2.1.5")
        expect(c.cmd("RCPT TO:<Postmaster>"), 250, "2.1.5")   # RFC 5321 4.1.1.3

    def test_percent_hack_is_local_part(self):
        # with a users file "user%other.test" is simply an unknown local user
        c = self.conn(STRANGER)
        expect(c.cmd("RCPT TO:<user%other.test@localhost>"), 550, "5.1.1")
        expect(c.cmd("RCPT TO:<bob%other.test@example.test>"), 550, "5.1.1")

    def test_unknown_user_nothing_queued(self):
        c = self.conn()
        expect(c.cmd("RCPT TO:<nobody@example.test>"), 550, "5.1.1")
        # no valid recipient: RFC 5321 3.3 allows 503 or 554 here
        r = c.cmd("DATA")
        self.assertIn(r.code, (503, 554), r)
        expect(r, r.code, "5.5.1")
        expect(c.cmd("NOOP"), 250, "2.0.0")


class Relay(lib.SharedServerTestCase):
    """No users file; relay_networks 127.0.0.1/32."""

    @classmethod
    def server_options(cls):
        return dict(relayhost=closed_relayhost())

    def conn(self, source=None):
        c = self.raw(self.srv, source=source)
        c.ehlo()
        expect(c.cmd("MAIL FROM:<carol@sender.test>"), 250, "2.1.0")
        return c

    def test_any_local_part_without_users_file(self):
        c = self.conn(STRANGER)
        expect(c.cmd("RCPT TO:<whoever@example.test>"), 250, "2.1.5")
        expect(c.cmd("RCPT TO:<Someone.Else@localhost>"), 250, "2.1.5")

    def test_relay_denied_for_stranger(self):
        c = self.conn(STRANGER)
        expect(c.cmd("RCPT TO:<user@other.test>"), 554, "5.7.1")
        expect(c.cmd("RCPT TO:<user@OTHER.test>"), 554, "5.7.1")
        expect(c.cmd("RCPT TO:<user@[192.0.2.1]>"), 554, "5.7.1")
        expect(c.cmd("RCPT TO:<user@mx.test>"), 554, "5.7.1")   # our hostname is not a local domain
        # a local recipient is still fine in the same transaction
        expect(c.cmd("RCPT TO:<bob@example.test>"), 250, "2.1.5")

    def test_relay_denied_smtplib_source_address(self):
        with lib.smtp_client(self.srv.port, source=STRANGER) as s:
            s.ehlo()
            lib.expect_smtplib(s.mail("carol@sender.test"), 250, "2.1.0")
            lib.expect_smtplib(s.rcpt("user@other.test"), 554, "5.7.1")

    def test_source_route_does_not_relay(self):
        c = self.conn(STRANGER)
        expect(c.cmd("RCPT TO:<@a.test:user@other.test>"), 554, "5.7.1")
        expect(c.cmd("RCPT TO:<@localhost:user@other.test>"), 554, "5.7.1")
        expect(c.cmd("RCPT TO:<@example.test,@localhost:user@other.test>"), 554, "5.7.1")

    def test_source_route_to_local_is_local(self):
        c = self.conn(STRANGER)
        expect(c.cmd("RCPT TO:<@other.test:routed@example.test>"), 250, "2.1.5")
        expect(c.cmd("DATA"), 354)
        c.send(lib.make_message("t04 routed") + b".\r\n")
        expect(c.reply(), 250, "2.0.0")
        [raw] = self.srv.wait_mail("routed")
        self.assertEqual(lib.header_value(raw, "Subject"), "t04 routed")

    def test_percent_hack_delivered_locally(self):
        c = self.conn(STRANGER)
        expect(c.cmd("RCPT TO:<user%other.test@localhost>"), 250, "2.1.5")
        expect(c.cmd("DATA"), 354)
        c.send(lib.make_message("t04 percent") + b".\r\n")
        qid = lib.queue_id_of(expect(c.reply(), 250, "2.0.0"))
        [raw] = self.srv.wait_mail("user%other.test", domain="localhost")
        self.assertEqual(lib.header_value(raw, "Subject"), "t04 percent")
        # and nothing of it waits for a remote host
        lib.wait_for(lambda: not any(m["id"] == qid for m in self.srv.queue()),
                     what="the %-hack message to leave the queue")

    def test_relay_allowed_from_relay_network(self):
        c = self.conn()
        expect(c.cmd("RCPT TO:<user@remote.test>"), 250, "2.1.5")
        expect(c.cmd("DATA"), 354)
        c.send(lib.make_message("t04 relayed", to="user@remote.test") + b".\r\n")
        qid = lib.queue_id_of(expect(c.reply(), 250, "2.0.0"))
        msgs = [m for m in self.srv.queue() if m["id"] == qid]
        self.assertEqual(len(msgs), 1, "relayed message not listed in the queue")
        [rcpt] = msgs[0]["recipients"]
        self.assertEqual(rcpt["address"], "user@remote.test")
        self.assertIn(rcpt["status"], ("deferred", "pending"))
        self.assertEqual(msgs[0]["sender"], "carol@sender.test")


if __name__ == "__main__":
    unittest.main()
