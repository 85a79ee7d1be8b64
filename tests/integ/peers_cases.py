"""
peers_cases: the base classes of the relay and notice tests (re-exported by
peers).

What it owns: RelayTestCase (a dnsmasq for the whole class; per test a port
free on every PEER_IPS address, peers and servers stopped by addCleanup, and
the checks on what a peer received), DsnTestCase (notices on: send with DSN
parameters, wait for the notices and parse them with lib.parse_notice), the
settings they start postino with (RELAY_DEFAULTS, DSN_DEFAULTS), the
addresses they use (PEER_IPS, OUTSIDE_IP, SENDER, LOCAL_SENDER), and
unfold_headers, strip_first_received.
"""
import os
import shutil
import tempfile

import lib
from peers_aiosmtpd import AiosmtpdPeer
from peers_dns import BlackholeDns, DnsServer, free_shared_port
from peers_smtp import ScriptedPeer


# --------------------------------------------------------------------------
# Small helpers for the relay tests


def unfold_headers(data):
    """The header lines of a CRLF message, unfolded: [str]."""
    head = data.split(b"\r\n\r\n", 1)[0].decode("utf-8", "replace")
    out = []
    for line in head.split("\r\n"):
        if line[:1] in (" ", "\t") and out:
            out[-1] += " " + line.strip()
        else:
            out.append(line)
    return out


def strip_first_received(data):
    """(the first header, unfolded, as str; the rest of the message bytes):
    what postino prepended, and the original message after it."""
    end = data.find(b"\r\n")
    while end >= 0 and data[end + 2:end + 3] in (b" ", b"\t"):
        end = data.find(b"\r\n", end + 2)
    if end < 0:
        raise AssertionError("no header line in %r" % data[:200])
    first = data[:end].decode("utf-8", "replace")
    first = " ".join(part.strip() for part in first.split("\r\n"))
    return first, data[end + 2:]


# --------------------------------------------------------------------------
# The base class of the relay tests

PEER_IPS = ("127.0.0.2", "127.0.0.3", "127.0.0.4", "127.0.0.5")
OUTSIDE_IP = "127.0.0.9"     # a client outside relay_networks (127.0.0.1/32)
SENDER = "alice@sender.test"  # sender.test is NXDOMAIN: a notice to it fails at once

# postino settings for relay tests: short retries, short client timeouts (so a
# broken client never waits minutes), no DELAY notices
RELAY_DEFAULTS = dict(
    relay_networks="127.0.0.1/32",
    retry_min="1s", retry_max="4s",
    queue_lifetime="1h", delay_warning="0",
    timeout_greeting="5s", timeout_mail="5s", timeout_rcpt="5s",
    timeout_data_init="5s", timeout_data_block="5s", timeout_data_end="5s",
)


