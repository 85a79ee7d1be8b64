"""
t_18_relay_nonblocking: one slow destination holds up nothing else. With a
peer that never answers RCPT (timeout_rcpt 30s) in the middle of a delivery,
20 more messages to local users are each accepted (250) within a second and
delivered to their Maildir, and mail for another remote destination is
relayed at once; SIGTERM still stops the server cleanly (the cleanup).
"""
import time
import unittest

import lib
import peers
from peers import SENDER


class NonBlocking(peers.RelayTestCase):

    @classmethod
    def dns_records(cls, dns):
        dns.mx("slow.test", "mx.slow.test", 10).a("mx.slow.test", "127.0.0.2")
        dns.mx("fast.test", "mx.fast.test", 10).a("mx.fast.test", "127.0.0.3")

    def test_accepting_stays_fast_while_a_destination_hangs(self):
        slow = self.peer("127.0.0.2", {"rcpt": None})
        fast = self.peer("127.0.0.3")
        srv = self.relay_server(timeout_rcpt="30s", retry_min="1m", retry_max="1h")
        self.send(srv, ["stuck@slow.test"], "t18 stuck")
        slow.wait_command("RCPT")
        times = []
        for i in range(20):
            t0 = time.monotonic()
            lib.send_message(srv.port, SENDER, ["bob@example.test"],
                             lib.make_message("t18 local %d" % i))
            times.append(time.monotonic() - t0)
        self.assertLess(max(times), 1.0, "slowest accept %.2fs: %r" % (max(times), times))
        srv.wait_mail("bob", 20)
        qid, msg = self.send(srv, ["quick@fast.test"], "t18 fast")
        [t] = fast.wait_messages(1, timeout=5)
        self.check_relayed_content(t.data, msg, qid)
        # still hanging at RCPT: nothing was decided for it
        r = self.rcpt(srv, "stuck@slow.test")
        self.assertIsNotNone(r)
        self.assertNotEqual(r["status"], "failed", r)
        self.assertEqual(slow.messages(), [])


if __name__ == "__main__":
    unittest.main()
