"""
t_61_smtputf8_relay: passing internationalized mail on (RFC 6531 3.4, 3.7;
RFC 6533 3). A next hop that offers SMTPUTF8 gets MAIL ... SMTPUTF8, the
UTF-8 addresses and the UTF-8 header as received, and ORCPT=utf-8 in its
unitext form. A next hop without SMTPUTF8: a recipient with a UTF-8 local
part fails with 5.6.7 without being sent, one whose domain alone is
non-ASCII goes with the A-label (found in DNS under its A-label), and
ORCPT=utf-8 is written in its \\x{HEX} form; a UTF-8 header section makes
every recipient fail with 5.6.7. Mail without SMTPUTF8 never carries it.
A failure notice about a message received with SMTPUTF8 (RFC 6533), parsed
with the email package: multipart/report; report-type=global-delivery-status,
message/global-delivery-status with "utf-8" address types (Original-Recipient
from ORCPT=utf-8, Final-Recipient), message/global returning the original,
To: the UTF-8 sender; delivered into the sender's UTF-8 Maildir.
A deferred SMTPUTF8 message shows "smtputf8: yes" in `postino queue show`
and its UTF-8 recipient in `queue list --json`.
"""
import email
import email.policy
import unittest

import lib
import peers

EHLO_UTF8 = ["PIPELINING", "SIZE 10000000", "8BITMIME", "ENHANCEDSTATUSCODES", "DSN",
             "SMTPUTF8"]
JU = "j\u00fcrgen"


def message(subject, utf8_header=False):
    subj = ("\u00fcber " if utf8_header else "") + subject
    lines = ["From: <alice@sender.test>", "To: <x@r.test>", "Subject: " + subj,
             "Message-ID: <%s@client.test>" % subject.replace(" ", "-"),
             "Date: Mon, 24 Nov 2025 08:00:00 +0000"]
    return ("\r\n".join(lines) + "\r\n\r\nHello.\r\n").encode("utf-8")