class RelayTestCase(lib.IntegTestCase):
    """A dnsmasq for the whole class (records from dns_records(dns), a
    classmethod to override), and per test: self.port, an SMTP port free on
    every PEER_IPS address (postino's smtp_port), peers and servers stopped by
    addCleanup."""

    dns = None

    @classmethod
    def dns_records(cls, dns):
        pass

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        dns = DnsServer()
        try:
            cls.dns_records(dns)
            dns.start()
        except BaseException:
            dns.stop()
            raise
        cls.dns = dns

    @classmethod
    def tearDownClass(cls):
        if cls.dns is not None:
            cls.dns.stop()
            cls.dns = None
        super().tearDownClass()

    def setUp(self):
        super().setUp()
        self.port = free_shared_port(("127.0.0.1",) + PEER_IPS)

    # fixtures

    def peer(self, ip, plan=None, port=None, **kw):
        p = ScriptedPeer(ip, port or self.port, plan, **kw)
        p.start()
        self.addCleanup(p.stop)
        self.addCleanup(self._peer_errors, p)
        return p

    def _peer_errors(self, p):
        if p.errors:
            raise AssertionError("%s: errors inside the peer: %s" % (p.name, p.errors))

    def aiosmtpd_peer(self, ip, port=None, **kw):
        p = AiosmtpdPeer(ip, port or self.port, **kw)
        p.start()
        self.addCleanup(p.stop)
        return p

    def blackhole(self, **kw):
        b = BlackholeDns(**kw).start()
        self.addCleanup(b.stop)
        return b

    def tmpdir(self):
        d = tempfile.mkdtemp(prefix="postino-relay-")
        self.addCleanup(shutil.rmtree, d, True)
        return d

    def readable_file(self, name, text):
        """A file with text in a folder of its own that the server, once it runs as
        run_as, can read (folder 0711, file 0644); returns its path."""
        d = self.tmpdir()
        os.chmod(d, 0o711)
        path = os.path.join(d, name)
        with open(path, "w") as f:
            f.write(text)
        os.chmod(path, 0o644)
        return path

    def relay_server(self, start=True, dns=None, **settings):
        """A postino with RELAY_DEFAULTS, dns_servers = this class's dnsmasq (or
        dns: anything with .address) and smtp_port = self.port; settings override."""
        s = dict(RELAY_DEFAULTS)
        s["dns_servers"] = (dns or self.dns).address
        s["smtp_port"] = str(self.port)
        s.update(settings)
        return self.server(start=start, **s)

    # sending

    def send(self, srv, rcpts, subject="relay test", msg=None, sender=SENDER, **kw):
        """Sends one message (from 127.0.0.1 unless source=...); returns (qid, msg bytes)."""
        if isinstance(rcpts, str):
            rcpts = [rcpts]
        if msg is None:
            msg = lib.make_message(subject, sender=sender, to=rcpts[0])
        qid = lib.send_message(srv.port, sender, rcpts, msg, **kw)
        return qid, msg

    # queue and log

    def rcpt(self, srv, address):
        """The queue list --json entry of a recipient (the latest message holding
        it), or None."""
        found = None
        for m in lib.queue_json(srv.conf):
            for r in m["recipients"]:
                if r["address"].lower() == address.lower():
                    found = dict(r, message=m["id"])
        return found

    def wait_rcpt(self, srv, address, pred, timeout=10.0, what=None):
        """Waits until pred(entry) for the recipient's queue entry; returns it."""
        box = {}

        def check():
            box["r"] = self.rcpt(srv, address)
            return box["r"] is not None and pred(box["r"])
        lib.wait_for(check, timeout, interval=0.05, what=lambda: "%s for %s (now %r)"
                               % (what or "a state", address, box.get("r")))
        return box["r"]

    def wait_status(self, srv, address, status, timeout=10.0, attempts=1):
        return self.wait_rcpt(srv, address,
                              lambda r: r["status"] == status and r["attempts"] >= attempts,
                              timeout, "status %s with >= %d attempt(s)" % (status, attempts))

    def wait_queue_empty(self, srv, timeout=10.0):
        lib.wait_for(lambda: lib.queue_json(srv.conf) == [], timeout, interval=0.05,
                     what=lambda: "an empty queue; still queued: %s" % lib.queue_json(srv.conf))

    def log_lines(self, srv, *needles):
        return [l for l in srv.log().splitlines() if all(n in l for n in needles)]

    def wait_log(self, srv, *needles, timeout=10.0):
        """Waits for a log line containing every needle; returns the matching lines."""
        return lib.wait_for(lambda: self.log_lines(srv, *needles), timeout,
                                      interval=0.05, what=lambda: "a log line with %r; log:\n%s"
                                      % (needles, srv.log_tail(30)))

    # checks

    def check_relayed_content(self, data, original, qid, hostname="mx.test", checked=False):
        """data (as the peer got it) = postino's Received header (by HOSTNAME, id QID)
        followed by the original message byte for byte; CRLF everywhere. checked: the
        message came from a client outside relay_networks, so postino's
        Authentication-Results comes first, above the Received header."""
        first, rest = strip_first_received(data)
        if checked:
            self.assertTrue(first.startswith("Authentication-Results: %s;" % hostname), first)
            first, rest = strip_first_received(rest)
        self.assertTrue(first.startswith("Received:"), first)
        self.assertIn("by %s" % hostname, first)
        self.assertRegex(first, r"\bid %s\b" % qid)
        self.assertEqual(rest, original)
        self.assertNotRegex(data.replace(b"\r\n", b""), b"[\r\n]", "bare CR or LF in %r" % data)


# --------------------------------------------------------------------------
# The base class of the notice tests (t_22 .. t_27)

LOCAL_SENDER = "alice@example.test"   # a sender with a Maildir on the server under test

