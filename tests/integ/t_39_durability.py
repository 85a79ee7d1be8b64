"""
t_39_durability: an acknowledged message survives damage to its queue file.
A state record torn by a power loss (no newline) is cut off at the next start
and later appends land after the last good record, so the message stays
listed and is delivered; a queue file that cannot be read is never dropped
silently: it moves to DATA_DIR/corrupt/ (logged at error level, counted by
`queue list`), and its sender gets a failure notice when the envelope head
can still be read.
"""
import os
import unittest

import lib
import peers


def queue_file(srv, qid):
    return os.path.join(srv.data, "queue", qid[-2:], qid)


def append_bytes(path, data):
    with open(path, "ab") as f:
        f.write(data)


class TornRecord(peers.DsnTestCase):

    @classmethod
    def dns_records(cls, dns):
        dns.mx("r.test", "mx.r.test", 10).a("mx.r.test", "127.0.0.2")

    def test_torn_record_cut_off_and_message_delivered(self):
        p = self.peer("127.0.0.2", {"rcpt": "451 4.3.0 t37 try later"})
        srv = self.relay_server(retry_min="1s", retry_max="1s")
        qid, msg = self.send(srv, ["torn@r.test"], "t37 torn")
        self.wait_status(srv, "torn@r.test", "deferred")
        srv.stop()
        before = self.rcpt(srv, "torn@r.test")
        append_bytes(queue_file(srv, qid), b"state 0 defer")   # a power loss mid-append
        srv.start()
        self.wait_log(srv, qid, "torn last record cut off")
        # the next attempt's record must land after the last good record
        self.wait_status(srv, "torn@r.test", "deferred", attempts=before["attempts"] + 1)
        srv.stop()
        with open(queue_file(srv, qid), "rb") as f:
            self.assertTrue(f.read().endswith(b"\n"))
        srv.start()
        listed = self.rcpt(srv, "torn@r.test")
        self.assertIsNotNone(listed, "the message is no longer listed:\n%s" % srv.log_tail())
        self.assertEqual(listed["message"], qid)
        self.assertFalse(self.log_lines(srv, "cannot read queue file"), srv.log_tail())
        p.stop()
        ok = self.peer("127.0.0.2")
        [t] = ok.wait_messages(1, timeout=30)
        self.check_relayed_content(t.data, msg, qid)
        self.wait_queue_empty(srv)

    def test_offline_hold_after_torn_record(self):
        self.peer("127.0.0.2", {"rcpt": "451 4.3.0 t37 later"})
        srv = self.relay_server(retry_min="1h", retry_max="1h")
        qid, _ = self.send(srv, ["held@r.test"], "t37 hold")
        self.wait_status(srv, "held@r.test", "deferred")
        srv.stop()
        append_bytes(queue_file(srv, qid), b"state 0 deferr")
        cp = lib.run_cli(["queue", "-c", srv.conf, "hold", qid])
        self.assertEqual(cp.returncode, 0, cp.stderr)
        [m] = lib.queue_json(srv.conf)
        self.assertEqual((m["id"], m["hold"]), (qid, True))


class Quarantine(peers.DsnTestCase):

    @classmethod
    def dns_records(cls, dns):
        dns.mx("r.test", "mx.r.test", 10).a("mx.r.test", "127.0.0.2")

    def corrupt_dir(self, srv):
        return os.path.join(srv.data, "corrupt")

    def test_damaged_file_moved_counted_and_sender_notified(self):
        self.peer("127.0.0.2", {"rcpt": "451 4.3.0 t37 later"})
        srv = self.dsn_server(retry_min="1h", retry_max="1h")
        qid, msg = self.send_dsn(srv, ["lost@r.test"], "t37 damaged")
        self.wait_status(srv, "lost@r.test", "deferred")
        srv.stop()
        path = queue_file(srv, qid)
        append_bytes(path, b"state 0 bogus record\n")
        with open(path, "rb") as f:
            damaged = f.read()
        # the server down: not listed, but not silently left out either
        cp = lib.run_cli(["queue", "-c", srv.conf, "list"])
        self.assertEqual(cp.returncode, 0, cp.stderr)
        self.assertIn("-- 1 unreadable queue file in %s/queue" % srv.data, cp.stdout)
        srv.start()
        [notice] = self.wait_notices(srv, 1)
        self.assertEqual(notice.actions(), ["failed"])
        r = notice.rcpt("lost@r.test")
        self.assertEqual(r["status"], "5.3.0")
        self.assertIn(b"Subject: t37 damaged", notice.original)
        errors = self.log_lines(srv, qid, "is damaged", "moved to")
        self.assertEqual(len(errors), 1, srv.log_tail())
        self.assertIn("error", errors[0].lower())
        names = os.listdir(self.corrupt_dir(srv))
        self.assertEqual(names, [qid])
        with open(os.path.join(self.corrupt_dir(srv), qid), "rb") as f:
            self.assertEqual(f.read(), damaged)
        cp = lib.run_cli(["queue", "-c", srv.conf, "list"])
        self.assertIn("-- 1 corrupt queue file in %s" % self.corrupt_dir(srv), cp.stdout)
        cp = lib.run_cli(["queue", "-c", srv.conf, "list", "--json"])
        self.assertEqual(cp.stdout, "")       # one object per message, and none is left
        self.assertIn("1 corrupt queue file in %s" % self.corrupt_dir(srv), cp.stderr)
        # a restart does not report or notify twice
        srv.restart()
        self.assertEqual(len(self.log_lines(srv, qid, "is damaged")), 1)
        self.assertEqual(len(srv.maildir("alice")), 1)

    def test_unreadable_head_moved_not_lost(self):
        srv = self.dsn_server()
        srv.stop()
        qid = "0123456789ABCDEF"
        path = queue_file(srv, qid)
        with open(path, "wb") as f:
            f.write(b"postino-queue 1\nid 0123456789ABCDEF\nnonsense\n")
        srv.start()
        self.wait_log(srv, qid, "nobody can be told")
        self.assertFalse(os.path.exists(path))
        self.assertEqual(os.listdir(self.corrupt_dir(srv)), [qid])
        cp = lib.run_cli(["queue", "-c", srv.conf, "list"])
        self.assertIn("Mail queue is empty", cp.stdout)
        self.assertIn("-- 1 corrupt queue file in", cp.stdout)


if __name__ == "__main__":
    unittest.main()
