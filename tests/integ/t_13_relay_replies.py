"""
t_13_relay_replies: what the relay client says and how it reads the answers.
Per-recipient replies in one transaction (250 relayed, 451 deferred, 550
failed while the message stays queued); every recipient of a domain in ONE
transaction; PIPELINING used when offered (MAIL, RCPTs and DATA sent
without waiting) and not otherwise; 421 at the greeting defers, 5xx at the
greeting of every MX fails; a 4xx after the final dot defers; EHLO refused
-> HELO. RFC 3461 parameters passed on to a DSN peer (RET, ENVID, NOTIFY,
ORCPT, xtext as sent) and dropped for a peer without DSN; SIZE=n and
BODY=8BITMIME only when offered.
"""
import unittest

import lib
import peers
from peers import SENDER


def mail_lines(peer):
    return [l for l in peer.commands() if l.upper().startswith("MAIL ")]


def rcpt_lines(peer):
    return [l for l in peer.commands() if l.upper().startswith("RCPT ")]


class Replies(peers.RelayTestCase):

    @classmethod
    def dns_records(cls, dns):
        dns.mx("r.test", "mx.r.test", 10).a("mx.r.test", "127.0.0.2")
        dns.mx("two.test", "a.two.test", 10).mx("two.test", "b.two.test", 20)
        dns.a("a.two.test", "127.0.0.2").a("b.two.test", "127.0.0.3")

    def test_mixed_replies_per_recipient(self):
        p = self.peer("127.0.0.2", {"rcpt": {"later@r.test": "451 4.3.0 try later",
                                             "bad@r.test": "550 5.1.1 no such user"}})
        srv = self.relay_server(retry_min="1m", retry_max="1h")
        qid, msg = self.send(srv, ["ok@r.test", "later@r.test", "bad@r.test"], "t13 mixed")
        [t] = p.wait_messages(1)
        self.assertEqual(sorted(a for a, _, _ in t.rcpts), ["bad@r.test", "later@r.test", "ok@r.test"])
        self.assertEqual(t.accepted, ["ok@r.test"])
        self.check_relayed_content(t.data, msg, qid)
        later = self.wait_status(srv, "later@r.test", "deferred")
        self.assertIn("451", later["last_reply"])
        self.assertEqual(later["message"], qid)
        bad = self.wait_status(srv, "bad@r.test", "failed")
        self.assertIn("550 5.1.1", bad["last_reply"])
        self.assertEqual(bad["message"], qid)     # listed while the message waits for later@
        ok = self.rcpt(srv, "ok@r.test")
        if ok is not None:
            self.assertIn(ok["status"], ("relayed", "delivered"), ok)
        self.assertEqual(len(p.transactions()), 1)

    def test_one_transaction_per_domain(self):
        p = self.peer("127.0.0.2")
        srv = self.relay_server()
        rcpts = ["a@r.test", "b@r.test", "c@r.test"]
        qid, msg = self.send(srv, rcpts, "t13 one transaction")
        p.wait_messages(1)
        self.wait_queue_empty(srv)
        [t] = p.transactions()
        self.assertEqual(sorted(t.accepted), rcpts)
        self.check_relayed_content(t.data, msg, qid)
        self.assertEqual(len(mail_lines(p)), 1, p.connections())
        self.assertEqual(len(rcpt_lines(p)), 3, p.connections())

    def test_pipelining_when_offered(self):
        # the peer waits (up to 2 s) for the whole group before answering MAIL
        p = self.peer("127.0.0.2", {"pipeline_wait": 2.0})
        srv = self.relay_server()
        self.send(srv, ["a@r.test", "b@r.test", "c@r.test"], "t13 pipelining")
        p.wait_messages(1)
        [c] = [c for c in p.connections() if c.transactions]
        cmds = c.commands()
        i = [n for n, l in enumerate(cmds) if l.upper().startswith("MAIL ")][0]
        group = cmds[i:i + 5]
        self.assertEqual([l.split()[0].upper() for l in group], ["MAIL", "RCPT", "RCPT", "RCPT", "DATA"])
        seen = c.line_seen_after[i:i + 5]
        self.assertEqual(len(set(seen)), 1,
                         "MAIL, RCPTs and DATA not sent as one group: %r %r" % (group, seen))
        self.wait_queue_empty(srv)

    def test_no_pipelining_without_extension(self):
        p = self.peer("127.0.0.2", {"ehlo": ["SIZE 10000000", "8BITMIME", "DSN"],
                                    "pipeline_wait": 0.5})
        srv = self.relay_server()
        self.send(srv, ["a@r.test", "b@r.test"], "t13 no pipelining")
        p.wait_messages(1)
        [c] = [c for c in p.connections() if c.transactions]
        seen = c.line_seen_after
        self.assertEqual(seen, sorted(set(seen)),
                         "commands sent before the previous reply: %r %r" % (c.commands(), seen))
        self.wait_queue_empty(srv)

    def test_421_greeting_defers(self):
        p = self.peer("127.0.0.2", {"greeting": "421 4.3.2 too busy"})
        srv = self.relay_server(retry_min="1m", retry_max="1h")
        self.send(srv, ["kim@r.test"], "t13 421")
        r = self.wait_status(srv, "kim@r.test", "deferred")
        self.assertIn("421", r["last_reply"])
        self.assertGreaterEqual(p.connection_count(), 1)

    def test_5xx_greeting_from_every_mx_fails(self):
        a = self.peer("127.0.0.2", {"greeting": "554 5.3.2 no service"})
        self.peer("127.0.0.3", {"greeting": "554 5.3.2 no service"})
        srv = self.relay_server()
        self.send(srv, ["lee@two.test"], "t13 554")
        lines = self.wait_log(srv, "lee@two.test", "554")
        self.assertTrue(any("fail" in l.lower() for l in lines), lines)
        self.wait_queue_empty(srv)
        self.assertGreaterEqual(a.connection_count(), 1)
        self.assertEqual(a.transactions(), [])

    def test_4xx_after_final_dot_defers_every_recipient(self):
        p = self.peer("127.0.0.2", {"dot": "451 4.3.0 queue trouble"})
        srv = self.relay_server(retry_min="1m", retry_max="1h")
        self.send(srv, ["m1@r.test", "m2@r.test"], "t13 dot 451")
        for a in ("m1@r.test", "m2@r.test"):
            r = self.wait_status(srv, a, "deferred")
            self.assertIn("451", r["last_reply"])
        [t] = p.transactions()
        self.assertEqual(t.dot_reply, 451)

    def test_helo_when_ehlo_refused(self):
        p = self.peer("127.0.0.2", {"ehlo": "502 5.5.2 EHLO not here"})
        srv = self.relay_server()
        qid, msg = self.send(srv, ["old@r.test"], "t13 helo")
        [t] = p.wait_messages(1)
        cmds = [c for c in p.connections() if c.transactions][0].commands()
        self.assertTrue(any(l.upper() == "HELO MX.TEST" for l in cmds), cmds)
        self.assertRegex(mail_lines(p)[-1], r"(?i)^MAIL FROM:<alice@sender\.test>$")
        self.check_relayed_content(t.data, msg, qid)
        self.wait_queue_empty(srv)

    # RFC 3461 section 6

    def send_dsn(self, srv):
        msg = lib.make_message("t13 dsn", to="n1@r.test")
        with lib.smtp_client(srv.port) as s:
            s.ehlo()
            lib.expect_smtplib(s.mail(SENDER, ["RET=HDRS", "ENVID=abc+2Bdef"]), 250, "2.1.0")
            lib.expect_smtplib(s.rcpt("n1@r.test", ["NOTIFY=SUCCESS,FAILURE",
                                                    "ORCPT=rfc822;bob+2Bx@example.test"]), 250, "2.1.5")
            lib.expect_smtplib(s.rcpt("n2@r.test"), 250, "2.1.5")
            qid = lib.queue_id_of(lib.expect_smtplib(s.data(msg), 250, "2.0.0"))
        return qid, msg

    def test_dsn_parameters_passed_on(self):
        p = self.peer("127.0.0.2")          # offers DSN
        srv = self.relay_server()
        qid, msg = self.send_dsn(srv)
        [t] = p.wait_messages(1)
        self.assertEqual(t.mail_params.get("RET", "").upper(), "HDRS", t.mail_arg)
        self.assertEqual(t.mail_params.get("ENVID"), "abc+2Bdef", t.mail_arg)
        n1 = t.rcpt_params("n1@r.test")
        self.assertEqual(sorted((n1.get("NOTIFY") or "").upper().split(",")), ["FAILURE", "SUCCESS"])
        addr_type, _, xtext = (n1.get("ORCPT") or "").partition(";")
        self.assertEqual(addr_type.lower(), "rfc822", n1)
        self.assertEqual(xtext, "bob+2Bx@example.test")
        n2 = t.rcpt_params("n2@r.test")
        self.assertNotIn("NOTIFY", n2)
        if "ORCPT" in n2:       # RFC 3461 6.1 allows adding one from the RCPT address
            self.assertEqual(n2["ORCPT"].lower(), "rfc822;n2@r.test")
        self.check_relayed_content(t.data, msg, qid)
        self.wait_queue_empty(srv)

    def test_dsn_parameters_dropped_without_dsn(self):
        p = self.peer("127.0.0.2", {"ehlo": peers.EHLO_NO_DSN})
        srv = self.relay_server()
        qid, msg = self.send_dsn(srv)
        [t] = p.wait_messages(1)
        self.assertEqual(sorted(t.accepted), ["n1@r.test", "n2@r.test"])
        for line in mail_lines(p) + rcpt_lines(p):
            for param in ("RET=", "ENVID=", "NOTIFY=", "ORCPT="):
                self.assertNotIn(param, line.upper())
        self.check_relayed_content(t.data, msg, qid)

    # SIZE and 8BITMIME (RFC 1870, RFC 6152)

    def test_size_and_8bitmime_when_offered(self):
        p = self.peer("127.0.0.2")
        srv = self.relay_server()
        msg = lib.make_message("t13 8bit", body="Gr\u00fc\u00dfe aus K\u00f6ln.\r\n", to="u8@r.test")
        qid, _ = self.send(srv, ["u8@r.test"], msg=msg, mail_options=["BODY=8BITMIME"])
        [t] = p.wait_messages(1)
        self.assertEqual(t.mail_params.get("BODY", "").upper(), "8BITMIME", t.mail_arg)
        size = int(t.mail_params["SIZE"])
        self.assertGreaterEqual(size, len(msg))
        self.assertLessEqual(size, len(t.data) + 1024)
        self.check_relayed_content(t.data, msg, qid)

    def test_seven_bit_message_has_no_body_8bitmime(self):
        p = self.peer("127.0.0.2")
        srv = self.relay_server()
        self.send(srv, ["u7@r.test"], "t13 7bit")
        [t] = p.wait_messages(1)
        self.assertIn(t.mail_params.get("BODY", "7BIT").upper(), ("7BIT",), t.mail_arg)
        self.assertIn("SIZE", t.mail_params)

    def test_no_parameters_to_a_peer_without_extensions(self):
        p = self.peer("127.0.0.2", {"ehlo": peers.EHLO_BARE})
        srv = self.relay_server()
        qid, msg = self.send(srv, ["plain@r.test"], "t13 bare")
        [t] = p.wait_messages(1)
        self.assertRegex(mail_lines(p)[-1], r"(?i)^MAIL FROM:<alice@sender\.test>$")
        self.assertRegex(rcpt_lines(p)[-1], r"(?i)^RCPT TO:<plain@r\.test>$")
        self.check_relayed_content(t.data, msg, qid)
        self.wait_queue_empty(srv)


if __name__ == "__main__":
    unittest.main()
