"""
t_02_delivery: local delivery into Maildirs (INTERFACE.md "Mailboxes"):
one file per recipient in DATA/mail/DOMAIN/LOCAL/new, LF endings,
dot-unstuffed, 8-bit bytes unchanged, Return-Path then Received (by
HOSTNAME, id QUEUEID) first, then Delivered-To naming the recipient (as
Postfix's local agent writes it); a message that already carries a
Delivered-To for its recipient has looped and fails with 5.4.6 (the sender
is told); several recipients, alias fan-out, postmaster, case of domain and
local part. Delivery is asynchronous: every check polls.
"""
import os
import re
import unittest

import lib
from lib import expect, expect_smtplib


def body_of(raw):
    return raw.partition(b"\n\n")[2]


class Delivery(lib.SharedServerTestCase):
    """No users file: every local part of a local domain is accepted."""

    @classmethod
    def server_options(cls):
        return dict(aliases=["team@example.test: bob@example.test, alice@example.test",
                             "solo@example.test: Dave@Example.Test",
                             "dtteam@example.test: dt2@example.test, DT3@example.test"],
                    max_message_size="1M", max_recipients="10")

    def check_prefix(self, raw, sender, qid):
        """Return-Path first, Received second, naming this host and the queue id."""
        self.assertNotIn(b"\r", raw, "stored message must have LF line endings")
        headers, _ = lib.split_message(raw)
        self.assertEqual(headers[0], "Return-Path: <%s>" % sender, raw[:300])
        self.assertTrue(headers[1].startswith("Received:"), raw[:300])
        self.assertRegex(headers[1], r"\bby mx\.test\b")
        self.assertRegex(headers[1], r"\bid %s\b" % re.escape(qid))

    def test_single(self):
        body = b"Line one.\r\nLine two.\r\n\r\nLast line.\r\n"
        msg = lib.make_message("t02 single", body, to="u1@example.test")
        qid = self.srv.send("alice@sender.test", ["u1@example.test"], msg)
        [raw] = self.srv.wait_mail("u1")
        self.check_prefix(raw, "alice@sender.test", qid)
        self.assertEqual(body_of(raw), body.replace(b"\r\n", b"\n"))
        self.assertIn(b"\nSubject: t02 single\n", raw)
        # the original header block follows ours unchanged
        self.assertIn(msg.replace(b"\r\n", b"\n").partition(b"\n\n")[0], raw)
        md = lib.maildir_path(self.srv.data, "example.test", "u1")
        for sub in ("tmp", "new", "cur"):
            self.assertTrue(os.path.isdir(os.path.join(md, sub)), "%s/%s missing" % (md, sub))
        self.assertEqual(os.listdir(os.path.join(md, "tmp")), [])

    def test_null_sender_return_path(self):
        msg = lib.make_message("t02 null", sender="MAILER-DAEMON@sender.test")
        qid = self.srv.send("", ["u2@example.test"], msg)
        [raw] = self.srv.wait_mail("u2")
        self.check_prefix(raw, "", qid)

    def test_multi_recipient(self):
        rcpts = ["m1@example.test", "m2@example.test", "m3@localhost"]
        msg = lib.make_message("t02 multi", b"to three\r\n")
        qid = self.srv.send("alice@sender.test", rcpts, msg)
        for r in rcpts:
            local, domain = r.split("@")
            [raw] = self.srv.wait_mail(local, domain=domain)
            self.check_prefix(raw, "alice@sender.test", qid)
            self.assertEqual(body_of(raw), b"to three\n")

    def test_two_messages_one_session(self):
        with self.srv.smtp() as s:
            s.ehlo()
            ids = []
            for i in range(2):
                expect_smtplib(s.mail("alice@sender.test"), 250, "2.1.0")
                expect_smtplib(s.rcpt("two@example.test"), 250, "2.1.5")
                text = expect_smtplib(s.data(lib.make_message("t02 two %d" % i)), 250, "2.0.0")
                ids.append(lib.queue_id_of(text))
        self.assertNotEqual(ids[0], ids[1])
        msgs = self.srv.wait_mail("two", 2)
        subjects = sorted(lib.header_value(m, "Subject") for m in msgs)
        self.assertEqual(subjects, ["t02 two 0", "t02 two 1"])

    def test_alias_fanout(self):
        qid = self.srv.send("carol@sender.test", ["team@example.test"],
                            lib.make_message("t02 alias", to="team@example.test"))
        for local in ("bob", "alice"):
            [raw] = self.srv.wait_mail(local)
            self.check_prefix(raw, "carol@sender.test", qid)
            self.assertEqual(lib.header_value(raw, "Subject"), "t02 alias")
        self.assertEqual(self.srv.maildir("team"), [])

    def test_delivered_to(self):
        self.srv.send("carol@sender.test", ["dt1@example.test", "dtteam@example.test"],
                      lib.make_message("t02 delivered-to"))
        for local, addr in (("dt1", "dt1@example.test"), ("dt2", "dt2@example.test"),
                            ("dt3", "dt3@example.test")):
            [raw] = self.srv.wait_mail(local)
            headers, _ = lib.split_message(raw)
            self.assertTrue(headers[1].startswith("Received:"), raw[:300])
            self.assertEqual(headers[2].lower(), "delivered-to: %s" % addr, raw[:400])

    def test_delivered_to_loop(self):
        # came back: a Delivered-To for this very recipient is already there
        looped = lib.make_message("t02 looped", to="loop@example.test",
                                  extra_headers=["Delivered-To: Loop@Example.Test"])
        self.srv.send("sender2@example.test", ["loop@example.test"], looped)
        # another recipient's Delivered-To is no loop
        other = lib.make_message("t02 not looped", to="loop2@example.test",
                                 extra_headers=["Delivered-To: someone@example.test"])
        self.srv.send("sender2@example.test", ["loop2@example.test"], other)
        self.srv.wait_mail("loop2")
        [notice] = lib.wait_for(lambda: lib.notices_in(self.srv.data, "example.test", "sender2"),
                                what="the loop's failure notice")
        nt = lib.parse_notice(notice, "sender2@example.test")
        r = nt.rcpt("loop@example.test")
        self.assertEqual(r["action"], "failed")
        self.assertEqual(r["status"], "5.4.6")
        self.assertIn("mail forwarding loop", nt.text)
        self.assertEqual(self.srv.maildir("loop"), [])

    def test_alias_single_target_case(self):
        self.srv.send("carol@sender.test", ["solo@example.test"], lib.make_message("t02 solo"))
        [raw] = self.srv.wait_mail("dave")
        self.assertEqual(lib.header_value(raw, "Subject"), "t02 solo")

    def test_dot_stuffing_round_trip(self):
        lines = [b".", b"..", b"...", b".leading dot", b"middle . dot", b"end.", b"", b". space",
                 b".\t.", b"last"]
        body = b"\r\n".join(lines) + b"\r\n"
        # smtplib stuffs the dots on the wire; the store must unstuff them
        self.srv.send("alice@sender.test", ["dots@example.test"], lib.make_message("t02 dots", body))
        [raw] = self.srv.wait_mail("dots")
        self.assertEqual(body_of(raw), b"\n".join(lines) + b"\n")

    def test_dot_stuffing_raw(self):
        c = self.raw(self.srv)
        c.ehlo()
        wire = (b"Subject: t02 rawdots\r\n\r\n..\r\n...x\r\n.y\r\nz\r\n")
        r = c.transaction("alice@sender.test", ["rawdots@example.test"], wire)
        expect(r, 250, "2.0.0")
        [raw] = self.srv.wait_mail("rawdots")
        # "..": "." ; "...x": "..x" ; ".y": a lone leading dot is dropped too (RFC 5321 4.5.2)
        self.assertEqual(body_of(raw), b".\n..x\ny\nz\n")

    def test_8bit_unchanged(self):
        body = ("Grüße, ça va? 日本語\r\n").encode("utf-8") + bytes(range(0x80, 0x100)) + b"\r\n" \
            + b"latin1 \xe9\xe8\xff\r\n" + bytes(range(0x01, 0x09)) + b"\x0b\x0c\x7f\r\n"
        self.srv.send("alice@sender.test", ["eight@example.test"],
                      lib.make_message("t02 8bit", body), mail_options=["BODY=8BITMIME"])
        [raw] = self.srv.wait_mail("eight")
        self.assertEqual(body_of(raw), body.replace(b"\r\n", b"\n"))

    def test_empty_body(self):
        c = self.raw(self.srv)
        c.ehlo()
        expect(c.transaction("alice@sender.test", ["empty@example.test"],
                             b"Subject: t02 empty\r\n"), 250, "2.0.0")
        [raw] = self.srv.wait_mail("empty")
        self.assertIn(b"\nSubject: t02 empty\n", raw)

    def test_domain_and_local_part_lowercased(self):
        self.srv.send("alice@sender.test", ["MiXeD@EXAMPLE.Test"], lib.make_message("t02 case"))
        [raw] = self.srv.wait_mail("mixed")
        self.assertEqual(lib.header_value(raw, "Subject"), "t02 case")
        self.assertFalse(os.path.exists(os.path.join(self.srv.data, "mail", "EXAMPLE.Test")))

    def test_postmaster(self):
        qid = self.srv.send("alice@sender.test", ["postmaster@localhost"], lib.make_message("t02 pm"))
        [raw] = self.srv.wait_mail("postmaster", domain="localhost")
        self.check_prefix(raw, "alice@sender.test", qid)

    def test_queue_empty_after_delivery(self):
        self.srv.send("alice@sender.test", ["gone@example.test"], lib.make_message("t02 gone"))
        self.srv.wait_mail("gone")
        # the delivered message leaves the queue
        lib.wait_for(lambda: not any(
            any(r["address"] == "gone@example.test" for r in m["recipients"])
            for m in self.srv.queue()), what="the delivered message to leave the queue")


class DeliveryWithUsers(lib.IntegTestCase):
    """With a users file: the Maildir is named as the users file spells it."""

    def test_users_file_spelling_and_postmaster(self):
        srv = self.server(users=["bob@example.test:{PLAIN}secret", "Carol@example.test:{PLAIN}x"])
        qid = srv.send("alice@sender.test", ["CAROL@EXAMPLE.TEST"], lib.make_message("t02 carol"))
        [raw] = srv.wait_mail("Carol")
        self.assertEqual(raw.split(b"\n", 1)[0], b"Return-Path: <alice@sender.test>")
        self.assertRegex(lib.split_message(raw)[0][1], r"\bid %s\b" % qid)
        # postmaster is not in the users file, yet always valid
        srv.send("alice@sender.test", ["postmaster@example.test"], lib.make_message("t02 pm2"))
        [raw] = srv.wait_mail("postmaster")
        self.assertEqual(lib.header_value(raw, "Subject"), "t02 pm2")


if __name__ == "__main__":
    unittest.main()
