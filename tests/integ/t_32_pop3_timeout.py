"""
t_32_pop3_timeout: RFC 1939's autologout: a POP3 session idle for
timeout_pop3 is closed by the server (without applying its deletions);
and a session sees the mailbox as it was at login, whatever arrives meanwhile.
"""
import poplib
import socket
import time
import unittest

import lib


class Pop3Timeout(lib.IntegTestCase):

    def test_idle_session_closed_and_deletions_dropped(self):
        pop_port = lib.free_port()
        srv = self.server(users=["idle@example.test:{PLAIN}pw"], timeout_pop3="1s",
                          extra=["listen pop3 127.0.0.1:%d" % pop_port])
        lib.send_message(srv.port, "a@sender.test", ["idle@example.test"],
                         lib.make_message("pop idle"))
        lib.wait_maildir_count(srv.data, "example.test", "idle", 1)
        s = socket.create_connection(("127.0.0.1", pop_port), timeout=10)
        self.addCleanup(s.close)
        f = s.makefile("rb")
        self.assertTrue(f.readline().startswith(b"+OK"))
        for cmd in (b"USER idle@example.test", b"PASS pw", b"DELE 1"):
            s.sendall(cmd + b"\r\n")
            self.assertTrue(f.readline().startswith(b"+OK"), cmd)
        start = time.monotonic()
        rest = f.read()              # until the server closes the connection
        elapsed = time.monotonic() - start
        self.assertLess(elapsed, 5, "not closed within timeout_pop3 + slack")
        self.assertGreater(elapsed, 0.5, "closed before timeout_pop3")
        self.assertTrue(rest == b"" or rest.startswith(b"-ERR"), rest)
        self.assertEqual(len(lib.maildir_files(srv.data, "example.test", "idle")) +
                         len(lib.maildir_files(srv.data, "example.test", "idle", "cur")), 1)

    def test_snapshot_at_login(self):
        pop_port = lib.free_port()
        srv = self.server(users=["snap@example.test:{PLAIN}pw"],
                          extra=["listen pop3 127.0.0.1:%d" % pop_port])
        lib.send_message(srv.port, "a@sender.test", ["snap@example.test"],
                         lib.make_message("first"))
        lib.wait_maildir_count(srv.data, "example.test", "snap", 1)
        p = poplib.POP3("127.0.0.1", pop_port, timeout=10)
        self.addCleanup(p.close)
        p.user("snap@example.test")
        p.pass_("pw")
        self.assertEqual(p.stat()[0], 1)
        lib.send_message(srv.port, "a@sender.test", ["snap@example.test"],
                         lib.make_message("second"))
        lib.wait_maildir_count(srv.data, "example.test", "snap", 2)
        self.assertEqual(p.stat()[0], 1)           # the snapshot of the login
        self.assertEqual(len(p.list()[1]), 1)
        p.quit()
        p2 = poplib.POP3("127.0.0.1", pop_port, timeout=10)
        self.addCleanup(p2.close)
        p2.user("snap@example.test")
        p2.pass_("pw")
        self.assertEqual(p2.stat()[0], 2)          # a new session sees both
        p2.quit()


if __name__ == "__main__":
    unittest.main()
