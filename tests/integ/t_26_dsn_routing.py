"""
t_26_dsn_routing: where notices go, and where they must not (RFC 3461 6.2,
RFC 5321 4.5.5 / 6.1, DSN.md 3, postino(8) NOTIFICATIONS).
A message with the null sender that fails never causes a notice; as
postino(8) documents, the failed message itself is given to
postmaster@<first local domain> (not a notice: no multipart/report is made,
the copy keeps the null sender) - with one failing recipient, with four
(the postmaster recipient is added while the outcomes are applied: the
recipient array grows past its first 4 slots), and with four expiring
after queue_lifetime (4.4.7). A notice to a remote sender goes to the
sender domain's MX with MAIL FROM:<>. A notice to a sender whose domain
does not exist fails in turn and ends in postmaster's Maildir, with no
further notice (no loop).
"""
import unittest

import lib
import peers

PM_DOMAIN = "localhost"   # the first of lib.Server's local_domains


class Routing(peers.DsnTestCase):

    @classmethod
    def dns_records(cls, dns):
        dns.mx("r.test", "mx.r.test", 10).a("mx.r.test", "127.0.0.2")
        dns.mx("far.test", "mx.far.test", 10).a("mx.far.test", "127.0.0.3")
        # sender.test, nowhere.test: NXDOMAIN

    def null_sender_fails(self, rcpts, subject, reply="550 5.1.1 no such user", **settings):
        p = self.peer("127.0.0.2", {"rcpt": reply})
        srv = self.dsn_server(**settings)
        msg = lib.make_message(subject, sender="mailer-daemon@client.test", to=rcpts[0])
        qid, _ = self.send_dsn(srv, rcpts, sender="", msg=msg)
        for a in rcpts:
            self.wait_log(srv, qid, "to=<%s>" % a, "status=failed")
        self.settle(srv)
        self.assertEqual(sorted(set(a for t in p.transactions() for a, _, _ in t.rcpts)),
                         sorted(rcpts))
        # no notice: none logged, no multipart/report anywhere, none sent out
        self.assertNoNotice(srv)
        self.assertTrue(all(t.sender == "" for t in p.transactions()), p.transactions())
        # the documented fallback: the message itself, once, to the postmaster
        pm = "postmaster@%s" % PM_DOMAIN
        [line] = self.log_lines(srv, qid, "given to <%s>" % pm)
        self.assertTrue(any("notice undeliverable to <%s>" % a in line for a in rcpts), line)
        [stored] = lib.wait_maildir_count(srv.data, PM_DOMAIN, "postmaster", 1, 0)
        headers, body = lib.split_message(stored)
        self.assertEqual(headers[0], "Return-Path: <>")
        self.assertIn("Subject: %s" % subject, headers)
        self.assertEqual(body, lib.split_message(msg.replace(b"\r\n", b"\n"))[1])
        self.assertEqual(lib.all_maildir_files(srv.data), srv.maildir("postmaster", PM_DOMAIN))
        self.assertNotIn("status=failed", "\n".join(self.log_lines(srv, pm)))

    def test_null_sender_failure_causes_no_notice(self):
        self.null_sender_fails(["nb@r.test"], "t26 null sender")

    def test_null_sender_four_recipients_fail(self):
        self.null_sender_fails(["n1@r.test", "n2@r.test", "n3@r.test", "n4@r.test"],
                               "t26 null sender four")

    def test_null_sender_four_recipients_expire(self):
        # the same through the queue_lifetime path (4.4.7 after 451s)
        self.null_sender_fails(["e1@r.test", "e2@r.test", "e3@r.test", "e4@r.test"],
                               "t26 null sender expired", reply="451 4.3.0 later",
                               queue_lifetime="2s", retry_min="1s", retry_max="1s")

    def test_notice_to_remote_sender_goes_to_its_mx(self):
        self.peer("127.0.0.2", {"rcpt": "550 5.1.1 no such user"})
        mx = self.peer("127.0.0.3")
        srv = self.dsn_server()
        sender = "alice@far.test"
        qid, msg = self.send_dsn(srv, ["bob@r.test"], "t26 remote sender", sender=sender)
        mx.wait_messages(1)
        self.settle(srv)
        [t] = mx.messages()
        self.assertEqual(t.sender, "")
        mail = [l for l in mx.commands() if l.upper().startswith("MAIL ")]
        self.assertEqual(len(mail), 1, mail)
        self.assertRegex(mail[0], r"(?i)^MAIL FROM:<>( |$)")
        self.assertEqual(t.accepted, [sender])
        [line] = self.notice_lines(srv, qid)
        nid = line.rsplit(" ", 1)[1]
        n = lib.parse_notice(t.data, sender, stored=False)
        first, _ = peers.strip_first_received(t.data)
        self.assertRegex(first, r"^Received: by mx\.test \(postino\) id %s;" % nid)
        self.assertEqual(n.final_recipients(), ["bob@r.test"])
        self.assertEqual(n.rcpt("bob@r.test")["action"], "failed")
        self.assertEqual(n.original_type, "message/rfc822")
        self.assertEqual(lib.all_maildir_files(srv.data), [])

    def test_notice_to_nxdomain_sender_ends_at_postmaster(self):
        self.peer("127.0.0.2", {"rcpt": "550 5.1.1 no such user"})
        srv = self.dsn_server()
        sender = "alice@nowhere.test"
        qid, msg = self.send_dsn(srv, ["bob@r.test"], "t26 nxdomain sender", sender=sender)
        # the notice itself, addressed to the sender, kept by the postmaster
        [n] = self.wait_notices(srv, 1, local="postmaster", domain=PM_DOMAIN, sender=sender)
        self.assertEqual(n.final_recipients(), ["bob@r.test"])
        self.assertEqual(n.rcpt("bob@r.test")["action"], "failed")
        [line] = self.notice_lines(srv)
        self.assertIn("%s: sender notice (failed, 1 recipient(s))" % qid, line)
        nid = line.rsplit(" ", 1)[1]
        failed = self.log_lines(srv, nid, "to=<%s>" % sender, "status=failed")
        self.assertEqual(len(failed), 1, srv.log_tail(20))
        self.assertEqual(len(self.log_lines(srv, nid, "given to <postmaster@%s>" % PM_DOMAIN)), 1)
        # no loop: one notice in all, nothing else anywhere
        self.assertEqual(len(self.notice_lines(srv)), 1, srv.log_tail(20))
        self.assertEqual(lib.all_maildir_files(srv.data),
                         srv.maildir("postmaster", PM_DOMAIN))
        self.assertEqual(srv.queue(), [])


if __name__ == "__main__":
    unittest.main()
