"""
t_72_destconc: per-destination concurrency and dead destinations in the SMTP
client. A peer that answers "421 4.7.0 too many connections" to any
connection beyond its third open one gets no more than three at once after
its first complaint, and every message arrives exactly once. A destination
whose every connection fails (451 greeting) is contacted about
dead_threshold times for 30 messages, which stay deferred with a "not
tried" reply and next attempts spread over more than one second; `queue
flush` probes it again and, now that it accepts, all 30 are delivered.
"""
import socket
import threading
import time
import unittest

import lib
import peers


class CountingPeer:
    """A small SMTP server in threads on (ip, port). Serves at most `limit`
    sessions at once (None: no limit) and answers any connection beyond
    them with 421 4.7.0 too many connections; mode "refuse" greets every
    connection with 451 4.3.2 instead. Each session holds its end-of-data
    reply until every open session waits there too (or half a second), so
    connections overlap. Counts connections, refusals, the most open at once
    after the first refusal, and the Subject of each message received."""

    def __init__(self, ip, port, limit=None, mode="accept"):
        self.ip, self.port, self.limit, self.mode = ip, port, limit, mode
        self.cond = threading.Condition()
        self.open = 0            # sessions served now
        self.at_dot = 0          # sessions holding their end-of-data reply
        self.conns = 0
        self.refused = 0
        self.max_after_refusal = 0
        self.subjects = []
        self.gate = threading.Event()   # end-of-data replies wait for it (the test sets it)
        self.gate.set()
        self.errors = []
        self.stopping = False
        self.threads = []
        self.socks = set()

    def start(self):
        self.lsock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.lsock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.lsock.bind((self.ip, self.port))
        self.lsock.listen(64)
        self.lsock.settimeout(0.2)
        t = threading.Thread(target=self._accept, daemon=True)
        t.start()
        self.threads.append(t)
        return self

    def stop(self):
        self.stopping = True
        for t in list(self.threads):
            t.join(5)
        self.lsock.close()

    def set_mode(self, mode):
        with self.cond:
            self.mode = mode

    def _accept(self):
        while not self.stopping:
            try:
                s, _ = self.lsock.accept()
            except socket.timeout:
                continue
            except OSError:
                return
            t = threading.Thread(target=self._session_guard, args=(s,), daemon=True)
            t.start()
            self.threads.append(t)

    def _session_guard(self, s):
        s.settimeout(10)
        try:
            self._session(s)
        except (OSError, ConnectionError):
            pass
        except Exception as e:   # a bug in the test
            self.errors.append(repr(e))
        finally:
            s.close()

    def _admit(self, s):
        """Counts the connection; 1 when it is served (open counted), else 0 after a reply."""
        with self.cond:
            self.conns += 1
            total = self.open + 1
            if self.refused:
                self.max_after_refusal = max(self.max_after_refusal, total)
            if self.mode == "refuse":
                reply = b"451 4.3.2 service not available\r\n"
            elif self.limit is not None and self.open >= self.limit:
                self.refused += 1
                reply = b"421 4.7.0 too many connections\r\n"
            else:
                self.open += 1
                return 1
        s.sendall(reply)
        return 0

    def _leave(self):
        with self.cond:
            self.open -= 1
            self.cond.notify_all()

    def _hold_dot(self):
        self.gate.wait(20)
        with self.cond:
            self.at_dot += 1
            self.cond.notify_all()
            self.cond.wait_for(lambda: self.at_dot >= self.open or self.stopping, 0.5)
            self.at_dot -= 1

    def _session(self, s):
        if not self._admit(s):
            return
        served = True
        try:
            f = s.makefile("rb")
            s.sendall(b"220 peer.test ESMTP\r\n")
            while True:
                line = f.readline()
                if not line:
                    return
                verb = line[:4].upper()
                if verb == b"QUIT":
                    self._leave()
                    served = False   # counted out before 221: a new connection may follow
                    s.sendall(b"221 bye\r\n")
                    return
                if verb == b"DATA":
                    s.sendall(b"354 go\r\n")
                    self._data(f)
                    self._hold_dot()
                    s.sendall(b"250 2.0.0 queued\r\n")
                elif verb in (b"EHLO", b"HELO"):
                    s.sendall(b"250 peer.test\r\n")
                else:
                    s.sendall(b"250 2.0.0 ok\r\n")
        finally:
            if served:
                self._leave()

    def _data(self, f):
        subject = None
        while True:
            line = f.readline()
            if not line or line == b".\r\n":
                break
            if line.startswith(b"Subject: ") and subject is None:
                subject = line[9:].strip().decode()
        with self.cond:
            self.subjects.append(subject)


