"""
t_25_dsn_delay: delay notices and the end of the queue lifetime (RFC 3461
4.1, RFC 3464 2.3.3 / 2.3.9, DSN.md 3). The next hop answers every RCPT with
451; with delay_warning 2s, queue_lifetime 6s and retries every second:
NOTIFY=DELAY,FAILURE gives one "delayed" notice (Status 4.x.x, the 451 as
Diagnostic-Code, Will-Retry-Until = arrival + queue_lifetime), then one
"failed" notice with Status 4.4.7 and the last 451 as Diagnostic-Code;
NOTIFY=DELAY alone gives the delayed notice and no failure notice;
recipients delayed together share the delayed notice, and a restart does
not send it again; NOTIFY=FAILURE alone gives no delayed notice, only the
failed one.
"""
import datetime
import unittest

import lib
import peers

REPLY_451 = "451 4.3.0 mailbox busy, try later"
TIMING = dict(delay_warning="2s", queue_lifetime="6s", retry_min="1s", retry_max="1s")


class Delay(peers.DsnTestCase):

    @classmethod
    def dns_records(cls, dns):
        dns.mx("slow.test", "mx.slow.test", 10).a("mx.slow.test", "127.0.0.2")

    def check_failed_447(self, n, addrs):
        self.assertEqual(n.final_recipients(), addrs)
        self.assertEqual(n.subject, "Undelivered Mail Returned to Sender")
        for a in addrs:
            r = n.rcpt(a)
            self.assertEqual(r["action"], "failed")
            self.assertEqual(r["status"], "4.4.7")
            self.assertEqual(r["remote-mta"], "dns; mx.slow.test")
            # DSN.md 4: Diagnostic-Code is the remote reply, when there was one
            # (the last one: the 451), typed smtp; 4.4.7 is postino's own verdict,
            # carried by Status
            self.assertEqual(r.get("diagnostic-code"), "smtp; " + REPLY_451, r)
            self.assertNotIn("will-retry-until", r)

    def test_delay_then_failure(self):
        self.peer("127.0.0.2", {"rcpt": REPLY_451})
        srv = self.dsn_server(**TIMING)
        qid, _ = self.send_dsn(srv, ["d1@slow.test", "d2@slow.test"], "t25 delay",
                               rcpt_options={"d1@slow.test": ["NOTIFY=DELAY,FAILURE"],
                                             "d2@slow.test": ["NOTIFY=DELAY"]})
        [delayed] = self.wait_notices(srv, 1, timeout=8, settle=False)
        self.assertEqual(delayed.actions(), ["delayed"])
        self.assertEqual(delayed.final_recipients(), ["d1@slow.test", "d2@slow.test"])
        self.assertEqual(delayed.subject, "Delayed Mail (still being retried)")
        arrival = delayed.arrival
        for a in ("d1@slow.test", "d2@slow.test"):
            r = delayed.rcpt(a)
            self.assertEqual(r["status"], "4.3.0")
            self.assertEqual(r["remote-mta"], "dns; mx.slow.test")
            self.assertEqual(r["diagnostic-code"], "smtp; " + REPLY_451)
            until = lib.dsn_date(r["will-retry-until"], "Will-Retry-Until")
            self.assertEqual(until - arrival, datetime.timedelta(seconds=6), r)
            lib.dsn_date(r["last-attempt-date"], "Last-Attempt-Date")
        self.assertEqual(delayed.original_type, "text/rfc822-headers")
        self.assertIn(REPLY_451, delayed.text)
        # the delayed notice was sent while the message was still queued
        self.assertTrue(any(m["id"] == qid for m in srv.queue()) or
                        self.log_lines(srv, qid, "4.4.7"), srv.log_tail(20))
        # that it was sent is durable: no second delayed notice after a restart
        srv.restart()
        notices = self.wait_notices(srv, 2, timeout=12)
        failed = [n for n in notices if n.actions() == ["failed"]]
        self.assertEqual(len(failed), 1, [n.actions() for n in notices])
        self.check_failed_447(failed[0], ["d1@slow.test"])
        self.assertEqual(failed[0].original_type, "message/rfc822")
        kinds = sorted(l.split("sender notice (")[1].split(",")[0]
                       for l in self.notice_lines(srv, qid))
        self.assertEqual(kinds, ["delayed", "failed"])

    def test_failure_only_gives_no_delay_notice(self):
        self.peer("127.0.0.2", {"rcpt": REPLY_451})
        srv = self.dsn_server(**TIMING)
        qid, _ = self.send_dsn(srv, ["f1@slow.test"], "t25 failure only",
                               rcpt_options={"f1@slow.test": ["NOTIFY=FAILURE"]})
        [n] = self.wait_notices(srv, 1, timeout=12)
        self.check_failed_447(n, ["f1@slow.test"])
        self.assertEqual(len(srv.maildir("alice")), 1)
        [line] = self.notice_lines(srv, qid)
        self.assertIn("(failed, 1 recipient(s))", line)


if __name__ == "__main__":
    unittest.main()
