"""
t_24_dsn_success: success notices and the duty to report (RFC 3461 6.2,
DSN.md 3). NOTIFY=SUCCESS to a local user gives a "delivered" notice (no
Remote-MTA, the headers returned); a next hop offering DSN gets RET, ENVID,
NOTIFY and ORCPT with the xtext as sent and postino sends no notice (the
duty passed on); a next hop without DSN gives a "relayed" notice. An alias
of several targets gives one "expanded" notice and its targets lose SUCCESS
but keep FAILURE (no ORCPT); an alias of one target is a forward: the
target's delivery gives a "delivered" notice whose Original-Recipient is
the ORCPT given for the alias; relayed to a DSN peer, a forward's target
carries the alias's NOTIFY and ORCPT, an expansion's targets NOTIFY without
SUCCESS and no inherited ORCPT.
"""
import unittest

import lib
import peers
from peers import LOCAL_SENDER

ALIASES = [
    "list@example.test: bob@example.test, carol@example.test",
    "team@example.test: dave@example.test, gone@r.test",
    "fwd@example.test: erin@example.test",
    "fwd2@example.test: far1@r.test",
    "multi@example.test: m1@r.test, m2@r.test",
]


class Success(peers.DsnTestCase):

    @classmethod
    def dns_records(cls, dns):
        dns.mx("r.test", "mx.r.test", 10).a("mx.r.test", "127.0.0.2")

    def test_notify_success_local_delivery(self):
        srv = self.dsn_server()
        qid, msg = self.send_dsn(srv, ["bob@example.test"], "t24 delivered",
                                 rcpt_options={"bob@example.test": ["NOTIFY=SUCCESS"]})
        [n] = self.wait_notices(srv, 1)
        self.assertEqual(len(srv.maildir("bob")), 1)
        self.assertEqual(n.subject, "Successful Mail Delivery Report")
        [r] = n.rcpts
        self.assertEqual(r["final-recipient"], "rfc822; bob@example.test")
        self.assertEqual(r["action"], "delivered")
        self.assertRegex(r["status"], r"^2\.")
        self.assertNotIn("remote-mta", r)
        self.assertNotIn("diagnostic-code", r)
        self.assertNotIn("will-retry-until", r)
        # not a failure and no RET: the header section only
        self.assertEqual(n.original_type, "text/rfc822-headers")
        self.assertIn(b"Subject: t24 delivered", n.original_headers)
        self.assertNotIn(b"Hello.", n.original)
        [line] = self.notice_lines(srv, qid)
        self.assertIn("(delivered, 1 recipient(s))", line)

    def test_dsn_peer_gets_parameters_and_no_notice(self):
        p = self.peer("127.0.0.2")          # offers DSN
        srv = self.dsn_server()
        opts = ["NOTIFY=SUCCESS,FAILURE", "ORCPT=rfc822;x+2By@r.test"]
        qid, msg = self.send_dsn(srv, ["pt@r.test"], "t24 pass", mail_options=["RET=HDRS",
                                 "ENVID=pt+2B1+3Dz"], rcpt_options={"pt@r.test": opts})
        [t] = p.wait_messages(1)
        self.settle(srv)
        self.assertEqual(t.mail_params.get("RET"), "HDRS", t.mail_arg)
        self.assertEqual(t.mail_params.get("ENVID"), "pt+2B1+3Dz", t.mail_arg)
        params = t.rcpt_params("pt@r.test")
        self.assertEqual(sorted(params.get("NOTIFY", "").upper().split(",")), ["FAILURE", "SUCCESS"])
        self.assertEqual(params.get("ORCPT"), "rfc822;x+2By@r.test")
        self.assertEqual(self.rcpt(srv, "pt@r.test"), None)
        self.assertNoNotice(srv)
        self.assertEqual(lib.all_maildir_files(srv.data), [])

    def test_relayed_notice_for_a_peer_without_dsn(self):
        p = self.peer("127.0.0.2", {"ehlo": peers.EHLO_NO_DSN})
        srv = self.dsn_server()
        qid, _ = self.send_dsn(srv, ["rl@r.test", "quiet@r.test"], "t24 relayed",
                               mail_options=["ENVID=rel1"],
                               rcpt_options={"rl@r.test": ["NOTIFY=SUCCESS",
                                                           "ORCPT=rfc822;rl@r.test"]})
        [t] = p.wait_messages(1)
        [n] = self.wait_notices(srv, 1)
        for line in [l for l in p.commands() if l.upper().startswith(("MAIL ", "RCPT "))]:
            for param in ("RET=", "ENVID=", "NOTIFY=", "ORCPT="):
                self.assertNotIn(param, line.upper())
        self.assertEqual(n.fields["original-envelope-id"], "rel1")
        [r] = n.rcpts           # quiet@ asked nothing: no success notice for it
        self.assertEqual(r["final-recipient"], "rfc822; rl@r.test")
        self.assertEqual(r["original-recipient"].replace(" ", ""), "rfc822;rl@r.test")
        self.assertEqual(r["action"], "relayed")
        self.assertRegex(r["status"], r"^2\.")
        self.assertEqual(r["remote-mta"], "dns; mx.r.test")
        if "diagnostic-code" in r:
            self.assertRegex(r["diagnostic-code"], r"^smtp; 25\d ")
        self.assertEqual(n.original_type, "text/rfc822-headers")
        self.assertEqual(len(self.notice_lines(srv, qid)), 1)

    def test_expanded_notice_for_an_alias_of_several(self):
        srv = self.dsn_server(aliases=ALIASES)
        qid, _ = self.send_dsn(srv, ["list@example.test"], "t24 expanded",
                               rcpt_options={"list@example.test": ["NOTIFY=SUCCESS",
                                                                   "ORCPT=rfc822;list@example.test"]})
        [n] = self.wait_notices(srv, 1)
        self.assertEqual(len(srv.wait_mail("bob")), 1)
        self.assertEqual(len(srv.wait_mail("carol")), 1)
        self.settle(srv)
        [r] = n.rcpts
        self.assertEqual(r["final-recipient"], "rfc822; list@example.test")
        self.assertEqual(r["original-recipient"].replace(" ", ""), "rfc822;list@example.test")
        self.assertEqual(r["action"], "expanded")
        self.assertRegex(r["status"], r"^2\.")
        # the targets inherit NOTIFY without SUCCESS (here: NEVER): no delivered notices
        self.assertEqual(len(srv.maildir("alice")), 1)
        [line] = self.notice_lines(srv, qid)
        self.assertIn("(expanded, 1 recipient(s))", line)

    def test_expanded_notice_when_a_target_is_already_a_recipient(self):
        # list@ has two targets; bob@ is also a recipient in its own right, so
        # only carol@ is added for list@. list@ is still an alias of several
        # addresses (its targets lose SUCCESS): the sender who asked SUCCESS
        # for it must get the "expanded" notice, or no success news at all
        srv = self.dsn_server(aliases=ALIASES)
        qid, _ = self.send_dsn(srv, ["bob@example.test", "list@example.test"], "t24 dedup",
                               rcpt_options={"list@example.test": ["NOTIFY=SUCCESS"]})
        self.assertEqual(len(srv.wait_mail("bob")), 1)
        self.assertEqual(len(srv.wait_mail("carol")), 1)
        self.settle(srv)
        notices = lib.notices_in(srv.data, "example.test", "alice")
        self.assertEqual(len(notices), 1, "notices for list@example.test (NOTIFY=SUCCESS): %d; "
                         "log:\n%s" % (len(notices), srv.log_tail(20)))
        n = lib.parse_notice(notices[0], LOCAL_SENDER)
        [r] = n.rcpts
        self.assertEqual(r["final-recipient"], "rfc822; list@example.test")
        self.assertEqual(r["action"], "expanded")

    def test_expanded_targets_keep_failure(self):
        self.peer("127.0.0.2", {"rcpt": "550 5.1.1 gone"})
        srv = self.dsn_server(aliases=ALIASES)
        qid, _ = self.send_dsn(srv, ["team@example.test"], "t24 team",
                               rcpt_options={"team@example.test": ["NOTIFY=SUCCESS,FAILURE",
                                                                   "ORCPT=rfc822;team@example.test"]})
        notices = self.wait_notices(srv, 2)
        self.assertEqual(len(srv.maildir("dave")), 1)
        by_action = {tuple(n.actions()): n for n in notices}
        self.assertEqual(sorted(by_action), [("expanded",), ("failed",)])
        [e] = by_action[("expanded",)].rcpts
        self.assertEqual(e["final-recipient"], "rfc822; team@example.test")
        [f] = by_action[("failed",)].rcpts
        self.assertEqual(f["final-recipient"], "rfc822; gone@r.test")
        self.assertNotIn("original-recipient", f)       # RFC 3461 6.2.7: no ORCPT inherited
        self.assertEqual(f["status"], "5.1.1")
        self.assertEqual(f["diagnostic-code"], "smtp; 550 5.1.1 gone")

    def test_one_target_alias_is_a_forward(self):
        srv = self.dsn_server(aliases=ALIASES)
        qid, _ = self.send_dsn(srv, ["fwd@example.test"], "t24 forward",
                               rcpt_options={"fwd@example.test": ["NOTIFY=SUCCESS",
                                                                  "ORCPT=rfc822;fwd+2Bx@example.test"]})
        [n] = self.wait_notices(srv, 1)
        self.assertEqual(len(srv.wait_mail("erin")), 1)
        self.settle(srv)
        [r] = n.rcpts
        self.assertEqual(r["action"], "delivered")
        self.assertEqual(r["final-recipient"], "rfc822; erin@example.test")
        self.assertEqual(r["original-recipient"].replace(" ", ""), "rfc822;fwd+x@example.test")
        self.assertRegex(r["status"], r"^2\.")
        [line] = self.notice_lines(srv, qid)
        self.assertIn("(delivered, 1 recipient(s))", line)

    def test_alias_targets_relayed_to_a_dsn_peer(self):
        p = self.peer("127.0.0.2")          # offers DSN
        srv = self.dsn_server(aliases=ALIASES)
        qid, _ = self.send_dsn(srv, ["fwd2@example.test", "multi@example.test"], "t24 alias relay",
                               rcpt_options={"fwd2@example.test": ["NOTIFY=SUCCESS,DELAY",
                                                                  "ORCPT=rfc822;fwd2@example.test"],
                                             "multi@example.test": ["NOTIFY=SUCCESS,FAILURE"]})
        [t] = p.wait_messages(1)
        [n] = self.wait_notices(srv, 1)
        self.assertEqual(sorted(t.accepted), ["far1@r.test", "m1@r.test", "m2@r.test"])
        # the forward: NOTIFY and ORCPT follow the new address
        far = t.rcpt_params("far1@r.test")
        self.assertEqual(sorted(far.get("NOTIFY", "").upper().split(",")), ["DELAY", "SUCCESS"])
        self.assertEqual(far.get("ORCPT"), "rfc822;fwd2@example.test")
        # the expansion: FAILURE kept, SUCCESS dropped, no ORCPT inherited
        for a in ("m1@r.test", "m2@r.test"):
            params = t.rcpt_params(a)
            self.assertEqual(params.get("NOTIFY", "").upper(), "FAILURE", params)
            if "ORCPT" in params:       # RFC 3461 6.1: one may be made from the address
                self.assertEqual(params["ORCPT"].lower(), "rfc822;" + a)
        # the one notice: "expanded" for multi@ (the peer reports on the rest)
        [r] = n.rcpts
        self.assertEqual(r["final-recipient"], "rfc822; multi@example.test")
        self.assertEqual(r["action"], "expanded")


if __name__ == "__main__":
    unittest.main()
