"""
t_12_relay_mx: remote delivery by MX (RFC 5321 5.1, RFC 7505), against a
dnsmasq serving .test and scripted SMTP peers on 127.0.0.2.. (one shared
smtp_port). A remote recipient from relay_networks goes to the best MX
(lowest preference), with EHLO <hostname>, MAIL FROM:<sender>, RCPT TO:<addr>
and the content = postino's Received header + the original bytes; a refused
MX (or one whose name has no address) fails over to the next; a domain with
no MX but an address is its own MX. NXDOMAIN and a domain without MX or
address fail with 5.1.2, a null MX with 5.1.10; a resolver that never
answers or answers SERVFAIL defers with 4.4.3.
Also checks the fixtures themselves (dnsmasq records, the scripted peer).
"""
import smtplib
import socket
import unittest

import lib
import peers
from peers import SENDER

BODY = (b"Hello.\r\n.leading dot\r\n..two dots\r\n.\r\nafter a lone dot\r\n"
        b"a long line " + b"x" * 900 + b"\r\nlast line\r\n")


class Fixtures(peers.RelayTestCase):
    """The test infrastructure on its own: no postino needed."""

    @classmethod
    def dns_records(cls, dns):
        dns.mx("best.test", "mx2.best.test", 20).mx("best.test", "mx1.best.test", 10)
        dns.a("mx1.best.test", "127.0.0.2").null_mx("nullmx.test").txt("exists.test", "x")

    def test_dnsmasq_records(self):
        rc, ans = self.dns.query("best.test", "MX")
        self.assertEqual(rc, peers.NOERROR)
        self.assertEqual(sorted(v for _, v in ans), [(10, "mx1.best.test"), (20, "mx2.best.test")])
        self.assertEqual(self.dns.query("mx1.best.test", "A"), (peers.NOERROR, [("A", "127.0.0.2")]))
        self.assertEqual(self.dns.query("mx1.best.test", "AAAA"), (peers.NOERROR, []))   # NODATA
        self.assertEqual(self.dns.query("nullmx.test", "MX"), (peers.NOERROR, [("MX", (0, ""))]))
        self.assertEqual(self.dns.query("exists.test", "MX"), (peers.NOERROR, []))
        self.assertEqual(self.dns.query("nosuch.test", "MX")[0], peers.NXDOMAIN)
        self.assertIn(("MX", "best.test"), self.dns.queries())

    def test_blackhole_dns(self):
        bh = self.blackhole()
        with self.assertRaises(socket.timeout):
            peers.dns_query(bh.port, "best.test", "MX", timeout=0.3)
        self.assertEqual(bh.count(), 1)
        sf = self.blackhole(rcode=peers.SERVFAIL)
        self.assertEqual(peers.dns_query(sf.port, "best.test", "MX"), (peers.SERVFAIL, []))

    def test_scripted_peer(self):
        p = self.peer("127.0.0.2", {"rcpt": {"b@r.test": "451 4.3.0 later",
                                             "c@r.test": "550 5.1.1 no such user"}})
        with smtplib.SMTP("127.0.0.2", self.port, local_hostname="me.test", timeout=5) as s:
            refused = s.sendmail("a@s.test", ["a@r.test", "b@r.test", "c@r.test"],
                                 b"Subject: x\r\n\r\n.dot\r\nbody\r\n", mail_options=["BODY=8BITMIME"])
        self.assertEqual(sorted(refused), ["b@r.test", "c@r.test"])
        [t] = p.wait_messages(1)
        self.assertEqual(t.sender, "a@s.test")
        self.assertEqual(t.mail_params["BODY"], "8BITMIME")
        self.assertEqual(t.accepted, ["a@r.test"])
        self.assertEqual(t.data, b"Subject: x\r\n\r\n.dot\r\nbody\r\n")
        [c] = p.wait_closed(1)
        self.assertEqual(c.ehlo, "me.test")
        self.assertEqual(c.closed_by, "quit")


