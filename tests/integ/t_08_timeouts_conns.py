"""
t_08_timeouts_conns: the server side of time and connection limits.
timeout_server (2s): an idle session gets 421 4.4.2 and is closed, in any
state (after the greeting, inside a transaction, inside DATA, where the
half message is dropped), while a client that keeps talking is not cut off.
max_connections_per_ip / max_connections: the connection over the limit
gets 421 4.7.0 at once and is closed; another address is counted apart; a
freed slot can be used again. SIGTERM (and SIGINT) with clients connected:
exit 0 within a few seconds, and a message acknowledged before is not lost.
"""
import signal
import socket
import threading
import time
import unittest

import lib
from lib import expect

TIMEOUT = 2.0
SLACK = 3.0
SHUTDOWN_LIMIT = 5.0


class IdleTimeout(lib.IntegTestCase):

    def test_idle_sessions_closed_in_every_state(self):
        srv = self.server(timeout_server="2s")
        results = {}

        def idle(name, setup):
            try:
                c = srv.raw()
                try:
                    if setup(c) == "done":
                        results[name] = "done"
                        return
                    t0 = time.monotonic()
                    c.sock.settimeout(TIMEOUT + SLACK + 2)
                    r = c.reply()
                    elapsed = time.monotonic() - t0
                    closed = True
                    try:
                        c.expect_closed(SLACK)
                    except AssertionError as e:
                        closed = str(e)
                    results[name] = (r, elapsed, closed)
                finally:
                    c.close()
            except Exception as e:   # reported by the main thread
                results[name] = e

        def after_greeting(c):
            pass

        def in_transaction(c):
            c.ehlo()
            expect(c.cmd("MAIL FROM:<alice@sender.test>"), 250, "2.1.0")
            expect(c.cmd("RCPT TO:<idle@example.test>"), 250, "2.1.5")

        def in_data(c):
            in_transaction(c)
            expect(c.cmd("DATA"), 354)
            c.send(b"Subject: t08 half\r\n\r\nhalf a message\r\n")

        def talkative(c):
            # keeps the session busy for longer than the timeout, a NOOP every 0.5 s
            c.ehlo()
            for _ in range(int((TIMEOUT + 1.5) / 0.5)):
                time.sleep(0.5)
                expect(c.cmd("NOOP"), 250, "2.0.0")
            expect(c.cmd("QUIT"), 221, "2.0.0")
            return "done"

        threads = [threading.Thread(target=idle, args=(n, f)) for n, f in
                   (("greeting", after_greeting), ("transaction", in_transaction),
                    ("data", in_data), ("talkative", talkative))]
        for t in threads:
            t.start()
        for t in threads:
            t.join(TIMEOUT * 3 + SLACK * 3)
            self.assertFalse(t.is_alive(), "client thread stuck")
        self.assertEqual(results["talkative"], "done",
                         "a client sending NOOPs was cut off: %r" % (results["talkative"],))
        for name in ("greeting", "transaction", "data"):
            res = results[name]
            if isinstance(res, Exception):
                raise AssertionError("%s: %r" % (name, res))
            r, elapsed, closed = res
            expect(r, 421, "4.4.2")
            self.assertGreaterEqual(elapsed, TIMEOUT - 0.3, "%s: closed too early" % name)
            self.assertLessEqual(elapsed, TIMEOUT + SLACK, "%s: closed too late" % name)
            self.assertIs(closed, True, "%s: %s" % (name, closed))
        # the half message was not delivered: barrier
        srv.send("alice@sender.test", ["idle@example.test"], lib.make_message("t08 barrier"))
        [raw] = srv.wait_mail("idle")
        self.assertEqual(lib.header_value(raw, "Subject"), "t08 barrier")


class ConnectionLimits(lib.IntegTestCase):

    def open_ok(self, srv, source=None):
        c = self.raw(srv, source=source)
        expect(c.greeting, 220, enhanced=False)
        return c

    def refused(self, srv, source=None):
        c = self.raw(srv, source=source)
        expect(c.greeting, 421, "4.7.0")
        c.expect_closed()

    def retry_until_accepted(self, srv):
        """A freed slot becomes usable (the server may see the close a bit later)."""
        def attempt():
            c = srv.raw()
            if c.greeting.code == 220:
                self.addCleanup(c.close)
                return c
            expect(c.greeting, 421, "4.7.0")
            c.close()
            return None
        return lib.wait_for(attempt, what="a freed connection slot")

    def test_max_connections_per_ip(self):
        # 127.0.0.1 outside relay_networks: those clients are not limited per address
        srv = self.server(max_connections_per_ip="3", relay_networks="127.0.0.200/32")
        conns = [self.open_ok(srv) for _ in range(3)]
        self.refused(srv)
        self.refused(srv)
        # another address has its own count
        other = self.open_ok(srv, source="127.0.0.9")
        expect(other.cmd("NOOP"), 250, "2.0.0")
        # the accepted sessions work normally
        conns[0].ehlo()
        expect(conns[0].cmd("QUIT"), 221, "2.0.0")
        conns[0].expect_closed()
        c = self.retry_until_accepted(srv)
        c.ehlo()

    def test_max_connections(self):
        srv = self.server(max_connections="3")
        self.open_ok(srv)
        first = self.open_ok(srv, source="127.0.0.9")
        self.open_ok(srv, source="127.0.0.10")
        self.refused(srv)
        self.refused(srv, source="127.0.0.11")
        first.close()
        self.retry_until_accepted(srv)


class Shutdown(lib.IntegTestCase):

    def shutdown_with_clients(self, sig):
        srv = self.server()
        qid = srv.send("alice@sender.test", ["kept@example.test"], lib.make_message("t08 kept"))
        idle = self.raw(srv)
        mid = self.raw(srv)
        mid.ehlo()
        expect(mid.cmd("MAIL FROM:<alice@sender.test>"), 250, "2.1.0")
        expect(mid.cmd("RCPT TO:<other@example.test>"), 250, "2.1.5")
        data = self.raw(srv)
        data.ehlo()
        expect(data.cmd("MAIL FROM:<alice@sender.test>"), 250, "2.1.0")
        expect(data.cmd("RCPT TO:<other@example.test>"), 250, "2.1.5")
        expect(data.cmd("DATA"), 354)
        data.send(b"Subject: t08 unfinished\r\n\r\nnot done\r\n")
        rc, secs = srv.signal_and_wait(sig, timeout=10)
        self.assertEqual(rc, 0, "exit status after signal %d:\n%s" % (sig, srv.log_tail()))
        self.assertLessEqual(secs, SHUTDOWN_LIMIT, "shutdown took %.1fs" % secs)
        srv.check_log()
        # clients see a 421 or the close, never a hang
        for c in (idle, mid, data):
            c.sock.settimeout(5)
            try:
                r = c.reply()
            except (ConnectionResetError, socket.timeout) as e:
                if isinstance(e, socket.timeout):
                    self.fail("client still connected after the server exited")
                r = None
            if r is not None:
                expect(r, 421)
        # the acknowledged message is delivered, now or after a restart
        srv.start()
        raws = srv.wait_mail("kept")
        self.assertEqual(len(raws), 1)
        self.assertRegex(lib.split_message(raws[0])[0][1], r"\bid %s\b" % qid)
        srv.wait_queue_empty()
        self.assertEqual(srv.maildir("other"), [])

    def test_sigterm_with_clients(self):
        self.shutdown_with_clients(signal.SIGTERM)

    def test_sigint_with_clients(self):
        self.shutdown_with_clients(signal.SIGINT)


if __name__ == "__main__":
    unittest.main()
