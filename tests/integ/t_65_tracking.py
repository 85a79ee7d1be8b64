"""
t_65_tracking: the tracking store and `postino track` (INTERFACE.md
"Authentication and tracking").

- Through a real private Postfix (the instance of t_27: it delivers
  known@dsn.test, accepts and then bounces unknown@dsn.test itself, and sends
  mail for example.test back to postino): a message submitted with `postino
  sendmail` and no ENVID goes out with ENVID=its queue id; Postfix's own
  failure and success notices come back, are matched (X-Postino-Track:
  matched QUEUEID) and `postino track` (text and --json) shows each hop's
  outcome and each later hop's report.
- A scripted peer sees ENVID=queue id for submission (AUTH) and sendmail
  mail, the sender's own ENVID unchanged, none for plain relayed mail; a
  refusal and the notice postino sends are in the journey.
- A forged notice naming an unknown ENVID is delivered marked unmatched (an
  X-Postino-Track field it came with removed), and refused with 550 5.7.1
  with reject_unmatched_dsn on.
- track: exit 66 for an unknown id, 64 for bad usage; records older than
  track_retention disappear.
"""
import base64
import json
import os
import subprocess
import unittest

import lib
import peers
from t_27_dsn_postfix import PF_IP, PostfixInstance

EX_USAGE, EX_NOINPUT = 64, 66
PEER_IP = "127.0.0.2"


def track(srv, key, as_json=False):
    args = ["track", "-c", srv.conf] + (["--json"] if as_json else []) + [key]
    return lib.run_cli(args)


def sendmail(srv, args, data):
    """`postino sendmail -C CONF ARGS` with data on stdin; returns the queue id."""
    cp = subprocess.run([lib.BIN, "sendmail", "-C", srv.conf, "-v"] + list(args), input=data,
                        stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=30)
    err = cp.stderr.decode("utf-8", "replace")
    if cp.returncode != 0 or lib.sanitizer_report(err):
        raise AssertionError("sendmail exited %d:\n%s" % (cp.returncode, err))
    return err.split("queued as ", 1)[1].split()[0]


def header_values(raw, name):
    headers, _ = lib.split_message(raw)
    pre = name.lower() + ":"
    return [h.split(":", 1)[1].strip() for h in headers if h.lower().startswith(pre)]


def forged_notice(envid, msgid="<never-sent@elsewhere.test>"):
    """A Postfix-style failure notice about a message this host never sent."""
    return ("From: MAILER-DAEMON@far.test (Mail Delivery System)\r\n"
            "To: alice@example.test\r\n"
            "Subject: Undelivered Mail Returned to Sender\r\n"
            "Message-ID: <forged-notice@far.test>\r\n"
            "X-Postino-Track: matched 0123456789ABCDEF\r\n"
            "MIME-Version: 1.0\r\n"
            "Content-Type: multipart/report; report-type=delivery-status;\r\n"
            "\tboundary=\"B0UND\"\r\n"
            "\r\n"
            "--B0UND\r\n"
            "Content-Type: text/plain; charset=us-ascii\r\n"
            "\r\n"
            "Your message could not be delivered.\r\n"
            "\r\n"
            "--B0UND\r\n"
            "Content-Type: message/delivery-status\r\n"
            "\r\n"
            "Reporting-MTA: dns; far.test\r\n"
            "Original-Envelope-Id: %s\r\n"
            "\r\n"
            "Final-Recipient: rfc822; victim@far.test\r\n"
            "Action: failed\r\n"
            "Status: 5.1.1\r\n"
            "Diagnostic-Code: smtp; 550 5.1.1 no such user\r\n"
            "\r\n"
            "--B0UND\r\n"
            "Content-Type: text/rfc822-headers\r\n"
            "\r\n"
            "From: alice@example.test\r\n"
            "To: victim@far.test\r\n"
            "Message-ID: %s\r\n"
            "Subject: something you never sent\r\n"
            "\r\n"
            "--B0UND--\r\n" % (envid, msgid)).encode()


