"""
t_15_relay_timeouts: the client side timeouts of RFC 1123 5.3.1.4 /
RFC 5321 4.5.3.2, each in its own phase: a peer that never greets
(timeout_greeting), never answers RCPT (timeout_rcpt), never answers after
the final dot (timeout_data_end) makes the recipient deferred within about
the configured second (the other timeouts are 5 s, so the phase's own
timeout must be the one used), with a last_reply naming a timeout (4.4.2);
postino closes the connection. A connection dropped after MAIL also defers.
"""
import re
import unittest

import peers

TIMEOUTS = dict(timeout_greeting="1s", timeout_rcpt="1s", timeout_data_end="1s",
                retry_min="1m", retry_max="1h")


class Timeouts(peers.RelayTestCase):

    @classmethod
    def dns_records(cls, dns):
        dns.mx("r.test", "mx.r.test", 10).a("mx.r.test", "127.0.0.2")

    def deferred_by_timeout(self, plan, address):
        p = self.peer("127.0.0.2", plan)
        srv = self.relay_server(**TIMEOUTS)
        self.send(srv, [address], "t15 " + address)
        r = self.wait_status(srv, address, "deferred", timeout=8)
        self.assertTrue(re.search(r"4\.4\.2|time", r["last_reply"], re.I), r)
        # postino gave up on the connection itself, after ~1 s (not the 5 s of
        # another phase)
        [c] = p.wait_closed(1, timeout=5)[:1]
        self.assertEqual(c.closed_by, "client", c)
        self.assertLessEqual(c.t_close - c.t_connect, 4.0, c)
        return p, r

    def test_greeting_timeout(self):
        p, _ = self.deferred_by_timeout({"greeting": None}, "g@r.test")
        c = p.connections()[0]
        self.assertGreaterEqual(c.t_close - c.t_connect, 0.9)
        self.assertEqual([l for l in c.commands() if not l.upper().startswith("QUIT")], [])

    def test_rcpt_timeout(self):
        p, _ = self.deferred_by_timeout({"rcpt": None}, "r@r.test")
        self.assertEqual(p.messages(), [])

    def test_data_end_timeout(self):
        p, _ = self.deferred_by_timeout({"dot": None}, "d@r.test")
        [t] = p.transactions()
        self.assertIsNotNone(t.data)       # the whole message went out, no reply came
        self.assertIsNone(t.dot_reply)

    def test_connection_dropped_after_mail(self):
        p = self.peer("127.0.0.2", {"mail": peers.CLOSE})
        srv = self.relay_server(**TIMEOUTS)
        self.send(srv, ["drop@r.test"], "t15 drop")
        r = self.wait_status(srv, "drop@r.test", "deferred", timeout=8)
        self.assertTrue(r["last_reply"], r)
        self.assertTrue(r["last_reply"].startswith("4") or "4.4." in r["last_reply"], r)
        self.assertEqual(p.messages(), [])


if __name__ == "__main__":
    unittest.main()