class DestConc(peers.RelayTestCase):

    def counting_peer(self, ip, **kw):
        p = CountingPeer(ip, self.port, **kw).start()
        self.addCleanup(p.stop)
        self.addCleanup(lambda: self.assertEqual(p.errors, []))
        return p

    def send_many(self, srv, domain, n, tag):
        subjects = ["%s %d" % (tag, i) for i in range(n)]
        for i, subject in enumerate(subjects):
            self.send(srv, ["r%d@%s" % (i, domain)], subject)
        return subjects

    def test_too_many_connections_caps_at_three(self):
        p = self.counting_peer("127.0.0.2", limit=3)
        srv = self.relay_server(route="busy.test [127.0.0.2]:%d" % self.port,
                                retry_min="1h", retry_max="2h")
        p.gate.clear()   # the first transactions wait until all 40 are queued
        subjects = self.send_many(srv, "busy.test", 40, "t72 busy")
        p.gate.set()
        self.wait_queue_empty(srv, timeout=60)
        self.assertEqual(sorted(p.subjects), sorted(subjects))   # each exactly once
        self.assertGreaterEqual(p.refused, 1, "the client never tried a fourth connection")
        self.assertLessEqual(p.max_after_refusal, 3,
                             "more than 3 open after the first 421 (refused %d): %s"
                             % (p.refused, "\n".join(self.log_lines(srv, "smtp out"))))
        self.assertEqual(p.refused, 1)
        self.wait_log(srv, "127.0.0.2", "concurrency 4 -> 3 (too many connections)")

    def test_dead_destination_not_tried_then_flush(self):
        p = self.counting_peer("127.0.0.3", mode="refuse")
        srv = self.relay_server(route="down.test [127.0.0.3]:%d" % self.port,
                                retry_min="1s", retry_max="2s")
        self.send_many(srv, "down.test", 30, "t72 down")

        def all_not_tried():
            # every message deferred; those the client tried (up to the threshold) keep
            # their real error, the others say "not tried"
            q = lib.queue_json(srv.conf)
            rs = [r for m in q for r in m["recipients"]]
            not_tried = [r for r in rs if " not tried: unreachable until " in
                         (r["last_reply"] or "")]
            return (len(rs) == 30 and all(r["status"] == "deferred" for r in rs) and
                    len(not_tried) >= 30 - p.conns and not_tried)
        rs = lib.wait_for(all_not_tried, 30, interval=0.1,
                          what=lambda: "30 deferred 'not tried': %r" % lib.queue_json(srv.conf))
        self.wait_log(srv, "127.0.0.3", "dead for ")
        self.assertLessEqual(p.conns, 5 + 2, "the dead destination was contacted per message")
        self.assertRegex(rs[0]["last_reply"], r"^4\.4\.2 .* \(last error: 451 4\.3\.2 ")
        self.assertLessEqual(sum(r["attempts"] for r in rs), p.conns)   # "not tried": no attempt
        self.assertGreater(len({r["next_attempt"] for r in rs}), 5,
                           "next attempts not spread: %r" % [r["next_attempt"] for r in rs])
        before = p.conns
        p.set_mode("accept")
        out = lib.run_cli(["queue", "-c", srv.conf, "flush"])
        self.assertEqual(out.returncode, 0, out.stderr)
        self.wait_queue_empty(srv, timeout=60)
        self.assertEqual(len(p.subjects), 30)
        self.assertGreater(p.conns, before)
        self.wait_log(srv, "127.0.0.3", "alive again")


if __name__ == "__main__":
    unittest.main()
