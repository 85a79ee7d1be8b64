"""
t_crash_kill9: durability across a crash. 10 client threads send 100
messages in all (unique Subject each) while the server is killed with
SIGKILL once about 40 have been acknowledged. The server is restarted on the
same data_dir; once the queue is empty and the Maildir stops growing, every
message that got "250 ... queued" must be in the Maildir (0 lost), intact
(no half message), and none twice (the server does not redo finished work).
Runs under tests/integ/run.py with the integration tests (imports lib).
"""
import os
import sys
import threading
import time
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "integ"))
import lib  # noqa: E402

TOTAL = 100
THREADS = 10
KILL_AFTER = 40


class CrashKill9(lib.IntegTestCase):

    def test_no_acknowledged_message_lost(self):
        srv = self.server(timeout_server="60s", max_recipients="5")
        lock = threading.Lock()
        next_n = [0]
        acked = {}          # n -> queue id
        failed = {}         # n -> error text
        enough = threading.Event()

        def take():
            with lock:
                if next_n[0] >= TOTAL:
                    return None
                next_n[0] += 1
                return next_n[0] - 1

        def client():
            while True:
                n = take()
                if n is None:
                    return
                subject = "crash %03d" % n
                body = ("line %d of message %d\r\n" % (i, n) for i in range(40))
                msg = lib.make_message(subject, "".join(body) + "END %03d\r\n" % n,
                                       message_id="crash-%03d@client.test" % n)
                try:
                    qid = lib.send_message(srv.port, "crash@sender.test", ["victim@example.test"], msg)
                except Exception as e:
                    with lock:
                        failed[n] = (time.monotonic(), "%s: %s" % (type(e).__name__, e))
                    continue
                with lock:
                    acked[n] = qid
                    if len(acked) >= KILL_AFTER:
                        enough.set()

        threads = [threading.Thread(target=client, daemon=True) for _ in range(THREADS)]
        for t in threads:
            t.start()
        if not enough.wait(60):
            self.fail("only %d messages acknowledged in 60s; failures: %s"
                      % (len(acked), [v[1] for v in list(failed.values())[:5]]))
        kill_time = time.monotonic()
        srv.kill9()
        with lock:
            acked_at_kill = len(acked)
        for t in threads:
            t.join(60)
        self.assertFalse(any(t.is_alive() for t in threads), "client threads stuck")
        # a failure that ended before the kill is a server error, not the crash
        before_failures = {n: text for n, (t, text) in failed.items() if t < kill_time}

        srv.start()      # same config, same data_dir, same port
        srv.wait_queue_empty(60)
        # the Maildir has stopped growing: same count over a few polls after the queue emptied
        lib.wait_maildir_stable(srv, "victim")

        seen = {}
        broken = []
        for path in srv.maildir("victim"):
            with open(path, "rb") as f:
                raw = f.read()
            subject = lib.header_value(raw, "Subject") or "?"
            seen[subject] = seen.get(subject, 0) + 1
            if subject.startswith("crash ") and not raw.endswith(b"END %s\n" % subject[6:].encode()):
                broken.append(subject)
        lost = sorted(n for n in acked if "crash %03d" % n not in seen)
        dups = sorted(s for s, c in seen.items() if c > 1)
        unacked_delivered = sorted(s for s in seen if s.startswith("crash ")
                                   and int(s[6:]) not in acked)
        report = ("crash report: %d sent, %d acknowledged (%d at the kill), %d refused/failed, "
                  "%d delivered files, %d distinct; lost %d %s; duplicates %d %s; "
                  "delivered without 250: %d; broken: %s"
                  % (TOTAL, len(acked), acked_at_kill, len(failed), sum(seen.values()), len(seen),
                     len(lost), lost, len(dups), dups, len(unacked_delivered), broken))
        print("\n" + report)
        self.assertEqual(lost, [], report)
        self.assertEqual(broken, [], report)
        self.assertEqual(dups, [], report)
        self.assertEqual(before_failures, {}, "client failures before the kill")


if __name__ == "__main__":
    unittest.main()
