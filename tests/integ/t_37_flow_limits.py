"""
t_37_flow_limits: what a hostile or broken client can no longer do to the
server's memory, descriptors and sessions.
- Flow control: a client that pipelines EHLO (SMTP) or CAPA (POP3) without
  ever reading its replies cannot grow the server: once its unread replies
  pass a bound the server stops reading it (the client's send blocks), and
  drops it after timeout_server / timeout_pop3.
- A pipelined burst of 1200 RCPT in one write (max_recipients 1000) gets
  every reply: 1000 x 250 then 200 x 452 4.5.3, and the session goes on.
- A command line trickled in one octet at a time must still be complete
  within timeout_server (SMTP, 421 4.4.2) / timeout_pop3 (POP3, -ERR).
- Connection limits: relay_networks clients are not limited per address, a
  session stops counting once its 221 is sent, POP3 sessions count with
  SMTP ones under the same max_connections / max_connections_per_ip.
- Descriptors: out of descriptors, the server pauses accepting and says so
  once (no spinning, no flood of log lines), then serves again; at start it
  raises its soft descriptor limit to the hard one and refuses
  (exit 2, FILE:LINE) a max_connections that cannot fit.
"""
import os
import resource
import select
import sys
import socket
import subprocess
import time
import unittest

import lib
from lib import expect

TIMEOUT = 2.0
SLACK = 3.0
NOT_RELAY = "127.0.0.200/32"   # relay_networks that leaves 127.0.0.1 a stranger


