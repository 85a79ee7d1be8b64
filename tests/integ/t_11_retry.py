"""
t_11_retry: a local delivery error is a temporary failure: the recipient is
deferred (attempts, next_attempt and last_reply recorded durably), retried
with backoff, survives a restart, and is delivered once the mailbox can be
created; past queue_lifetime it fails with 4.4.7.
"""
import os
import unittest

import lib


def block_mailbox(data, domain, local):
    """Makes the mailbox folder impossible to create: a plain file stands in its place."""
    d = os.path.join(data, "mail", domain)
    os.makedirs(d, exist_ok=True)
    path = os.path.join(d, local)
    with open(path, "w") as f:
        f.write("not a folder\n")
    # the server runs as data_dir's owner (run_as when the tests run as root):
    # what the test makes there must be that user's, as if the server had made it
    st = os.stat(data)
    for p in (os.path.join(data, "mail"), d, path):
        os.chown(p, st.st_uid, st.st_gid)
    return path


def rcpt_state(conf, address):
    for msg in lib.queue_json(conf):
        for r in msg["recipients"]:
            if r["address"] == address:
                return r
    return None


class Retry(lib.IntegTestCase):

    def test_deferred_then_delivered_across_restart(self):
        srv = self.server(retry_min="1s", retry_max="2s")
        blocker = block_mailbox(srv.data, "example.test", "bob")
        lib.send_message(srv.port, "alice@sender.test", ["bob@example.test"],
                         lib.make_message("retry me"))
        lib.wait_for(lambda: (rcpt_state(srv.conf, "bob@example.test") or {}).get("attempts", 0) >= 2,
                     what="two failed attempts")
        r = rcpt_state(srv.conf, "bob@example.test")
        self.assertEqual(r["status"], "deferred")
        self.assertIn("4.2.0", r["last_reply"])
        self.assertIsNotNone(r["next_attempt"])
        # the schedule survives a restart
        srv.stop()
        r = rcpt_state(srv.conf, "bob@example.test")
        self.assertEqual(r["status"], "deferred")
        self.assertGreaterEqual(r["attempts"], 2)
        srv.start()
        os.unlink(blocker)
        msgs = lib.wait_maildir_count(srv.data, "example.test", "bob", 1)
        self.assertIn(b"Subject: retry me", msgs[0])
        lib.wait_for(lambda: lib.queue_json(srv.conf) == [], what="queue empty")

    def test_other_recipients_not_held_back(self):
        srv = self.server(retry_min="1m", retry_max="1h")
        block_mailbox(srv.data, "example.test", "bob")
        lib.send_message(srv.port, "alice@sender.test", ["bob@example.test", "carol@example.test"],
                         lib.make_message("partial"))
        lib.wait_maildir_count(srv.data, "example.test", "carol", 1)
        lib.wait_for(lambda: (rcpt_state(srv.conf, "bob@example.test") or {}).get("status") == "deferred",
                     what="bob deferred")
        self.assertEqual(rcpt_state(srv.conf, "carol@example.test")["status"], "delivered")

    def test_queue_lifetime_expiry(self):
        srv = self.server(retry_min="1s", retry_max="1s", queue_lifetime="2s")
        block_mailbox(srv.data, "example.test", "bob")
        lib.send_message(srv.port, "alice@sender.test", ["bob@example.test"],
                         lib.make_message("expire"))
        lib.wait_for(lambda: "4.4.7" in srv.log(), timeout=15, what="4.4.7 in the log")
        lib.wait_for(lambda: lib.queue_json(srv.conf) == [], what="message given up")
        self.assertIn("status=failed", srv.log())


if __name__ == "__main__":
    unittest.main()
