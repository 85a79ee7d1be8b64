"""
t_22_dsn_failed: failure notices (DSN.md 3-4, RFC 3461 6.2, RFC 3464).
A remote 550 for a recipient without NOTIFY gives one "failed" notice to
the sender's Maildir (Return-Path <>, From MAILER-DAEMON, multipart/report
with three parts, the delivery-status fields one by one, the original
returned whole); NOTIFY=NEVER gives none, nor does NOTIFY=SUCCESS alone;
an unknown local user found at delivery (behind an alias) gives a failed
notice with no Remote-MTA and no Diagnostic-Code; several recipients
failing together share one notice; an alias loop fails
5.4.6 once and an alias naming itself keeps a copy in its own mailbox; a failure and a success in one message
give two notices, one kind each. Every notice is parsed and checked by
lib.parse_notice (email package, policy=default, no defects).
"""
import re
import unittest

import lib
import peers
from peers import LOCAL_SENDER


class Failed(peers.DsnTestCase):

    @classmethod
    def dns_records(cls, dns):
        dns.mx("r.test", "mx.r.test", 10).a("mx.r.test", "127.0.0.2")

    def test_remote_550_default_notify(self):
        self.peer("127.0.0.2", {"rcpt": "550 5.1.1 <bob@r.test>: no such user here"})
        srv = self.dsn_server()
        qid, msg = self.send_dsn(srv, ["bob@r.test"], "t22 default")
        [n] = self.wait_notices(srv, 1)
        # the header section of the notice
        self.assertEqual(n.subject, "Undelivered Mail Returned to Sender")
        self.assertEqual(str(n.msg["In-Reply-To"]).strip(), "<t22-default@client.test>")
        [line] = self.notice_lines(srv, qid)
        self.assertIn("(failed, 1 recipient(s))", line)
        nid = line.rsplit(" ", 1)[1]
        headers, _ = lib.split_message(n.raw)
        self.assertRegex(headers[1], r"^Received: by mx\.test \(postino\) id %s;" % nid)
        # per message
        self.assertEqual(n.fields_order[:3], ["reporting-mta", "received-from-mta", "arrival-date"])
        self.assertNotIn("original-envelope-id", n.fields)
        self.assertEqual(n.fields["reporting-mta"], "dns; mx.test")
        self.assertEqual(n.fields["received-from-mta"], "dns; client.test")
        self.assertLessEqual(abs((n.arrival - n.date).total_seconds()), 30)
        # per recipient
        [r] = n.rcpts
        self.assertNotIn("original-recipient", r)
        self.assertEqual(r["final-recipient"], "rfc822; bob@r.test")
        self.assertEqual(r["action"], "failed")
        self.assertEqual(r["status"], "5.1.1")
        self.assertEqual(r["remote-mta"], "dns; mx.r.test")
        self.assertEqual(r["diagnostic-code"], "smtp; 550 5.1.1 <bob@r.test>: no such user here")
        lib.dsn_date(r["last-attempt-date"], "Last-Attempt-Date")
        self.assertNotIn("will-retry-until", r)
        self.assertIn("550 5.1.1", n.text)
        # no RET and a failure: the whole original, as queued (postino's Received first)
        self.assertEqual(n.original_type, "message/rfc822")
        first, rest = peers.strip_first_received(n.original.replace(b"\n", b"\r\n") + b"\r\n")
        self.assertRegex(first, r"^Received: from client\.test .*\bid %s\b" % qid)
        self.assertEqual(rest, msg)
        self.assertEqual(lib.all_maildir_files(srv.data), srv.maildir("alice"))

    def test_notify_never_gives_no_notice(self):
        p = self.peer("127.0.0.2", {"rcpt": "550 5.1.1 no such user"})
        srv = self.dsn_server()
        qid, _ = self.send_dsn(srv, ["never@r.test"], "t22 never",
                               rcpt_options={"never@r.test": ["NOTIFY=NEVER"]})
        self.wait_log(srv, qid, "to=<never@r.test>", "status=failed")
        self.settle(srv)
        self.assertEqual(len(p.transactions()), 1)
        self.assertEqual(srv.maildir("alice"), [])
        self.assertNoNotice(srv)
        self.assertEqual(lib.all_maildir_files(srv.data), [])

    def test_notify_success_alone_gives_no_failure_notice(self):
        self.peer("127.0.0.2", {"rcpt": "550 5.1.1 no such user"})
        srv = self.dsn_server()
        qid, _ = self.send_dsn(srv, ["only-success@r.test"], "t22 success only",
                               rcpt_options={"only-success@r.test": ["NOTIFY=SUCCESS"]})
        self.wait_log(srv, qid, "to=<only-success@r.test>", "status=failed")
        self.settle(srv)
        self.assertNoNotice(srv)
        self.assertEqual(lib.all_maildir_files(srv.data), [])

    def test_unknown_local_user_found_late(self):
        # the alias is valid at RCPT time; its target is not a user: the
        # local delivery fails, with no remote server involved
        users = ["alice@example.test:{PLAIN}secret"]
        srv = self.dsn_server(users=users, aliases=["old@example.test: nosuch@example.test"])
        qid, _ = self.send_dsn(srv, ["old@example.test"], "t22 late",
                               rcpt_options={"old@example.test": ["ORCPT=rfc822;old@example.test"]})
        [n] = self.wait_notices(srv, 1)
        [r] = n.rcpts
        self.assertEqual(r["original-recipient"].replace(" ", ""), "rfc822;old@example.test")
        self.assertEqual(r["final-recipient"], "rfc822; nosuch@example.test")
        self.assertEqual(r["action"], "failed")
        self.assertEqual(r["status"], "5.1.1")
        self.assertNotIn("remote-mta", r)
        self.assertNotIn("diagnostic-code", r)     # DSN.md 4: only a remote reply
        self.assertEqual(n.original_type, "message/rfc822")
        self.assertEqual(lib.all_maildir_files(srv.data), srv.maildir("alice"))

    def test_alias_loop(self):
        # a: b, b: a comes back to a, which has no mailbox: failed 5.4.6 once,
        # nothing grows; keep: keep, carol keeps a copy in keep's own mailbox
        users = ["alice@example.test:{PLAIN}secret", "keep@example.test:{PLAIN}secret",
                 "carol@example.test:{PLAIN}secret"]
        srv = self.dsn_server(users=users, aliases=[
            "loopa@example.test: loopb@example.test",
            "loopb@example.test: loopa@example.test",
            "keep@example.test: keep@example.test, carol@example.test"])
        self.send_dsn(srv, ["loopa@example.test", "keep@example.test"], "t22 loop")
        [n] = self.wait_notices(srv, 1)
        [r] = n.rcpts
        self.assertEqual(r["final-recipient"], "rfc822; loopa@example.test")
        self.assertEqual(r["action"], "failed")
        self.assertEqual(r["status"], "5.4.6")
        self.assertEqual(len(srv.maildir("keep")), 1)       # the queue has settled
        self.assertEqual(len(srv.maildir("carol")), 1)

    def test_several_recipients_one_notice(self):
        self.peer("127.0.0.2", {"rcpt": {"a1@r.test": "550 5.1.1 unknown a1",
                                         "a2@r.test": "553 5.1.3 bad address a2",
                                         "a3@r.test": "554 5.7.1 refused a3",
                                         "default": "250 2.1.5 ok"}})
        srv = self.dsn_server()
        rcpts = ["a1@r.test", "a2@r.test", "a3@r.test", "ok@r.test"]
        qid, msg = self.send_dsn(srv, rcpts, "t22 several")
        [n] = self.wait_notices(srv, 1)
        self.assertEqual(n.final_recipients(), ["a1@r.test", "a2@r.test", "a3@r.test"])
        self.assertEqual(n.actions(), ["failed"])
        want = {"a1@r.test": ("5.1.1", "550 5.1.1 unknown a1"),
                "a2@r.test": ("5.1.3", "553 5.1.3 bad address a2"),
                "a3@r.test": ("5.7.1", "554 5.7.1 refused a3")}
        for addr, (status, reply) in want.items():
            r = n.rcpt(addr)
            self.assertEqual(r["status"], status, r)
            self.assertEqual(r["diagnostic-code"], "smtp; " + reply, r)
            self.assertEqual(r["remote-mta"], "dns; mx.r.test", r)
            self.assertIn(reply, n.text)
        self.assertNotIn("ok@r.test", n.text)
        [line] = self.notice_lines(srv, qid)
        self.assertIn("(failed, 3 recipient(s))", line)

    def test_failure_and_success_are_separate_notices(self):
        self.peer("127.0.0.2", {"rcpt": "550 5.1.1 gone"})
        srv = self.dsn_server()
        qid, _ = self.send_dsn(srv, ["gone@r.test", "bob@example.test"], "t22 mixed",
                               rcpt_options={"bob@example.test": ["NOTIFY=SUCCESS,FAILURE"]})
        notices = self.wait_notices(srv, 2)
        self.assertEqual(len(srv.maildir("bob")), 1)
        by_action = {tuple(n.actions()): n for n in notices}
        self.assertEqual(sorted(by_action), [("delivered",), ("failed",)])
        failed, delivered = by_action[("failed",)], by_action[("delivered",)]
        self.assertEqual(failed.final_recipients(), ["gone@r.test"])
        self.assertEqual(failed.subject, "Undelivered Mail Returned to Sender")
        self.assertEqual(delivered.final_recipients(), ["bob@example.test"])
        self.assertEqual(delivered.subject, "Successful Mail Delivery Report")
        self.assertNotEqual(str(failed.msg["Message-ID"]), str(delivered.msg["Message-ID"]))
        self.assertEqual(len(self.notice_lines(srv, qid)), 2)
        self.assertEqual(sorted(re.search(r"\((\w+),", l).group(1)
                                for l in self.notice_lines(srv, qid)), ["delivered", "failed"])


if __name__ == "__main__":
    unittest.main()
