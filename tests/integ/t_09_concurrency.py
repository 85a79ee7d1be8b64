"""
t_09_concurrency: 200 clients at once (threads, released together by a
barrier), each sending one message with a unique Subject and Message-ID to
the same mailbox. Every client gets 250 with a distinct queue id, and all
200 messages end up in the Maildir exactly once, intact.
"""
import threading
import unittest

import lib

CLIENTS = 200


class Concurrency(lib.IntegTestCase):

    def test_200_concurrent_clients(self):
        # a long idle timeout: this test is about concurrency, not timeouts
        srv = self.server(timeout_server="60s")
        barrier = threading.Barrier(CLIENTS, timeout=60)
        results = [None] * CLIENTS

        def client(i):
            subject = "t09 message %03d" % i
            msg = lib.make_message(subject, ("body of %d\r\n" % i) * 20 + "END %d\r\n" % i,
                                   message_id="t09-%03d@client.test" % i)
            try:
                barrier.wait()
                results[i] = ("ok", srv.send("sender%d@sender.test" % i, ["bob@example.test"], msg))
            except Exception as e:
                results[i] = ("error", "%s: %s" % (type(e).__name__, e))

        threads = [threading.Thread(target=client, args=(i,), daemon=True) for i in range(CLIENTS)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(120)
        self.assertFalse(any(t.is_alive() for t in threads), "client threads stuck")
        errors = ["%d: %s" % (i, r[1]) for i, r in enumerate(results) if r is None or r[0] != "ok"]
        self.assertEqual(errors, [], "%d clients failed:\n%s" % (len(errors), "\n".join(errors[:20])))
        ids = [r[1] for r in results]
        self.assertEqual(len(set(ids)), CLIENTS, "queue ids are not unique")

        lib.wait_for(lambda: len(srv.maildir("bob")) >= CLIENTS, timeout=60, interval=0.05,
                     what=lambda: "%d messages in bob's Maildir (found %d)" % (CLIENTS, len(srv.maildir("bob"))))
        srv.wait_queue_empty(30)
        msgs = lib.maildir_messages(srv.data, "example.test", "bob")
        seen = {}
        for raw in msgs:
            subject = lib.header_value(raw, "Subject")
            seen[subject] = seen.get(subject, 0) + 1
            i = int(subject.rsplit(" ", 1)[1])
            self.assertTrue(raw.endswith(b"END %d\n" % i), "message %d truncated" % i)
            self.assertIn(b"Return-Path: <sender%d@sender.test>\n" % i, raw)
            self.assertEqual(lib.header_value(raw, "Message-ID"), "<t09-%03d@client.test>" % i)
        missing = [i for i in range(CLIENTS) if ("t09 message %03d" % i) not in seen]
        dups = {s: n for s, n in seen.items() if n > 1}
        self.assertEqual(missing, [], "messages missing from the Maildir")
        self.assertEqual(dups, {}, "messages delivered more than once")
        self.assertEqual(len(msgs), CLIENTS)


if __name__ == "__main__":
    unittest.main()