def rss_kib(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def cpu_seconds(pid):
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def flood(port, greeting_line, command, cap=64 << 20):
    """Connects, reads the greeting line, then sends command over and over
    without reading a byte. Returns the octets sent before the send blocked
    and the server closed (or cap was reached)."""
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 256 * 1024)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 64 * 1024)
    s.settimeout(10)
    s.connect(("127.0.0.1", port))
    try:
        assert s.recv(1024).startswith(greeting_line)
        chunk = command * (65536 // len(command))
        sent = 0
        while sent < cap:
            try:
                sent += s.send(chunk)
            except (ConnectionResetError, BrokenPipeError, socket.timeout):
                break
        return sent
    finally:
        s.close()


class FlowControl(lib.IntegTestCase):

    def check_flood(self, srv, port, greeting, command, log_needle):
        before = rss_kib(srv.proc.pid)
        sent = flood(port, greeting, command)
        grown = rss_kib(srv.proc.pid) - before
        self.assertLess(sent, 24 << 20, "the server kept reading a client that reads nothing")
        self.assertLess(grown, 32 * 1024, "server grew by %d KiB" % grown)
        lib.wait_for(lambda: log_needle in srv.log(), timeout=TIMEOUT + SLACK + 5,
                     what="the non-reading client dropped")
        with srv.raw() as c:   # and the server serves the next client
            expect(c.cmd("NOOP"), 250, "2.0.0")

    def test_smtp_ehlo_flood_not_read(self):
        srv = self.server(timeout_server="2s")
        self.check_flood(srv, srv.port, b"220 ", b"EHLO flood.test\r\n",
                         "client does not read its replies")

    def test_pop3_capa_flood_not_read(self):
        pop = lib.free_port()
        srv = self.server(timeout_pop3="2s", extra=["listen pop3 127.0.0.1:%d" % pop])
        self.check_flood(srv, pop, b"+OK", b"CAPA\r\n",
                         "pop3: 127.0.0.1: client does not read its replies")

    def test_pipelined_rcpt_burst(self):
        srv = self.server(max_recipients="1000")
        c = self.raw(srv)
        c.ehlo()
        burst = b"MAIL FROM:<alice@sender.test>\r\n" + b"".join(
            b"RCPT TO:<r%d@example.test>\r\n" % i for i in range(1200))
        c.send(burst)
        expect(c.reply(), 250, "2.1.0")
        codes = [c.reply() for _ in range(1200)]
        self.assertTrue(all(r is not None for r in codes), "connection closed in the burst")
        for r in codes[:1000]:
            expect(r, 250, "2.1.5")
        for r in codes[1000:]:
            expect(r, 452, "4.5.3")
        expect(c.cmd("RSET"), 250, "2.0.0")
        expect(c.cmd("QUIT"), 221, "2.0.0")


class SlowLine(lib.IntegTestCase):

    def trickle(self, port, greeting, text, limit=TIMEOUT + SLACK + 4):
        """Sends text one octet every 0.2 s (never a line end) until the server
        answers; returns (answer, seconds) or fails after limit seconds."""
        s = socket.create_connection(("127.0.0.1", port), timeout=10)
        self.addCleanup(s.close)
        self.assertTrue(s.recv(1024).startswith(greeting))
        t0 = time.monotonic()
        i = 0
        while time.monotonic() - t0 < limit:
            try:
                s.send(text[i % len(text):i % len(text) + 1])
            except (BrokenPipeError, ConnectionResetError):
                break
            i += 1
            if select.select([s], [], [], 0.2)[0]:
                break
        s.settimeout(SLACK)
        try:
            answer = s.recv(1024)
        except (socket.timeout, ConnectionResetError):
            answer = b""
        return answer, time.monotonic() - t0

    def test_smtp_line_deadline(self):
        srv = self.server(timeout_server="2s")
        answer, secs = self.trickle(srv.port, b"220 ", b"NOOP and more and more ")
        self.assertTrue(answer.startswith(b"421 4.4.2 "), answer)
        self.assertGreaterEqual(secs, TIMEOUT - 0.3)
        self.assertLess(secs, TIMEOUT + SLACK)
        self.assertIn("command line not complete", srv.log())

    def test_pop3_line_deadline(self):
        pop = lib.free_port()
        srv = self.server(timeout_pop3="2s", extra=["listen pop3 127.0.0.1:%d" % pop])
        answer, secs = self.trickle(pop, b"+OK", b"USER slowly@example.test")
        self.assertTrue(answer.startswith(b"-ERR "), answer)
        self.assertGreaterEqual(secs, TIMEOUT - 0.3)
        self.assertLess(secs, TIMEOUT + SLACK)


class Limits(lib.IntegTestCase):

    def greet(self, srv, source=None):
        c = self.raw(srv, source=source)
        return c

    def test_relay_networks_not_limited_per_ip(self):
        srv = self.server(max_connections_per_ip="2")   # relay_networks 127.0.0.1/32
        for _ in range(5):
            expect(self.greet(srv).greeting, 220, enhanced=False)
        for _ in range(2):
            expect(self.greet(srv, "127.0.0.9").greeting, 220, enhanced=False)
        c = self.greet(srv, "127.0.0.9")
        expect(c.greeting, 421, "4.7.0")

    def test_quit_stops_counting(self):
        srv = self.server(max_connections_per_ip="2", relay_networks=NOT_RELAY)
        a = self.greet(srv, "127.0.0.9")
        self.greet(srv, "127.0.0.9")
        expect(a.cmd("QUIT"), 221, "2.0.0")
        # the 221 was queued after the session stopped counting: no race
        for _ in range(3):
            c = self.greet(srv, "127.0.0.9")
            expect(c.greeting, 220, enhanced=False)
            expect(c.cmd("QUIT"), 221, "2.0.0")
        expect(self.greet(srv, "127.0.0.9").greeting, 220, enhanced=False)
        expect(self.greet(srv, "127.0.0.9").greeting, 421, "4.7.0")

    def pop(self, port, source):
        s = socket.socket()
        self.addCleanup(s.close)
        s.bind((source, 0))
        s.settimeout(10)
        s.connect(("127.0.0.1", port))
        return s, s.recv(1024)

    def test_pop3_counted_with_smtp(self):
        port = lib.free_port()
        srv = self.server(max_connections_per_ip="2", relay_networks=NOT_RELAY,
                          extra=["listen pop3 127.0.0.1:%d" % port])
        expect(self.greet(srv, "127.0.0.9").greeting, 220, enhanced=False)
        _, hello = self.pop(port, "127.0.0.9")
        self.assertTrue(hello.startswith(b"+OK"), hello)
        s, refused = self.pop(port, "127.0.0.9")
        self.assertTrue(refused.startswith(b"-ERR [SYS/TEMP]"), refused)
        self.assertEqual(s.recv(1024), b"", "a refused POP3 session must be closed")
        expect(self.greet(srv, "127.0.0.9").greeting, 421, "4.7.0")
        _, other = self.pop(port, "127.0.0.10")    # another address, its own count
        self.assertTrue(other.startswith(b"+OK"), other)

    def test_pop3_max_connections(self):
        port = lib.free_port()
        srv = self.server(max_connections="2", extra=["listen pop3 127.0.0.1:%d" % port])
        _, a = self.pop(port, "127.0.0.9")
        _, b = self.pop(port, "127.0.0.10")
        _, c = self.pop(port, "127.0.0.11")
        self.assertTrue(a.startswith(b"+OK") and b.startswith(b"+OK"), (a, b))
        self.assertTrue(c.startswith(b"-ERR [SYS/TEMP]"), c)


def nofile_limit(pid, new=None):
    """The server's RLIMIT_NOFILE (soft, hard), first set to new if given. Run as
    root, the tests' servers run as run_as (postino), and changing another user's
    limits takes CAP_SYS_RESOURCE, which a container may not give: the change is
    made by a child with the server's own uids and gids."""
    st = os.stat("/proc/%d" % pid)
    if new is not None and st.st_uid == os.geteuid():
        resource.prlimit(pid, resource.RLIMIT_NOFILE, new)
    elif new is not None:
        code = ("import resource, sys; "
                "resource.prlimit(int(sys.argv[1]), resource.RLIMIT_NOFILE, "
                "(int(sys.argv[2]), int(sys.argv[3])))")

        def as_server():
            os.setgroups([])
            os.setgid(st.st_gid)
            os.setuid(st.st_uid)
        subprocess.run([sys.executable, "-c", code, str(pid), str(new[0]), str(new[1])],
                       check=True, timeout=30, preexec_fn=as_server)
    with open("/proc/%d/limits" % pid) as f:
        words = [l.split() for l in f if l.startswith("Max open files")][0]
    return tuple(resource.RLIM_INFINITY if w == "unlimited" else int(w) for w in words[3:5])


class Descriptors(lib.IntegTestCase):

    def test_out_of_descriptors_pauses_accepting(self):
        srv = self.server(max_connections="50")
        pid = srv.proc.pid
        # the queue is read in the background: once that is over, accepting is all that
        # needs descriptors (a scan cut short by the limit is read again later)
        lib.wait_for(lambda: "message(s) loaded" in srv.log(), what="the queue loaded")
        soft, hard = nofile_limit(pid)
        used = len(os.listdir("/proc/%d/fd" % pid))
        nofile_limit(pid, (used + 2, hard))
        clients = []
        try:
            for _ in range(8):
                s = socket.create_connection(("127.0.0.1", srv.port), timeout=10)
                clients.append(s)
            lib.wait_for(lambda: "Too many open files" in srv.log(), what="the shortage logged")
            # paused, not spinning: the shortage is logged once and costs no CPU
            cpu0 = cpu_seconds(pid)
            time.sleep(1.5)   # more than one pause: each retry must stay quiet
            lines = [l for l in srv.log().splitlines() if "Too many open files" in l]
            self.assertEqual(len(lines), 1, lines[:5])
            self.assertLess(cpu_seconds(pid) - cpu0, 0.6, "the accept loop spins")
            self.assertIn("accept on 127.0.0.1:%d" % srv.port, lines[0])
        finally:
            for s in clients:
                s.close()
            nofile_limit(pid, (soft, hard))
        def served():
            try:
                with srv.raw(timeout=3) as c:
                    return c.greeting is not None and c.greeting.code == 220
            except OSError:
                return False
        lib.wait_for(served, timeout=10, what="accepting again")

    def test_soft_limit_raised_to_hard(self):
        soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        if hard == resource.RLIM_INFINITY or hard < 2048:
            self.skipTest("needs a finite hard limit of at least 2048 (have %s)" % hard)
        resource.setrlimit(resource.RLIMIT_NOFILE, (1024, hard))
        try:
            srv = self.server()
        finally:
            resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))
        self.assertEqual(nofile_limit(srv.proc.pid), (hard, hard))

    def test_max_connections_must_fit(self):
        srv = self.server(start=False, max_connections="5000")
        srv.write_config()
        with open(srv.conf) as f:
            line = [i for i, l in enumerate(f, 1) if l.startswith("max_connections ")][0]
        def low_limit():
            resource.setrlimit(resource.RLIMIT_NOFILE, (1024, 1024))
        p = subprocess.run([lib.BIN, "serve", "-c", srv.conf], preexec_fn=low_limit,
                           stdin=subprocess.DEVNULL, capture_output=True, timeout=30)
        err = p.stderr.decode()
        self.assertEqual(p.returncode, 2, err)
        self.assertIn("%s:%d: max_connections 5000" % (srv.conf, line), err)
        self.assertIn("1024", err)


if __name__ == "__main__":
    unittest.main()