def events(journey, address):
    for r in journey["recipients"]:
        if r["address"].lower() == address.lower():
            return r["events"]
    raise AssertionError("no recipient %s in %s" % (address, journey))


class Tracking(peers.DsnTestCase):

    def wait_track(self, srv, key, pred, what):
        """Bounded wait until `track --json KEY` succeeds and pred(journey) holds."""
        got = {}

        def ready():
            cp = track(srv, key, as_json=True)
            if cp.returncode != 0:
                return False
            got["j"] = json.loads(cp.stdout)
            return pred(got["j"])
        self.wait_alive(srv, ready, 20, lambda: "%s; track says: %s; log:\n%s"
                        % (what, got.get("j"), srv.log_tail(30)))
        return got["j"]

    def test_postfix_hops_and_notices_matched(self):
        srv = self.dsn_server(start=False, route="dsn.test [%s]:%d" % (PF_IP, self.port))
        pf = PostfixInstance(self.port, srv.port)
        self.addCleanup(pf.stop)
        why = pf.start()
        if why:
            self.skipTest("Postfix unavailable: " + why)
        srv.start()
        msg = (b"From: alice@example.test\nTo: unknown@dsn.test, known@dsn.test\n"
               b"Subject: t65 journey\nMessage-ID: <t65-journey@example.test>\n\nhop by hop\n")
        qid = sendmail(srv, ["-f", "alice@example.test", "-N", "success,failure",
                             "unknown@dsn.test", "known@dsn.test"], msg)
        raws = lib.wait_for(lambda: len(srv.maildir("alice")) >= 2 and
                            lib.maildir_messages(srv.data, "example.test", "alice"), 30,
                            what=lambda: "2 notices from Postfix; Postfix log:\n%s\npostino "
                            "log:\n%s" % (pf.log()[-3000:], srv.log_tail(30)))
        actions = set()
        for raw in raws:
            _, per_msg, rcpts = peers_notice(raw)
            # the peer saw ENVID=the queue id (no ENVID was given)
            self.assertEqual(per_msg.get("original-envelope-id"), qid, per_msg)
            self.assertEqual(header_values(raw, "X-Postino-Track"), ["matched %s" % qid])
            actions.add(rcpts[0]["action"].lower())
        self.assertEqual(actions, {"failed", "delivered"})

        def complete(j):
            kinds = [e["kind"] for r in j["recipients"] for e in r["events"]]
            return kinds.count("notice-received") == 2
        j = self.wait_track(srv, qid, complete, "both notices in the journey")
        self.assertEqual(j["id"], qid)
        self.assertEqual(j["message_id"], "<t65-journey@example.test>")
        self.assertEqual(j["envid"], qid)
        self.assertEqual(j["sender"], "alice@example.test")
        self.assertRegex(j["arrival"], r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")
        for r in j["recipients"]:
            for e in r["events"]:
                self.assertEqual(sorted(e), ["action", "host", "kind", "reply", "status", "time"])
        for addr, action, status in (("unknown@dsn.test", "failed", r"^5\.1\.\d+$"),
                                     ("known@dsn.test", "delivered", r"^2\.")):
            ev = events(j, addr)
            self.assertEqual([e["kind"] for e in ev],
                             ["received", "relayed", "notice-received"], ev)
            self.assertEqual(ev[1]["host"], "%s[%s]" % (PF_IP, PF_IP))
            self.assertRegex(ev[1]["reply"], r"^250 2\.0\.0 Ok: .*queued as \w+", ev[1])
            self.assertEqual(ev[2]["action"], action)
            self.assertRegex(ev[2]["status"], status)
            self.assertIn("pf.test", ev[2]["host"] or "", ev[2])
        self.assertIn("unknown user", events(j, "unknown@dsn.test")[2]["reply"] or "")
        # the same journey in text, and found by its Message-ID too
        for key in (qid, "<t65-journey@example.test>", "t65-journey@example.test"):
            cp = track(srv, key)
            self.assertEqual(cp.returncode, 0, cp.stderr)
            out = cp.stdout
            self.assertIn("message %s" % qid, out)
            self.assertIn("client=local submission", out)
            self.assertRegex(out, r"relayed +<unknown@dsn\.test> relay=127\.0\.0\.3\[127\.0\.0\.3\]")
            self.assertRegex(out, r"notice-received +<unknown@dsn\.test> .*action=failed")
            self.assertRegex(out, r"notice-received +<known@dsn\.test> .*action=delivered")
            self.assertIn("reporting=pf.test", out)
            lines = out.splitlines()[1:]
            self.assertEqual(lines, sorted(lines, key=lambda l: l.split()[0]))  # time order

    def test_envid_and_refusal_in_the_journey(self):
        p = self.peer(PEER_IP, {"rcpt": {"default": "250 2.1.5 ok",
                                     "bad@peer.test": "550 5.1.1 <bad@peer.test>: no such user"}})
        sub_port = lib.free_port()
        srv = self.dsn_server(route="peer.test [%s]:%d" % (PEER_IP, self.port),
                              users=["alice@example.test:{PLAIN}pw"],
                              extra=["listen submission 127.0.0.1:%d" % sub_port])
        msg = lib.make_message("t65 envid", sender="alice@example.test", to="ok@peer.test")
        # sendmail without and with its own ENVID
        q_sm = sendmail(srv, ["-f", "alice@example.test", "ok@peer.test"], msg)
        q_own = sendmail(srv, ["-f", "alice@example.test", "-V", "own-id-65", "ok@peer.test"], msg)
        # authenticated submission without ENVID
        with lib.smtp_client(sub_port) as s:
            s.ehlo()
            plain = base64.b64encode(b"\0alice@example.test\0pw").decode()
            lib.expect_smtplib(s.docmd("AUTH", "PLAIN " + plain), 235, "2.7.0")
            lib.expect_smtplib(s.mail("alice@example.test"), 250, "2.1.0")
            lib.expect_smtplib(s.rcpt("ok@peer.test"), 250, "2.1.5")
            q_sub = lib.queue_id_of(lib.expect_smtplib(s.data(msg), 250, "2.0.0"))
        # plain relay from relay_networks, one recipient refused by the peer; its own
        # Message-ID (received over SMTP, not added by postino) finds it too
        msg_relay = lib.make_message("t65 relay", sender="alice@example.test", to="ok@peer.test",
                                     message_id="t65-relay@client.test")
        q_relay, _ = self.send_dsn(srv, ["ok@peer.test", "bad@peer.test"], msg=msg_relay)
        txns = lib.wait_for(lambda: len(p.messages()) >= 4 and p.messages(), 20,
                            what=lambda: "4 messages at the peer; log:\n" + srv.log_tail(30))
        by_id = {}
        for t in txns:
            for qid in (q_sm, q_own, q_sub, q_relay):
                if ("id %s" % qid).encode() in t.data:
                    by_id[qid] = t
        self.assertEqual(by_id[q_sm].mail_params.get("ENVID"), q_sm)
        self.assertEqual(by_id[q_sub].mail_params.get("ENVID"), q_sub)
        self.assertEqual(by_id[q_own].mail_params.get("ENVID"), "own-id-65")
        self.assertNotIn("ENVID", by_id[q_relay].mail_params)
        # the refusal and postino's own failure notice are in the journey
        j = self.wait_track(srv, q_relay, lambda j: any(
            e["kind"] == "notice-sent" for e in events(j, "bad@peer.test")), "a notice-sent event")
        self.assertIsNone(j["envid"])
        bad = events(j, "bad@peer.test")
        failed = [e for e in bad if e["kind"] == "failed"]
        self.assertEqual(len(failed), 1, bad)
        self.assertEqual(failed[0]["reply"], "550 5.1.1 <bad@peer.test>: no such user")
        self.assertEqual(failed[0]["status"], "5.1.1")
        self.assertEqual(failed[0]["host"], "%s[%s]" % (PEER_IP, PEER_IP))
        kinds = [e["kind"] for e in events(j, "ok@peer.test")]
        self.assertEqual((kinds[0], kinds[-1]), ("received", "relayed"), kinds)
        j = self.wait_track(srv, "<t65-relay@client.test>", lambda j: True, "the Message-ID")
        self.assertEqual(j["id"], q_relay)
        self.assertEqual(j["message_id"], "<t65-relay@client.test>")
        j = self.wait_track(srv, "own-id-65", lambda j: True, "the sender's ENVID")
        self.assertEqual(j["id"], q_own)
        self.assertEqual(j["envid"], "own-id-65")

    def test_forged_notice_unmatched_then_refused(self):
        srv = self.dsn_server()
        notice = forged_notice("NOSUCHENVID0001")
        with lib.smtp_client(srv.port) as s:
            s.ehlo()
            lib.expect_smtplib(s.mail("<>"), 250, "2.1.0")
            lib.expect_smtplib(s.rcpt("alice@example.test"), 250, "2.1.5")
            lib.expect_smtplib(s.data(notice), 250, "2.0.0")
        raws = lib.wait_for(lambda: lib.maildir_messages(srv.data, "example.test", "alice"), 10,
                            what=lambda: "the forged notice delivered; log:\n" + srv.log_tail(30))
        self.assertEqual(header_values(raws[0], "X-Postino-Track"), ["unmatched"])
        # an ordinary message from <> that is no notice is left alone
        with lib.smtp_client(srv.port) as s:
            s.ehlo()
            lib.expect_smtplib(s.mail("<>"), 250, "2.1.0")
            lib.expect_smtplib(s.rcpt("bob@example.test"), 250, "2.1.5")
            lib.expect_smtplib(s.data(lib.make_message("plain", to="bob@example.test")), 250,
                               "2.0.0")
        raws = lib.wait_for(lambda: lib.maildir_messages(srv.data, "example.test", "bob"), 10,
                            what=lambda: "the plain message delivered")
        self.assertEqual(header_values(raws[0], "X-Postino-Track"), [])
        strict = self.dsn_server(reject_unmatched_dsn="on")
        with lib.smtp_client(strict.port) as s:
            s.ehlo()
            lib.expect_smtplib(s.mail("<>"), 250, "2.1.0")
            lib.expect_smtplib(s.rcpt("alice@example.test"), 250, "2.1.5")
            code, text = s.data(notice)
            self.assertEqual(code, 550, text)
            self.assertTrue(text.startswith(b"5.7.1"), text)
        self.assertEqual(lib.maildir_messages(strict.data, "example.test", "alice"), [])

    def test_track_exit_codes_and_retention(self):
        srv = self.dsn_server(track_retention="3s")
        mode = os.stat(os.path.join(srv.data, "track.db")).st_mode
        self.assertEqual(mode & 0o077, 0, "track.db is private: %o" % mode)
        cp = track(srv, "0000000000000000")
        self.assertEqual(cp.returncode, EX_NOINPUT, cp.stderr)
        self.assertEqual(lib.run_cli(["track", "-c", srv.conf]).returncode, EX_USAGE)
        self.assertEqual(lib.run_cli(["track", "-c", srv.conf, "a", "b"]).returncode, EX_USAGE)
        self.assertEqual(lib.run_cli(["track", "--bogus", "x"]).returncode, EX_USAGE)
        qid = lib.send_message(srv.port, "alice@example.test", ["bob@example.test"],
                               lib.make_message("t65 retention", to="bob@example.test"))
        j = self.wait_track(srv, qid, lambda j: any(
            e["kind"] == "delivered" for e in events(j, "bob@example.test")), "the delivery")
        self.assertEqual(j["recipients"][0]["events"][0]["kind"], "received")
        # older than track_retention: removed (bounded wait, the writer purges every 1.5 s)
        self.wait_alive(srv, lambda: track(srv, qid).returncode == EX_NOINPUT, 20,
                        lambda: "the record removed after 3 s; log:\n" + srv.log_tail(20))
        # works with the server stopped
        srv.stop()
        self.assertEqual(track(srv, qid).returncode, EX_NOINPUT)


def peers_notice(raw):
    from t_27_dsn_postfix import postfix_notice
    return postfix_notice(raw)


if __name__ == "__main__":
    unittest.main()
