"""
t_17_relay_tls: opportunistic STARTTLS on the way out (RFC 3207). A peer
offering STARTTLS with a throwaway self-signed certificate gets the
transaction over TLS (EHLO again after the handshake, nothing sent in the
clear after STARTTLS) and delivery succeeds although the certificate cannot
be verified; a peer answering 454 to STARTTLS still gets the mail in the clear.
Postino itself has no tls_cert here: outbound TLS does not need one.
"""
import unittest

import peers


class OutboundTls(peers.RelayTestCase):

    @classmethod
    def dns_records(cls, dns):
        dns.mx("r.test", "mx.r.test", 10).a("mx.r.test", "127.0.0.2")

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        try:
            # in the dnsmasq's temp dir, removed with it
            cls.cert, cls.key = peers.make_cert(cls.dns.tmp, cn="mx.r.test")
        except BaseException:
            cls.tearDownClass()
            raise

    def test_starttls_to_aiosmtpd(self):
        a = self.aiosmtpd_peer("127.0.0.2", cert=self.cert, key=self.key)
        srv = self.relay_server()
        qid, msg = self.send(srv, ["tls@r.test"], "t17 aiosmtpd")
        [m] = a.wait_messages(1)
        self.assertTrue(m["tls"], m)
        self.assertEqual(m["sender"], peers.SENDER)
        self.assertEqual(m["rcpts"], ["tls@r.test"])
        self.check_relayed_content(m["data"], msg, qid)
        sessions = a.sessions()
        self.assertEqual([s["tls"] for s in sessions[:2]], [False, True], sessions)
        self.wait_queue_empty(srv)

    def test_starttls_to_scripted_peer(self):
        p = self.peer("127.0.0.2", cert=self.cert, key=self.key)
        srv = self.relay_server()
        qid, msg = self.send(srv, ["tls2@r.test"], "t17 scripted")
        [t] = p.wait_messages(1)
        self.assertTrue(t.tls)
        self.check_relayed_content(t.data, msg, qid)
        [c] = [c for c in p.connections() if c.transactions]
        self.assertTrue(c.tls)
        self.assertIsNone(c.tls_error)
        verbs = [l.split()[0].upper() for l in c.commands()]
        self.assertEqual(verbs[:4], ["EHLO", "STARTTLS", "EHLO", "MAIL"], c.commands())
        self.wait_queue_empty(srv)

    def test_starttls_refused_454_goes_on_in_the_clear(self):
        p = self.peer("127.0.0.2", {"starttls": "454 4.7.0 TLS not available now"},
                      cert=self.cert, key=self.key)
        srv = self.relay_server()
        qid, msg = self.send(srv, ["clear@r.test"], "t17 454")
        [t] = p.wait_messages(1, timeout=15)
        self.assertFalse(t.tls)
        self.check_relayed_content(t.data, msg, qid)
        self.wait_queue_empty(srv)


if __name__ == "__main__":
    unittest.main()