class Utf8Relay(peers.RelayTestCase):

    @classmethod
    def dns_records(cls, dns):
        dns.mx("r.test", "mx.r.test", 10).a("mx.r.test", "127.0.0.2")
        dns.mx("xn--bcher-kva.test", "mx.r.test", 10)

    def send_utf8(self, srv, rcpts, msg, sender="alice@sender.test", rcpt_options=None):
        rcpt_options = rcpt_options or {}
        with lib.smtp_client(srv.port) as s:
            s.ehlo()
            lib.expect_smtplib(s.mail(sender, ["SMTPUTF8", "BODY=8BITMIME"]), 250, "2.1.0")
            for r in rcpts:
                lib.expect_smtplib(s.rcpt(r, rcpt_options.get(r, [])), 250, "2.1.5")
            return lib.queue_id_of(lib.expect_smtplib(s.data(msg), 250, "2.0.0"))

    def test_passed_on_to_a_peer_with_smtputf8(self):
        p = self.peer("127.0.0.2", {"ehlo": EHLO_UTF8})
        srv = self.relay_server()
        msg = message("t50 on", utf8_header=True)
        self.send_utf8(srv, [JU + "@r.test"], msg, sender="\u00e5sa@sender.test",
                       rcpt_options={JU + "@r.test": ["NOTIFY=FAILURE",
                                                      "ORCPT=utf-8;" + JU + "@r.test"]})
        [t] = p.wait_messages(1)
        self.assertIn("SMTPUTF8", t.mail_params, t.mail_arg)
        self.assertEqual(t.sender, "\u00e5sa@sender.test")
        self.assertEqual(t.accepted, [JU + "@r.test"])
        self.assertEqual(t.rcpt_params(JU + "@r.test").get("ORCPT"), "utf-8;" + JU + "@r.test")
        got = email.message_from_bytes(t.data, policy=email.policy.SMTPUTF8)
        self.assertEqual(got["Subject"], "\u00fcber t50 on")
        self.assertIn(b"with UTF8SMTP id", t.data)

    def test_peer_without_smtputf8_alabels_and_567(self):
        p = self.peer("127.0.0.2", {"ehlo": peers.EHLO_NO_DSN + ["DSN"]})
        srv = self.relay_server()
        self.send_utf8(srv, [JU + "@r.test", "bob@b\u00fccher.test"], message("t50 down"),
                       rcpt_options={"bob@b\u00fccher.test": ["ORCPT=utf-8;" + JU + "@r.test"]})
        [t] = p.wait_messages(1)
        self.assertNotIn("SMTPUTF8", t.mail_params, t.mail_arg)
        self.assertEqual(t.accepted, ["bob@xn--bcher-kva.test"])
        self.assertEqual(t.rcpt_params("bob@xn--bcher-kva.test").get("ORCPT"),
                         "utf-8;j\\x{FC}rgen@r.test")
        for line in p.commands():
            line.encode("ascii")        # nothing non-ASCII went to this peer
        [line] = self.wait_log(srv, "to=<%s@r.test>" % JU, "5.6.7")
        self.assertIn("needs SMTPUTF8", line)
        self.assertIn("status=failed", line)

    def test_utf8_header_fails_everyone_without_smtputf8(self):
        p = self.peer("127.0.0.2", {"ehlo": peers.EHLO_NO_DSN})
        srv = self.relay_server()
        self.send_utf8(srv, ["a@r.test", "b@r.test"], message("t50 hdr", utf8_header=True))
        for a in ("a@r.test", "b@r.test"):
            [line] = self.wait_log(srv, "to=<%s>" % a, "5.6.7")
            self.assertIn("UTF-8 header", line)
        self.assertEqual(p.messages(), [])

    def test_ascii_mail_never_sends_smtputf8(self):
        p = self.peer("127.0.0.2", {"ehlo": EHLO_UTF8})
        srv = self.relay_server()
        self.send(srv, ["plain@r.test"], "t50 ascii")
        [t] = p.wait_messages(1)
        self.assertNotIn("SMTPUTF8", t.mail_params, t.mail_arg)

    def test_global_failure_notice(self):
        jo = "j\u00f6rg@r.test"
        self.peer("127.0.0.2", {"ehlo": EHLO_UTF8, "rcpt": {jo: "550 5.1.1 no such user"}})
        srv = self.relay_server()
        sender = "\u00e5sa@example.test"
        self.send_utf8(srv, [jo], message("t50 notice", utf8_header=True), sender=sender,
                       rcpt_options={jo: ["NOTIFY=FAILURE", "ORCPT=utf-8;" + jo]})
        [raw] = srv.wait_mail("\u00e5sa")
        # a str parse: the bytes parser keeps 8-bit header octets as surrogates
        msg = email.message_from_string(raw.decode("utf-8"), policy=email.policy.SMTPUTF8)
        for part in msg.walk():
            self.assertEqual(part.defects, [], part.get_content_type())
        self.assertEqual(msg.get_content_type(), "multipart/report")
        self.assertEqual(msg.get_param("report-type"), "global-delivery-status")
        self.assertEqual(msg["To"].addresses[0].addr_spec, sender)
        parts = msg.get_payload()
        self.assertEqual([p.get_content_type() for p in parts],
                         ["text/plain", "message/global-delivery-status", "message/global"])
        self.assertEqual(parts[0].get_content_charset(), "utf-8")
        self.assertIn("<%s>: failed" % jo, parts[0].get_payload())
        # the blocks of the report, each parsed as a header section (RFC 6533 6.2)
        report = lib._raw_parts(raw, msg.get_boundary())[1].split(b"\n\n", 1)[1]
        blocks = [email.message_from_string(b + "\n", policy=email.policy.SMTPUTF8)
                  for b in report.decode("utf-8").replace("\r\n", "\n").strip("\n").split("\n\n")]
        self.assertEqual(len(blocks), 2, report)
        self.assertEqual(str(blocks[0]["Reporting-MTA"]), "dns; " + lib.HOSTNAME)
        r = blocks[1]
        self.assertEqual(str(r["Original-Recipient"]), "utf-8; " + jo)
        self.assertEqual(str(r["Final-Recipient"]), "utf-8; " + jo)
        self.assertEqual(str(r["Action"]), "failed")
        self.assertEqual(str(r["Status"]), "5.1.1")
        self.assertIn("550 5.1.1 no such user", " ".join(str(r["Diagnostic-Code"]).split()))
        self.assertIn("Subject: \u00fcber t50 notice", parts[2].as_string())

    def test_deferred_message_in_the_queue(self):
        self.peer("127.0.0.2", {"ehlo": EHLO_UTF8, "rcpt": "451 4.3.0 later"})
        srv = self.relay_server(retry_min="1h", retry_max="2h")
        qid = self.send_utf8(srv, [JU + "@r.test"], message("t61 queued"))
        r = self.wait_status(srv, JU + "@r.test", "deferred")
        self.assertEqual(r["address"], JU + "@r.test")
        cp = lib.run_cli(["queue", "-c", srv.conf, "show", qid])
        self.assertEqual(cp.returncode, 0, cp.stderr)
        self.assertIn("\nsmtputf8: yes\n", cp.stdout)
        self.assertIn("recipient: <%s@r.test>" % JU, cp.stdout)
        plain = self.send(srv, ["plain@r.test"], "t61 plain")[0]
        self.wait_status(srv, "plain@r.test", "deferred")
        cp = lib.run_cli(["queue", "-c", srv.conf, "show", plain])
        self.assertNotIn("smtputf8", cp.stdout)


if __name__ == "__main__":
    unittest.main()
