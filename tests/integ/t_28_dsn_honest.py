"""
t_28_dsn_honest: notices say only what happened and return only what they
may (RFC 3464 2.3.5 / 2.3.6, RFC 3461 4.3, DSN.md 4).
- A message larger than the next hop's advertised SIZE (RFC 1870) is not sent:
  postino decides that itself, so the failure notice has Status 5.3.4, names
  the hop (Remote-MTA: it was involved) but carries no "Diagnostic-Code:
  smtp;" (the server said nothing), and the text names the advertised limit
  without claiming the server answered.
- Reflection: with MAIL ... RET=FULL, a delivered, a relayed (next hop
  without DSN), an expanded and a delayed notice each return the header
  section only (text/rfc822-headers, the body absent); a failure notice of the
  same message still returns it whole.
- The human-readable part is postino's own: it names this host, quotes a
  remote server's answer as that server's, and uses none of Postfix's
  sentences ("This is the mail system at host ...") that bounce parsers take
  for a Postfix notice.
"""
import re
import unittest

import lib
import peers
from peers import LOCAL_SENDER

MARKER = b"REFLECTED-BODY-7f3a9c"
BODY = b"Hello victim.\r\n" + MARKER + b"\r\n"
ALIASES = ["list@example.test: bob@example.test, carol@example.test"]


