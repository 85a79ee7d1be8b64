"""
t_23_dsn_content: what a notice carries back (RFC 3461 4.3-4.4, RFC 3464 2.2-2.3,
DSN.md 4). RET=HDRS returns the header section (text/rfc822-headers), RET=FULL
the whole message (message/rfc822, body included); with no RET a failure
returns the whole message within dsn_return_limit and the header section
past it (saying so); ENVID is returned decoded
from xtext (ENVID=abc+2Bdef -> Original-Envelope-Id: abc+def, the first
per-message field); ORCPT is returned as Original-Recipient (decoded, before
Final-Recipient). A message with 8-bit text and a 2000-octet line gives a
valid notice even with RET=FULL: headers only, every line within 998
octets, the foldable long header folded, the unfoldable one left out and
named, the 8-bit part marked 8bit and the notice sent with BODY=8BITMIME.
"""
import unittest

import lib
import peers
from peers import LOCAL_SENDER


def lf(data):
    return data.replace(b"\r\n", b"\n")


class Content(peers.DsnTestCase):

    @classmethod
    def dns_records(cls, dns):
        dns.mx("r.test", "mx.r.test", 10).a("mx.r.test", "127.0.0.2")
        dns.mx("far.test", "mx.far.test", 10).a("mx.far.test", "127.0.0.3")

    def setUp(self):
        super().setUp()
        self.peer("127.0.0.2", {"rcpt": "550 5.1.1 no such user"})

    def one_notice(self, srv, subject, **kw):
        qid, msg = self.send_dsn(srv, ["bob@r.test"], subject, **kw)
        [n] = self.wait_notices(srv, 1)
        self.assertEqual(n.actions(), ["failed"])
        return qid, msg, n

    def test_ret_hdrs_returns_the_header_section(self):
        srv = self.dsn_server()
        body = "The body must not come back.\r\n"
        msg = lib.make_message("t23 hdrs", body=body, to="bob@r.test")
        qid, _, n = self.one_notice(srv, "t23 hdrs", msg=msg, mail_options=["RET=HDRS"])
        self.assertEqual(n.original_type, "text/rfc822-headers")
        orig_head = lf(msg).split(b"\n\n", 1)[0] + b"\n"
        self.assertTrue(n.original_headers.endswith(orig_head), n.original_headers)
        self.assertRegex(n.original_headers.split(b"\n", 1)[0].decode(),
                         r"^Received: from client\.test ")
        self.assertNotIn(b"must not come back", n.raw)
        self.assertIn("RET=HDRS", n.text)

    def test_ret_full_returns_the_body(self):
        srv = self.dsn_server()
        body = "Line one of the body.\r\n.leading dot\r\nLast line.\r\n"
        msg = lib.make_message("t23 full", body=body, to="bob@r.test")
        qid, _, n = self.one_notice(srv, "t23 full", msg=msg, mail_options=["RET=FULL"])
        self.assertEqual(n.original_type, "message/rfc822")
        self.assertTrue((n.original + b"\n").endswith(lf(msg)), n.original)
        inner = n.msg.get_payload()[2].get_payload()[0]
        self.assertEqual(str(inner["Subject"]), "t23 full")
        self.assertIn(".leading dot", inner.get_content())

    def test_past_the_return_limit_headers_only(self):
        # no RET and a failure: the whole message, but only up to dsn_return_limit;
        # past it the header section alone, and part 1 says why
        srv = self.dsn_server(dsn_return_limit="1K")
        body = "".join("body line %03d of a message past the limit\r\n" % i for i in range(100))
        msg = lib.make_message("t23 limit", body=body, to="bob@r.test")
        qid, _, n = self.one_notice(srv, "t23 limit", msg=msg)
        self.assertEqual(n.original_type, "text/rfc822-headers")
        orig_head = lf(msg).split(b"\n\n", 1)[0] + b"\n"
        self.assertTrue(n.original_headers.endswith(orig_head), n.original_headers)
        self.assertNotIn(b"body line 000", n.raw)
        # the reason given is the size limit, not that the message was unavailable
        self.assertIn("limit", n.text, n.text)
        self.assertNotIn("not available", n.text, n.text)

    def test_within_the_return_limit_whole(self):
        srv = self.dsn_server(dsn_return_limit="8K")
        body = "".join("body line %03d, within the limit\r\n" % i for i in range(50))
        msg = lib.make_message("t23 within", body=body, to="bob@r.test")
        qid, _, n = self.one_notice(srv, "t23 within", msg=msg)
        self.assertEqual(n.original_type, "message/rfc822")
        self.assertTrue((n.original + b"\n").endswith(lf(msg)), n.original[-200:])

    def test_envid_decoded_from_xtext(self):
        srv = self.dsn_server()
        qid, _, n = self.one_notice(srv, "t23 envid", mail_options=["ENVID=abc+2Bdef"])
        self.assertEqual(n.fields_order[0], "original-envelope-id")
        self.assertEqual(n.fields["original-envelope-id"], "abc+def")
        self.assertNotIn("abc+2Bdef", n.raw.decode("utf-8", "replace"))

    def test_orcpt_gives_original_recipient(self):
        srv = self.dsn_server()
        qid, _, n = self.one_notice(
            srv, "t23 orcpt", rcpt_options={"bob@r.test": ["ORCPT=rfc822;Bob+2Bx@Example.org"]})
        [r] = n.rcpts
        self.assertEqual(n.rcpt_orders[0][:2], ["original-recipient", "final-recipient"])
        self.assertEqual(r["original-recipient"].replace(" ", ""), "rfc822;Bob+x@Example.org")
        self.assertEqual(r["final-recipient"], "rfc822; bob@r.test")
        self.assertNotIn("original-envelope-id", n.fields)

    def test_eight_bit_and_long_lines(self):
        # the sender is remote: the notice goes out by SMTP, so its BODY= shows
        sp = self.peer("127.0.0.3")
        srv = self.dsn_server()
        sender = "alice@far.test"
        long_line = ("x" * 1999 + "\u00e9").encode("utf-8")          # 2001 octets
        foldable = "X-Foldable: " + " ".join("w%03d" % i for i in range(300))   # ~1500 octets
        unfoldable = "X-Unfoldable: " + "y" * 1500
        head = ("From: <%s>\r\nTo: <bob@r.test>\r\nSubject: t23 8bit Gr\u00fc\u00dfe\r\n"
                "Message-ID: <t23-8bit@client.test>\r\nDate: Mon, 24 Nov 2025 08:00:00 +0000\r\n"
                "%s\r\n%s\r\n\r\n" % (sender, foldable, unfoldable)).encode("utf-8")
        msg = head + b"Gr\xc3\xbc\xc3\x9fe aus K\xc3\xb6ln.\r\n" + long_line + b"\r\nend\r\n"
        qid, _ = self.send_dsn(srv, ["bob@r.test"], sender=sender, msg=msg,
                               mail_options=["BODY=8BITMIME", "RET=FULL"])
        sp.wait_messages(1)
        self.settle(srv)
        [t] = sp.messages()
        self.assertEqual(t.sender, "")
        self.assertEqual(t.accepted, [sender])
        self.assertEqual(t.mail_params.get("BODY", "").upper(), "8BITMIME", t.mail_arg)
        n = lib.parse_notice(t.data, sender, stored=False)
        for line in t.data.split(b"\r\n"):
            self.assertLessEqual(len(line), 998)
        self.assertEqual(n.original_type, "text/rfc822-headers")
        self.assertEqual(str(n.msg.get_payload()[2]["Content-Transfer-Encoding"]).lower(), "8bit")
        self.assertNotIn(b"x" * 200, n.raw)
        self.assertNotIn(b"aus K", n.raw)
        self.assertIn("998", n.text)
        # the 8-bit Subject comes back as it was
        self.assertIn("Subject: t23 8bit Gr\u00fc\u00dfe".encode("utf-8"), n.original_headers)
        # the foldable field folded, not changed; the other left out and named
        orig = lib.split_message(n.original_headers + b"\n")[0]
        folded = [h for h in orig if h.startswith("X-Foldable:")]
        self.assertEqual(len(folded), 1, orig)
        self.assertEqual(folded[0].split(), foldable.split())
        self.assertFalse([h for h in orig if h.startswith("X-Unfoldable")], orig)
        self.assertIn("X-Unfoldable", n.text)
        self.assertEqual(n.rcpt("bob@r.test")["status"], "5.1.1")


if __name__ == "__main__":
    unittest.main()
