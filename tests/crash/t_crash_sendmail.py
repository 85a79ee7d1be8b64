"""
t_crash_sendmail: durability of local submission across a crash. 6 threads
run `postino sendmail` 60 times in all (unique Subject each) while the
server picks the messages up; it is killed with SIGKILL once about 20 have
reached the Maildir, while the rest are being written to the drop directory
or taken into the queue. The server is restarted on the same data_dir;
every message for which sendmail exited 0 must then be in the Maildir
exactly once and intact, and the drop directory must be empty.
"""
import os
import subprocess
import sys
import threading
import time
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "integ"))
import lib  # noqa: E402

TOTAL = 60
THREADS = 6
KILL_AFTER = 20


class CrashSendmail(lib.IntegTestCase):

    def submit(self, srv, n):
        body = "".join("line %d of message %d\n" % (i, n) for i in range(40))
        msg = ("To: victim@example.test\nSubject: drop %03d\n\n%sEND %03d\n" % (n, body, n)).encode()
        cp = subprocess.run([lib.BIN, "sendmail", "-C", srv.conf, "-t"], input=msg,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=30)
        if lib.sanitizer_report(cp.stderr.decode(errors="replace")):
            raise AssertionError(cp.stderr.decode(errors="replace"))
        return cp.returncode

    def test_no_submitted_message_lost_or_doubled(self):
        srv = self.server()
        lock = threading.Lock()
        todo = list(range(TOTAL))
        exit_codes = {}

        def worker():
            while True:
                with lock:
                    if not todo:
                        return
                    n = todo.pop(0)
                rc = self.submit(srv, n)
                with lock:
                    exit_codes[n] = rc

        threads = [threading.Thread(target=worker, daemon=True) for _ in range(THREADS)]
        for t in threads:
            t.start()
        lib.wait_for(lambda: len(srv.maildir("victim")) >= KILL_AFTER, timeout=60,
                     what="%d messages delivered before the kill" % KILL_AFTER)
        srv.kill9()
        delivered_at_kill = len(srv.maildir("victim"))
        for t in threads:
            t.join(60)
        self.assertFalse(any(t.is_alive() for t in threads), "sendmail threads stuck")
        srv.start()
        dropdir = os.path.join(srv.data, "maildrop")
        lib.wait_for(lambda: not os.listdir(dropdir), timeout=60, what="the drop directory emptied")
        srv.wait_queue_empty(60)
        lib.wait_maildir_stable(srv, "victim")

        seen, broken = {}, []
        for path in srv.maildir("victim"):
            with open(path, "rb") as f:
                raw = f.read()
            subject = lib.header_value(raw, "Subject") or "?"
            seen[subject] = seen.get(subject, 0) + 1
            if not raw.endswith(b"END %s\n" % subject[5:].encode()):
                broken.append(subject)
        ok = sorted(n for n, rc in exit_codes.items() if rc == 0)
        lost = [n for n in ok if "drop %03d" % n not in seen]
        dups = sorted(s for s, c in seen.items() if c > 1)
        report = ("sendmail crash report: %d submitted, %d exited 0, %d delivered at the kill, "
                  "%d files, lost %s, duplicates %s, broken %s, exit codes %s"
                  % (TOTAL, len(ok), delivered_at_kill, sum(seen.values()), lost, dups, broken,
                     sorted(set(exit_codes.values()))))
        print("\n" + report)
        self.assertEqual(len(ok), TOTAL, report)   # sendmail does not need the server
        self.assertEqual(lost, [], report)
        self.assertEqual(dups, [], report)
        self.assertEqual(broken, [], report)


if __name__ == "__main__":
    unittest.main()