class Honest(peers.DsnTestCase):

    @classmethod
    def dns_records(cls, dns):
        dns.mx("r.test", "mx.r.test", 10).a("mx.r.test", "127.0.0.2")

    def check_own_words(self, n):
        """The text part is postino's, not Postfix's template."""
        self.assertNotIn("This is the mail system", n.text)
        self.assertNotIn("mail system", n.text)
        for line in n.text.splitlines():   # Sisimai's Postfix markers, line by line
            self.assertFalse(re.search(r"The .*(mail system|program|Postfix )", line), line)
        self.assertIn(lib.HOSTNAME, n.text)
        self.assertIn("postino", n.text)

    def flat(self, text):
        return " ".join(text.split())

    # SIZE: postino's own decision

    def test_size_over_the_hops_limit_is_not_a_server_answer(self):
        p = self.peer("127.0.0.2", {"ehlo": ["PIPELINING", "SIZE 1000", "8BITMIME",
                                             "ENHANCEDSTATUSCODES", "DSN"]})
        srv = self.dsn_server()
        body = b"".join(b"line %04d of a message too big for the next hop\r\n" % i
                        for i in range(60))
        msg = lib.make_message("t28 size", body=body, sender=LOCAL_SENDER, to="big@r.test")
        self.assertGreater(len(msg), 1000)
        qid, _ = self.send_dsn(srv, ["big@r.test"], msg=msg)
        [n] = self.wait_notices(srv, 1)
        [r] = n.rcpts
        self.assertEqual(r["action"], "failed")
        self.assertEqual(r["status"], "5.3.4")
        # RFC 3464 2.3.5: the hop was involved (its advertised limit decided)
        self.assertEqual(r["remote-mta"], "dns; mx.r.test")
        # RFC 3464 2.3.6: no diagnostic a server never issued
        self.assertNotIn("diagnostic-code", r, r)
        text = self.flat(n.text)
        self.assertNotIn("answered", text)
        self.assertNotRegex(text, r"\b552\b")
        self.assertRegex(text, r"larger than the limit of 1000 bytes advertised by mx\.r\.test")
        self.assertIn("postino did not send it", text)
        # and indeed nothing was sent: no MAIL reached the peer
        self.assertFalse([c for c in p.commands() if c.upper().startswith("MAIL")],
                         p.commands())
        failed = [l for l in srv.log().splitlines() if qid in l and "status=failed" in l]
        self.assertEqual(len(failed), 1, srv.log_tail(20))
        self.assertNotIn("552", failed[0])
        self.check_own_words(n)

    # Reflection: RET=FULL only for failures

    def send_full(self, srv, rcpts, notify):
        msg = lib.make_message("t28 reflect", body=BODY, sender=LOCAL_SENDER, to=rcpts[0])
        return self.send_dsn(srv, rcpts, msg=msg, mail_options=["RET=FULL"],
                             rcpt_options={a: [notify] for a in rcpts})

    def assertHeadersOnly(self, n):
        self.assertEqual(n.original_type, "text/rfc822-headers")
        self.assertIn(b"Subject: t28 reflect", n.original_headers)
        self.assertNotIn(MARKER, n.raw)
        self.check_own_words(n)

    def test_ret_full_delivered_notice_returns_headers_only(self):
        srv = self.dsn_server()
        self.send_full(srv, ["bob@example.test"], "NOTIFY=SUCCESS")
        [n] = self.wait_notices(srv, 1)
        self.assertEqual(n.actions(), ["delivered"])
        self.assertHeadersOnly(n)

    def test_ret_full_relayed_notice_returns_headers_only(self):
        p = self.peer("127.0.0.2", {"ehlo": peers.EHLO_NO_DSN})
        srv = self.dsn_server()
        self.send_full(srv, ["rl@r.test"], "NOTIFY=SUCCESS")
        [t] = p.wait_messages(1)
        self.assertIn(MARKER, t.data)         # the recipient gets it, of course
        [n] = self.wait_notices(srv, 1)
        self.assertEqual(n.actions(), ["relayed"])
        self.assertHeadersOnly(n)

    def test_ret_full_expanded_notice_returns_headers_only(self):
        srv = self.dsn_server(aliases=ALIASES)
        self.send_full(srv, ["list@example.test"], "NOTIFY=SUCCESS")
        [n] = self.wait_notices(srv, 1)
        self.assertEqual(n.actions(), ["expanded"])
        self.assertHeadersOnly(n)

    def test_ret_full_delayed_notice_returns_headers_only(self):
        self.peer("127.0.0.2", {"rcpt": "451 4.3.0 try again later"})
        srv = self.dsn_server(delay_warning="1s", retry_min="1s", retry_max="1s")
        self.send_full(srv, ["slow@r.test"], "NOTIFY=DELAY")
        [n] = self.wait_notices(srv, 1, settle=False)
        self.assertEqual(n.actions(), ["delayed"])
        self.assertHeadersOnly(n)
        self.assertIn('answered: "451 4.3.0 try again later"', self.flat(n.text))

    def test_ret_full_still_returns_the_message_in_a_failure_notice(self):
        self.peer("127.0.0.2", {"rcpt": {"gone@r.test": "550 5.1.1 gone", "default": "250 ok"}})
        srv = self.dsn_server()
        self.send_full(srv, ["bob@example.test", "gone@r.test"], "NOTIFY=SUCCESS,FAILURE")
        notices = self.wait_notices(srv, 2)
        by_action = {tuple(n.actions()): n for n in notices}
        self.assertEqual(sorted(by_action), [("delivered",), ("failed",)])
        self.assertHeadersOnly(by_action[("delivered",)])
        failed = by_action[("failed",)]
        self.assertEqual(failed.original_type, "message/rfc822")
        self.assertIn(MARKER, failed.original)

    # The text part

    def test_text_part_in_postinos_words(self):
        self.peer("127.0.0.2", {"rcpt": "550 5.1.1 <who@r.test>: no such user here"})
        srv = self.dsn_server()
        self.send_dsn(srv, ["who@r.test"], "t28 text")
        [n] = self.wait_notices(srv, 1)
        self.check_own_words(n)
        text = self.flat(n.text)
        self.assertIn("<who@r.test>: failed, status 5.1.1", text)
        self.assertIn('The server mx.r.test answered: "550 5.1.1 <who@r.test>: no such user '
                      'here"', text)
        self.assertEqual(n.rcpt("who@r.test")["diagnostic-code"],
                         "smtp; 550 5.1.1 <who@r.test>: no such user here")

    def test_dns_failure_is_postinos_reason(self):
        srv = self.dsn_server()
        self.send_dsn(srv, ["x@nosuch.test"], "t28 nxdomain")
        [n] = self.wait_notices(srv, 1)
        r = n.rcpt("x@nosuch.test")
        self.assertEqual(r["status"], "5.1.2")
        self.assertNotIn("diagnostic-code", r)
        self.assertNotIn("remote-mta", r)
        text = self.flat(n.text)
        self.assertIn("Reason: ", text)
        self.assertNotIn("answered", text)
        self.check_own_words(n)


if __name__ == "__main__":
    unittest.main()
