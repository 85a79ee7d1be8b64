"""
t_16_relay_routes: next hops other than the recipient domain's MX.
relayhost [ADDR]:PORT takes all remote mail with no DNS lookup at all (the
resolver is a black hole that counts queries); a route for a domain wins
over the relayhost; a backup MX (relay_domains, no route) accepts mail for
its domain from anyone, holds it while the better MX is down, delivers it
once that MX is up, and never connects to itself; a chain of two postinos
(a gateway with relay_domains + route, an inner server with the mailboxes)
delivers into the inner Maildir with both Received headers.
"""
import unittest

import lib
import peers
from peers import OUTSIDE_IP, SENDER


class Routes(peers.RelayTestCase):

    @classmethod
    def dns_records(cls, dns):
        dns.mx("backup.test", "primary.test", 10).mx("backup.test", "mx.test", 20)
        dns.a("primary.test", "127.0.0.2").a("mx.test", "127.0.0.1")

    def accepted_everywhere(self, peer):
        return sorted(a for t in peer.messages() for a in t.accepted)

    def test_relayhost_takes_everything_without_dns(self):
        bh = self.blackhole()
        p = self.peer("127.0.0.2")
        srv = self.relay_server(dns=bh, relayhost="[127.0.0.2]:%d" % self.port)
        qid, msg = self.send(srv, ["a@far.test", "b@other.example"], "t16 relayhost")
        lib.wait_for(lambda: self.accepted_everywhere(p) == ["a@far.test", "b@other.example"],
                     what=lambda: "both recipients at the relayhost: %r" % p.connections())
        for t in p.messages():
            self.check_relayed_content(t.data, msg, qid)
        self.wait_queue_empty(srv)
        self.assertEqual(bh.count(), 0, "DNS queries were made: %r" % bh.queries())

    def test_route_wins_over_relayhost(self):
        relayhost = self.peer("127.0.0.2")
        inner = self.peer("127.0.0.3")
        bh = self.blackhole()
        srv = self.relay_server(dns=bh, relayhost="[127.0.0.2]:%d" % self.port,
                                route="inner.test [127.0.0.3]:%d" % self.port)
        self.send(srv, ["x@inner.test", "y@far.test"], "t16 route")
        inner.wait_messages(1)
        relayhost.wait_messages(1)
        self.wait_queue_empty(srv)
        self.assertEqual(self.accepted_everywhere(inner), ["x@inner.test"])
        self.assertEqual(self.accepted_everywhere(relayhost), ["y@far.test"])
        self.assertEqual(bh.count(), 0, bh.queries())

    def test_backup_mx_holds_then_delivers_never_to_itself(self):
        # postino listens on 127.0.0.1:P, mx.test (itself, MX 20) resolves to
        # 127.0.0.1 and smtp_port is P: a delivery to itself would succeed, so
        # only the "never to itself" rule keeps it away
        srv = self.relay_server(start=False, relay_domains="backup.test",
                                retry_min="1s", retry_max="2s")
        srv.port = self.port
        srv.write_config()
        srv.start()
        own = len(self.log_lines(srv, "connect from 127.0.0.1"))    # the readiness probe
        qid, msg = self.send(srv, ["anyone@backup.test"], "t16 backup", source=OUTSIDE_IP)
        r = self.wait_status(srv, "anyone@backup.test", "deferred")
        self.assertTrue(r["last_reply"].startswith("4") or "4." in r["last_reply"], r)
        # the primary comes up: the next retry delivers there
        p = self.peer("127.0.0.2")
        [t] = p.wait_messages(1, timeout=15)
        self.assertEqual(t.accepted, ["anyone@backup.test"])
        self.check_relayed_content(t.data, msg, qid, checked=True)
        received = [h for h in peers.unfold_headers(t.data) if h.lower().startswith("received:")]
        self.assertEqual(len(received), 1, received)
        self.wait_queue_empty(srv)
        self.assertEqual(len(self.log_lines(srv, "connect from 127.0.0.1")), own,
                         "postino connected to itself:\n" + srv.log_tail())
        self.assertEqual(lib.all_maildir_files(srv.data), [])

    def test_chain_gateway_to_inner_server(self):
        inner = self.server(hostname="mailbox.test", local_domains="inner.test",
                            extra=["listen smtp 127.0.0.3:%d" % self.port])
        gw = self.relay_server(relay_domains="inner.test",
                               route="inner.test [127.0.0.3]:%d" % self.port)
        qid, msg = self.send(gw, ["user@inner.test"], "t16 chain", source=OUTSIDE_IP)
        [stored] = lib.wait_maildir_count(inner.data, "inner.test", "user", 1)
        headers, body = lib.split_message(stored)
        self.assertEqual(headers[0], "Return-Path: <%s>" % SENDER)
        received = [h for h in headers if h.lower().startswith("received:")]
        self.assertEqual(len(received), 2, received)
        self.assertIn("by mailbox.test", received[0])
        self.assertIn("by mx.test", received[1])
        self.assertRegex(received[1], r"\bid %s\b" % qid)
        _, orig_body = lib.split_message(msg.replace(b"\r\n", b"\n"))
        self.assertEqual(body, orig_body)
        self.assertIn("Subject: t16 chain", headers)
        self.wait_queue_empty(gw)
        self.wait_queue_empty(inner)


if __name__ == "__main__":
    unittest.main()
