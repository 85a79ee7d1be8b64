"""
t_43_json_log: `log_format json` through a busy run: 50 messages, some
delivered to a local mailbox, some failing at delivery (an alias to an
unknown user), some relayed to a peer, some refused by it (550) and some
deferred by it (451), plus a client sending a MAIL FROM full of quotes,
backslashes (8-bit bytes are refused at MAIL before they reach the log; the
unit tests cover them). EVERY line of the log must parse as JSON, hold
only the documented fields (INTERFACE.md "Operating"), with strings
everywhere but "delay" (a number of seconds), "time" in RFC 3339 UTC with
milliseconds; and each message's events tell its story: received, then the
outcome for its recipient under the same queue_id.
"""
import json
import re
import unittest

import lib
import peers

FIELDS = {"time", "level", "queue_id", "event", "client", "from", "to", "relay", "tls", "status",
          "dsn", "reply", "delay"}
LEVELS = {"debug", "info", "warn", "error"}
TIME = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")
SENDER = "bob@example.test"   # notices go to a local mailbox
# recipient -> (event, status, dsn class) of its outcome
KINDS = [
    ("bob@example.test", "delivered", "delivered", "2.0.0"),
    ("ghost@example.test", "failed", "failed", "5.1.1"),
    ("ok@r.test", "relayed", "sent", "2."),
    ("later@r.test", "deferred", "deferred", "4.3.0"),
    ("bad@r.test", "failed", "failed", "5.1.1"),
]
HOSTILE = b'"q\\"uo\\\\te"@sender.test'  # 8-bit addresses are refused (no SMTPUTF8)


class JsonLog(peers.RelayTestCase):

    @classmethod
    def dns_records(cls, dns):
        dns.mx("r.test", "mx.r.test", 10).a("mx.r.test", "127.0.0.2")

    def parse_log(self, path):
        """Every line as JSON, each checked against the documented fields."""
        events = []
        with open(path, "rb") as f:
            data = f.read()
        for n, raw in enumerate(data.split(b"\n")[:-1], 1):
            try:
                obj = json.loads(raw.decode("utf-8"))
            except (UnicodeDecodeError, ValueError) as e:
                raise AssertionError("line %d is not JSON (%s): %r" % (n, e, raw))
            self.assertIsInstance(obj, dict, raw)
            self.assertLessEqual(set(obj), FIELDS, raw)
            self.assertRegex(obj["time"], TIME)
            self.assertIn(obj["level"], LEVELS)
            self.assertIn("event", obj)
            for k, v in obj.items():
                if k == "delay":
                    self.assertIsInstance(v, (int, float), raw)
                    self.assertGreaterEqual(v, 0)
                else:
                    self.assertIsInstance(v, str, raw)
            events.append(obj)
        self.assertTrue(data.endswith(b"\n"))
        return events

    def send_hostile(self, srv):
        """MAIL FROM with quotes and backslashes (a HELO name with them is refused)."""
        c = self.raw(srv)
        lib.expect(c.cmd("EHLO \"evil\\\\host\x01\""), 501)
        lib.expect(c.cmd("EHLO evil.test"), 250, enhanced=False)
        lib.expect(c.cmd(b"MAIL FROM:<" + HOSTILE + b">"), 250)
        lib.expect(c.cmd("RCPT TO:<bob@example.test>"), 250)
        lib.expect(c.cmd("DATA"), 354)
        r = c.cmd("Subject: hostile\r\n\r\nhi\r\n.")
        lib.expect(r, 250)
        c.cmd("QUIT")
        return lib.queue_id_of(r.text)

    def test_busy_run_every_line_is_json(self):
        p = self.peer("127.0.0.2", {"rcpt": {"later@r.test": "451 4.3.0 try later",
                                             "bad@r.test": "550 5.1.1 no such user"}})
        srv = self.relay_server(retry_min="1h", retry_max="2h", log_file="postino.log",
                                log_format="json", users=["bob@example.test:{PLAIN}pw"],
                                aliases=["ghost@example.test: nosuch@example.test"])
        log = srv.tmp + "/postino.log"
        sent = []
        for i in range(50):
            rcpt = KINDS[i % len(KINDS)]
            qid, _ = self.send(srv, rcpt[0], "t43 %d" % i, sender=SENDER)
            sent.append((qid, rcpt))
        hostile = self.send_hostile(srv)

        def outcomes():
            done = set()
            for e in self.parse_log(log):
                if e.get("event") in ("delivered", "relayed", "failed", "deferred"):
                    done.add((e.get("queue_id"), e.get("to")))
            return done
        want = {(qid, "nosuch@example.test" if r[0].startswith("ghost") else r[0])
                for qid, r in sent}
        lib.wait_for(lambda: want <= outcomes(), what="an outcome for each of the 50")
        events = self.parse_log(log)
        by_id = {}
        for e in events:
            by_id.setdefault(e.get("queue_id"), []).append(e)
        for qid, (rcpt, event, status, dsn) in sent:
            story = by_id[qid]
            received = [e for e in story if e["event"] == "received"]
            self.assertEqual(len(received), 1, story)
            self.assertEqual(received[0]["from"], SENDER)
            self.assertEqual(received[0]["client"], "127.0.0.1")
            to = "nosuch@example.test" if rcpt.startswith("ghost") else rcpt
            out = [e for e in story if e["event"] == event and e.get("to") == to]
            self.assertEqual(len(out), 1, story)
            self.assertEqual(out[0]["status"], status, out)
            self.assertTrue(out[0]["dsn"].startswith(dsn), out)
            self.assertIn("delay", out[0])
            self.assertLess(story.index(received[0]), story.index(out[0]))
            if event in ("relayed", "deferred") or rcpt == "bad@r.test":
                # the port named, as it is not 25
                self.assertEqual(out[0]["relay"], "mx.r.test[127.0.0.2]:%d" % self.port, out)
                self.assertEqual(out[0]["tls"], "none", out)   # the peer offers no STARTTLS
                self.assertIn(out[0]["dsn"], out[0]["reply"])
        for what in ("connect", "disconnect"):
            n = sum(1 for e in events if e["event"] == what and e.get("client") == "127.0.0.1")
            self.assertGreaterEqual(n, 51, what)
        self.assertTrue(any(e["event"].startswith("postino ready") for e in events))
        got = [e for e in by_id.get(hostile, []) if e["event"] == "received"]
        self.assertEqual(len(got), 1, by_id.get(hostile))
        self.assertEqual(got[0]["from"].encode("utf-8"), HOSTILE)
        self.assertGreaterEqual(len(p.transactions()), 30)


if __name__ == "__main__":
    unittest.main()