class MxOrder(peers.RelayTestCase):

    @classmethod
    def dns_records(cls, dns):
        # declared worst first: the client must sort by preference
        dns.mx("best.test", "mx3.best.test", 30).mx("best.test", "mx2.best.test", 20)
        dns.mx("best.test", "mx1.best.test", 10)
        dns.a("mx1.best.test", "127.0.0.2").a("mx2.best.test", "127.0.0.3")
        dns.a("mx3.best.test", "127.0.0.4")
        # first MX has nothing listening (127.0.0.2 unused in that test)
        dns.mx("fail.test", "mx1.fail.test", 10).mx("fail.test", "mx2.fail.test", 20)
        dns.a("mx1.fail.test", "127.0.0.2").a("mx2.fail.test", "127.0.0.3")
        # first MX's name does not resolve
        dns.mx("dangling.test", "gone.dangling.test", 10).mx("dangling.test", "mx2.dangling.test", 20)
        dns.a("mx2.dangling.test", "127.0.0.3")
        # no MX, an address: implicit MX
        dns.a("implicit.test", "127.0.0.2")
        dns.null_mx("nullmx.test")
        dns.txt("exists.test", "no MX, no address")

    def test_best_mx_gets_the_mail_byte_for_byte(self):
        best = self.peer("127.0.0.2")
        second = self.peer("127.0.0.3")
        third = self.peer("127.0.0.4")
        srv = self.relay_server()
        msg = lib.make_message("t12 best mx", body=BODY, to="bob@best.test")
        qid, _ = self.send(srv, ["bob@best.test"], msg=msg)
        [t] = best.wait_messages(1)
        self.wait_queue_empty(srv)
        [conn] = [c for c in best.connections() if c.transactions]
        self.assertEqual(conn.ehlo, "mx.test")
        mail = [l for l in conn.commands() if l.upper().startswith("MAIL ")]
        rcpt = [l for l in conn.commands() if l.upper().startswith("RCPT ")]
        self.assertRegex(mail[0], r"(?i)^MAIL FROM:<alice@sender\.test>( |$)")
        self.assertRegex(rcpt[0], r"(?i)^RCPT TO:<bob@best\.test>( |$)")
        self.assertEqual(t.sender, SENDER)
        self.assertEqual(t.accepted, ["bob@best.test"])
        self.check_relayed_content(t.data, msg, qid)
        self.assertEqual(second.connection_count(), 0)
        self.assertEqual(third.connection_count(), 0)

    def test_failover_to_second_mx(self):
        second = self.peer("127.0.0.3")      # nothing listens on 127.0.0.2
        srv = self.relay_server()
        qid, msg = self.send(srv, ["carol@fail.test"], "t12 failover")
        [t] = second.wait_messages(1)
        self.assertEqual(t.accepted, ["carol@fail.test"])
        self.check_relayed_content(t.data, msg, qid)
        self.wait_queue_empty(srv)

    def test_mx_without_address_is_skipped(self):
        second = self.peer("127.0.0.3")
        srv = self.relay_server()
        self.send(srv, ["dave@dangling.test"], "t12 dangling")
        [t] = second.wait_messages(1)
        self.assertEqual(t.accepted, ["dave@dangling.test"])
        self.wait_queue_empty(srv)

    def test_implicit_mx(self):
        p = self.peer("127.0.0.2")
        srv = self.relay_server()
        qid, msg = self.send(srv, ["erin@implicit.test"], "t12 implicit")
        [t] = p.wait_messages(1)
        self.assertEqual(t.accepted, ["erin@implicit.test"])
        self.check_relayed_content(t.data, msg, qid)
        self.wait_queue_empty(srv)

    def permanent(self, address, code):
        srv = self.relay_server()
        self.send(srv, [address], "t12 " + code)
        lines = self.wait_log(srv, address, code)
        self.assertTrue(any("fail" in l.lower() for l in lines), lines)
        self.wait_queue_empty(srv)

    def test_nxdomain_fails_5_1_2(self):
        self.permanent("frank@nosuch.test", "5.1.2")

    def test_no_mx_no_address_fails_5_1_2(self):
        self.permanent("gina@exists.test", "5.1.2")

    def test_null_mx_fails_5_1_10(self):
        self.permanent("hank@nullmx.test", "5.1.10")


class DnsFailure(peers.RelayTestCase):

    def test_dns_timeout_defers_4_4_3(self):
        bh = self.blackhole()
        p = self.peer("127.0.0.2")
        srv = self.relay_server(dns=bh)
        self.send(srv, ["ivan@best.test"], "t12 dns timeout")
        # however long the resolver's own timeouts and retries: bounded here
        r = self.wait_status(srv, "ivan@best.test", "deferred", timeout=40)
        self.assertIn("4.4.3", r["last_reply"])
        self.assertIsNotNone(r["next_attempt"])
        self.assertGreaterEqual(bh.count(), 1)
        self.assertEqual(p.connection_count(), 0)

    def test_servfail_defers_4_4_3(self):
        sf = self.blackhole(rcode=peers.SERVFAIL)
        srv = self.relay_server(dns=sf)
        self.send(srv, ["judy@best.test"], "t12 servfail")
        r = self.wait_status(srv, "judy@best.test", "deferred", timeout=15)
        self.assertIn("4.4.3", r["last_reply"])
        self.assertGreaterEqual(sf.count(), 1)


if __name__ == "__main__":
    unittest.main()