# relay settings for notice tests: notices on, delay notices off unless asked
DSN_DEFAULTS = dict(RELAY_DEFAULTS, delay_warning="0")


class DsnTestCase(RelayTestCase):
    """RelayTestCase with helpers to send with DSN parameters and collect
    the notices (parsed and checked by lib.parse_notice)."""

    def dsn_server(self, **settings):
        s = dict(DSN_DEFAULTS)
        s.update(settings)
        return self.relay_server(**s)

    def send_dsn(self, srv, rcpts, subject="dsn test", sender=LOCAL_SENDER, mail_options=(),
                 rcpt_options=None, msg=None, source=None):
        """One message with smtplib: MAIL with mail_options, RCPT for each of
        rcpts with rcpt_options.get(addr, ()); returns (qid, msg bytes)."""
        if isinstance(rcpts, str):
            rcpts = [rcpts]
        rcpt_options = rcpt_options or {}
        if msg is None:
            msg = lib.make_message(subject, sender=sender or "mailer-daemon@client.test",
                                   to=rcpts[0])
        with lib.smtp_client(srv.port, source) as s:
            code, _ = s.ehlo()
            self.assertEqual(code, 250)
            lib.expect_smtplib(s.mail(sender, list(mail_options)), 250, "2.1.0")
            for r in rcpts:
                lib.expect_smtplib(s.rcpt(r, list(rcpt_options.get(r, ()))), 250, "2.1.5")
            text = lib.expect_smtplib(s.data(msg), 250, "2.0.0")
        return lib.queue_id_of(text), msg

    def notice_lines(self, srv, qid=None):
        """The "ID: sender notice (KIND, N recipient(s)) queued as NID" log lines."""
        return [l for l in srv.log().splitlines()
                if "sender notice (" in l and (qid is None or "%s: sender notice" % qid in l)]

    def alive(self, srv):
        """Fails at once (with the log) if the server under test has exited."""
        if not srv.running():
            raise AssertionError("postino serve exited with %s:\n%s"
                                 % (srv.proc.returncode if srv.proc else None, srv.log_tail(60)))

    def wait_alive(self, srv, pred, timeout, what):
        """lib.wait_for(pred), failing at once if the server exits meanwhile."""
        def check():
            self.alive(srv)
            return pred()
        return lib.wait_for(check, timeout, interval=0.05, what=what)

    def wait_log(self, srv, *needles, timeout=10.0):
        return self.wait_alive(srv, lambda: self.log_lines(srv, *needles), timeout,
                               lambda: "a log line with %r; log:\n%s" % (needles, srv.log_tail(30)))

    def wait_notices(self, srv, count, local="alice", domain="example.test", sender=None,
                     timeout=10.0, settle=True):
        """Waits until local@domain's Maildir holds count messages, then (settle)
        until the queue is empty, fails if it then holds more than count,
        checks each as a notice to sender (default local@domain) and returns
        them (lib.Notice), in file-name order."""
        self.wait_alive(srv, lambda: len(lib.maildir_files(srv.data, domain, local)) >= count,
                        timeout, lambda: "%d message(s) in %s@%s (found %d); log:\n%s"
                        % (count, local, domain, len(lib.maildir_files(srv.data, domain, local)),
                           srv.log_tail(30)))
        if settle:
            self.settle(srv, timeout)
        raws = lib.wait_maildir_count(srv.data, domain, local, count, 0)
        return [lib.parse_notice(r, sender or "%s@%s" % (local, domain)) for r in raws]

    def settle(self, srv, timeout=10.0):
        """Bounded wait for a quiet server: the queue empty (an owed notice is
        queued before its original is removed, and stays queued until delivered)."""
        self.wait_alive(srv, lambda: lib.queue_json(srv.conf) == [], timeout,
                        lambda: "an empty queue; still queued: %s" % lib.queue_json(srv.conf))

    def assertNoNotice(self, srv, qid=None):
        self.assertEqual(self.notice_lines(srv, qid), [], srv.log_tail(30))
        for p in lib.all_maildir_files(srv.data):
            with open(p, "rb") as f:
                head = f.read().split(b"\n\n", 1)[0]
            self.assertNotRegex(head, rb"(?im)^content-type:\s*multipart/report",
                                "a notice in %s" % p)
