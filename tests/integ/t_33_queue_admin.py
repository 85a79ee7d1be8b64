"""
t_33_queue_admin: every `postino queue` subcommand on deferred mail (a
scripted peer answering 451) while the server runs: list (human and --json:
the 451 as last_reply, attempts, next_attempt), show (envelope, recipient
state, DSN parameters, headers), flush ID, flush, hold, release, delete;
through the control socket, and in the queue files when the server is not
running. A held message is not delivered (not even by flush) until released;
a deleted message leaves the queue. A delete while the message is being
delivered (a peer holding its reply to the final dot) exits 75 and leaves
the queue file intact; once the attempt ends a delete works. Unknown ids
exit 66, usage errors 64, a bad config 2 with FILE:LINE, --help 0.
"""
import os
import re
import socket
import threading
import unittest

import lib
import peers


class QueueAdmin(peers.RelayTestCase):

    @classmethod
    def dns_records(cls, dns):
        dns.mx("h.test", "mx.h.test", 10).a("mx.h.test", "127.0.0.2")

    def cli(self, srv, *args, code=0):
        out = lib.run_cli(["queue", "-c", srv.conf] + list(args))
        self.assertEqual(out.returncode, code, out.stdout + out.stderr)
        return out

    def held(self, srv, qid):
        return [m["hold"] for m in lib.queue_json(srv.conf) if m["id"] == qid]

    def test_hold_release_running(self):
        p = self.peer("127.0.0.2", {"first_mails": [1, {"rcpt": "451 4.3.0 later"}]})
        srv = self.relay_server(retry_min="1h", retry_max="2h")
        qid, _ = self.send(srv, ["h1@h.test"], "t33 hold")
        before = self.wait_status(srv, "h1@h.test", "deferred")
        self.assertIn("held", self.cli(srv, "hold", qid).stdout)
        self.assertEqual(self.held(srv, qid), [True])
        # flush leaves a held message alone: nothing tried, its schedule unchanged
        self.assertIn("0 message(s)", self.cli(srv, "flush", qid).stdout)
        self.assertIn("0 message(s)", self.cli(srv, "flush").stdout)
        lib.wait_for(lambda: "flush %s" % qid in srv.log(), what="flush logged")
        self.assertEqual(len(p.mail_times()), 1, "a held message must not be delivered")
        # release gives back the old schedule (next try in an hour): not tried yet
        self.assertIn("released", self.cli(srv, "release", qid).stdout)
        after = self.rcpt(srv, "h1@h.test")
        self.assertEqual(self.held(srv, qid), [False])
        self.assertEqual(after["next_attempt"], before["next_attempt"])
        self.assertEqual(after["attempts"], 1)
        self.assertEqual(len(p.mail_times()), 1, "release alone must not deliver")
        # a flush after the release delivers it now
        self.assertIn("1 message(s)", self.cli(srv, "flush", qid).stdout)
        p.wait_messages(1, timeout=10)
        self.wait_queue_empty(srv)

    def test_hold_flush_stopped(self):
        """In the files (no server): flush skips a held message and leaves its
        schedule; after release, flush makes it due."""
        self.peer("127.0.0.2", {"rcpt": "451 4.3.0 later"})
        srv = self.relay_server(retry_min="1h", retry_max="2h")
        qid, _ = self.send(srv, ["h2@h.test"], "t33 hold stopped")
        before = self.wait_status(srv, "h2@h.test", "deferred")
        srv.stop()
        self.cli(srv, "hold", qid)
        self.assertIn("0 message(s)", self.cli(srv, "flush").stdout)
        self.assertEqual(self.rcpt(srv, "h2@h.test")["next_attempt"], before["next_attempt"])
        self.cli(srv, "release", qid)
        self.assertIn("1 message(s)", self.cli(srv, "flush", qid).stdout)
        self.assertNotEqual(self.rcpt(srv, "h2@h.test")["next_attempt"], before["next_attempt"])

    def test_delete_running_and_stopped(self):
        self.peer("127.0.0.2", {"rcpt": "451 4.3.0 later"})
        srv = self.relay_server(retry_min="1h", retry_max="2h")
        q1, _ = self.send(srv, ["d1@h.test"], "t33 delete 1")
        q2, _ = self.send(srv, ["d2@h.test"], "t33 delete 2")
        self.wait_status(srv, "d1@h.test", "deferred")
        self.wait_status(srv, "d2@h.test", "deferred")
        self.assertIn("deleted", self.cli(srv, "delete", q1).stdout)
        self.assertEqual([m["id"] for m in lib.queue_json(srv.conf)], [q2])
        srv.stop()
        self.cli(srv, "hold", q2)
        self.assertEqual(self.held(srv, q2), [True])
        self.cli(srv, "delete", q2)
        self.assertEqual(lib.queue_json(srv.conf), [])
        self.cli(srv, "delete", q2, code=66)
        srv.start()
        self.cli(srv, "hold", "0123456789ABCDEF", code=66)

    # ---- every subcommand on deferred mail, one running server --------------

    def test_admin_on_deferred_running(self):
        """list (human, --json), show, flush ID, flush, hold, release, delete and
        the unknown-id errors, all on one running server whose peer answers 451."""
        later = "451 4.3.0 t33 try later"
        p = self.peer("127.0.0.2", {"first_mails": [4, {"rcpt": later}]})
        srv = self.relay_server(retry_min="1h", retry_max="2h")
        qa, _ = self.send(srv, ["a@h.test"], "t33 show me",
                          mail_options=["RET=HDRS", "ENVID=t33+2Benv"],
                          rcpt_options=["NOTIFY=FAILURE,DELAY", "ORCPT=rfc822;orig@h.test"])
        self.wait_status(srv, "a@h.test", "deferred")
        qb, _ = self.send(srv, ["b@h.test"], "t33 second")
        self.wait_status(srv, "b@h.test", "deferred")
        qc, _ = self.send(srv, ["c@h.test"], "t33 third")
        self.wait_status(srv, "c@h.test", "deferred")
        self.assertEqual(len(p.mail_times()), 3)

        # list --json: every deferred recipient with its 451, attempts and next try
        msgs = {m["id"]: m for m in lib.queue_json(srv.conf)}
        self.assertEqual(set(msgs), {qa, qb, qc})
        for qid, addr in ((qa, "a@h.test"), (qb, "b@h.test"), (qc, "c@h.test")):
            [r] = msgs[qid]["recipients"]
            self.assertEqual(r["address"], addr)
            self.assertEqual(r["status"], "deferred")
            self.assertIn("t33 try later", r["last_reply"])
            self.assertTrue(r["last_reply"].startswith("451"), r)
            self.assertGreaterEqual(r["attempts"], 1)
            self.assertRegex(r["next_attempt"] or "", r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")
            self.assertFalse(msgs[qid]["hold"])
        self.assertEqual(msgs[qa]["ret"], "HDRS")
        self.assertEqual(msgs[qa]["envid"], "t33+env")    # xtext decoded
        [ra] = msgs[qa]["recipients"]
        self.assertEqual(ra["notify"], "FAILURE,DELAY")
        self.assertEqual(ra["orcpt"], "rfc822;orig@h.test")

        # list (human): mailq layout, the 451 in parentheses under the recipient
        human = self.cli(srv, "list").stdout
        lines = human.splitlines()
        self.assertTrue(lines[0].startswith("-Queue ID-"), human)
        self.assertRegex(lines[-1], r"^-- \d+ Kbytes in 3 Requests\.$")
        for qid, addr in ((qa, "a@h.test"), (qb, "b@h.test"), (qc, "c@h.test")):
            self.assertRegex(human, r"(?m)^%s +\d+ +\S+ +alice@sender\.test$" % qid)
            self.assertRegex(human, r"(?m)^ +deferred +%s\n +\(451 .*t33 try later.*\)$"
                             % re.escape(addr))

        # show: envelope, per-recipient state, DSN parameters, headers
        show = self.cli(srv, "show", qa).stdout
        self.assertIn("id: %s\n" % qa, show)
        self.assertIn("sender: <alice@sender.test>\n", show)
        self.assertIn("hold: no\n", show)
        self.assertIn("ret: HDRS\n", show)
        self.assertIn("envid: t33+env\n", show)
        self.assertRegex(show, r"(?m)^recipient: <a@h\.test> status=deferred "
                               r"notify=FAILURE,DELAY orcpt=rfc822;orig@h\.test attempts=[1-9]"
                               r".* last_reply=451 .*t33 try later")
        headers = show.partition("\n\n")[2]
        self.assertIn("Subject: t33 show me\n", headers)
        self.assertIn("To: <a@h.test>", headers)
        self.assertNotIn("Hello.", headers)
        show_b = self.cli(srv, "show", qb).stdout
        self.assertIn("ret: (none)\n", show_b)
        self.assertRegex(show_b, r"notify=\(default\) orcpt=\(none\)")

        # flush ID: only that message is tried (MAIL #4: 451 again)
        self.assertIn("1 message(s)", self.cli(srv, "flush", qa).stdout)
        self.wait_status(srv, "a@h.test", "deferred", attempts=2)
        self.assertEqual(len(p.mail_times()), 4)
        self.assertEqual(self.rcpt(srv, "b@h.test")["attempts"], 1)
        self.assertEqual(self.rcpt(srv, "c@h.test")["attempts"], 1)

        # delete C; hold B; flush (all): A is delivered, B (held) is not
        self.assertIn("deleted", self.cli(srv, "delete", qc).stdout)
        self.assertIn("held", self.cli(srv, "hold", qb).stdout)
        self.assertIn("!", [l for l in self.cli(srv, "list").stdout.splitlines()
                            if l.startswith(qb)][0])
        self.assertIn("hold: yes\n", self.cli(srv, "show", qb).stdout)
        self.cli(srv, "flush")
        [m] = p.wait_messages(1)
        self.assertIn(b"t33 show me", m.data)
        self.assertEqual(m.rcpt_params("a@h.test").get("NOTIFY"), "FAILURE,DELAY")
        lib.wait_for(lambda: [m["id"] for m in lib.queue_json(srv.conf)] == [qb],
                     what=lambda: "only the held message left: %s" % lib.queue_json(srv.conf))
        self.assertEqual(len(p.mail_times()), 5, "a held message must not be tried")
        self.assertEqual(self.rcpt(srv, "b@h.test")["attempts"], 1)

        # release B and flush it: delivered; the queue ends empty
        self.assertIn("released", self.cli(srv, "release", qb).stdout)
        self.cli(srv, "flush", qb)
        p.wait_messages(2)
        self.wait_queue_empty(srv)
        self.assertEqual(self.cli(srv, "list").stdout, "Mail queue is empty\n")

        # unknown ids, through the running server: 66 with a clear message
        for sub in ("show", "flush", "hold", "release", "delete"):
            for qid in (qc, "0123456789ABCDEF"):
                out = self.cli(srv, sub, qid, code=66)
                self.assertIn("no such message", out.stderr)
        self.assertEqual(self.log_lines(srv, " error: "), [])

    # ---- delete while the delivery is in flight ---------------------------

    def in_flight(self, final, rcpt, subject):
        """A server whose delivery of a new message to rcpt hangs until gate.answer()
        makes the peer reply final: (gate, srv, qid)."""
        gate = GatedPeer("127.0.0.2", self.port, final=final)
        gate.start()
        self.addCleanup(gate.stop)
        srv = self.relay_server(retry_min="1h", retry_max="2h", timeout_data_end="30s")
        qid, _ = self.send(srv, [rcpt], subject)
        gate.wait_dot()          # postino sent the message and waits for the reply
        return gate, srv, qid

    def test_delete_during_delivery(self):
        gate, srv, qid = self.in_flight("451 4.3.0 t33 slow and late", "slow@h.test", "t33 in flight")
        out = self.cli(srv, "delete", qid, code=75)
        self.assertIn("being delivered", out.stderr)
        self.assertIn(qid, out.stderr)
        self.assertEqual(out.stdout, "")
        [m] = lib.queue_json(srv.conf)
        self.assertEqual(m["id"], qid)
        self.assertEqual([r["address"] for r in m["recipients"]], ["slow@h.test"])
        self.assertIn("subject: t33 in flight", self.cli(srv, "show", qid).stdout.lower())
        # hold is allowed in flight: it applies once this attempt ends
        self.assertIn("held", self.cli(srv, "hold", qid).stdout)
        gate.answer()            # the peer answers 451 now: the delivery ends
        self.wait_status(srv, "slow@h.test", "deferred")
        [m] = lib.queue_json(srv.conf)
        self.assertTrue(m["hold"], m)
        self.assertIn("slow and late", self.rcpt(srv, "slow@h.test")["last_reply"])
        self.assertIn("deleted", self.cli(srv, "delete", qid).stdout)
        self.assertEqual(lib.queue_json(srv.conf), [])
        self.cli(srv, "show", qid, code=66)
        self.assertEqual(self.log_lines(srv, " error: "), [])
        srv.stop()
        self.assertEqual(lib.queue_json(srv.conf), [])

    def test_delete_during_delivery_then_delivered(self):
        gate, srv, qid = self.in_flight("250 2.0.0 t33 got it", "slow2@h.test", "t33 in flight 2")
        self.cli(srv, "delete", qid, code=75)
        self.assertEqual([m["id"] for m in lib.queue_json(srv.conf)], [qid])
        gate.answer()
        self.wait_queue_empty(srv)
        self.assertEqual(len(gate.messages), 1)
        self.cli(srv, "delete", qid, code=66)
        self.assertEqual(self.log_lines(srv, " error: "), [])

    # ---- usage and configuration errors -----------------------------------

    def test_usage_and_config_errors(self):
        srv = self.server(start=False)
        srv.write_config()
        def run(*args):
            return lib.run_cli(["queue"] + list(args))
        cp = run("--help")
        self.assertEqual(cp.returncode, 0)
        self.assertIn("usage: postino queue", cp.stdout)
        for args in (["-c", srv.conf, "bogus"], ["-c", srv.conf, "show"],
                     ["-c", srv.conf, "hold"], ["-c", srv.conf, "release"],
                     ["-c", srv.conf, "delete"], ["-c", srv.conf], ["--bogus"],
                     ["-c", srv.conf, "list", "extra"], ["-c", srv.conf, "show", "A", "B"]):
            cp = run(*args)
            self.assertEqual(cp.returncode, 64, (args, cp.stdout, cp.stderr))
            self.assertIn("usage:", cp.stderr)
        # no server running: unknown ids are 66 from the files too
        for sub in ("show", "flush", "hold", "release", "delete"):
            cp = run("-c", srv.conf, sub, "0123456789ABCDEF")
            self.assertEqual(cp.returncode, 66, (sub, cp.stderr))
            self.assertIn("no such message", cp.stderr)
        bad = os.path.join(srv.tmp, "bad.conf")
        with open(bad, "w") as f:
            f.write("data_dir %s\nno_such_setting 1\n" % srv.data)
        for sub in (["list"], ["show", "X"], ["flush"], ["delete", "X"]):
            cp = run("-c", bad, *sub)
            self.assertEqual(cp.returncode, 2, (sub, cp.stderr))
            self.assertIn("%s:2:" % bad, cp.stderr)


class GatedPeer:
    """A minimal SMTP peer that accepts everything but holds its reply to the
    final dot until answer() (or 20 s): a delivery stays in flight for as long
    as the test wants. One thread per connection; stop() joins them all."""

    def __init__(self, ip, port, final):
        self.ip, self.port, self.final = ip, port, final
        self.dot = threading.Event()
        self.go = threading.Event()
        self.stopping = threading.Event()
        self.messages = []
        self.threads = []
        self.lsock = None

    def start(self):
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind((self.ip, self.port))
        s.listen(8)
        s.settimeout(0.05)
        self.lsock = s
        self._spawn(self._accept)

    def _spawn(self, fn, *args):
        t = threading.Thread(target=fn, args=args, daemon=True)
        self.threads.append(t)
        t.start()

    def _accept(self):
        while not self.stopping.is_set():
            try:
                c, _ = self.lsock.accept()
            except socket.timeout:
                continue
            except OSError:
                return
            self._spawn(self._serve, c)

    def _serve(self, c):
        c.settimeout(0.05)
        buf = b""

        def line():
            nonlocal buf
            while b"\n" not in buf:
                if self.stopping.is_set():
                    raise OSError("stopping")
                try:
                    d = c.recv(65536)
                except socket.timeout:
                    continue
                if not d:
                    raise OSError("closed")
                buf += d
            l, _, buf = buf.partition(b"\n")
            return l.rstrip(b"\r").decode("utf-8", "replace")

        def say(text):
            c.sendall(text.encode() + b"\r\n")

        try:
            say("220 gated.test ESMTP")
            while True:
                cmd = line()
                verb = cmd[:4].upper()
                if verb == "EHLO":
                    say("250-gated.test\r\n250-PIPELINING\r\n250 ENHANCEDSTATUSCODES")
                elif verb == "QUIT":
                    say("221 2.0.0 bye")
                    return
                elif verb == "DATA":
                    say("354 go ahead")
                    data = []
                    while True:
                        l = line()
                        if l == ".":
                            break
                        data.append(l)
                    self.dot.set()
                    self.go.wait(20)
                    if self.final.startswith("2"):
                        self.messages.append("\n".join(data))
                    say(self.final)
                else:
                    say("250 2.0.0 ok")
        except OSError:
            pass
        finally:
            c.close()

    def wait_dot(self, timeout=10.0):
        lib.wait_for(self.dot.is_set, timeout, what="the message's final dot at the gated peer")

    def answer(self):
        self.go.set()

    def stop(self):
        self.stopping.set()
        self.go.set()
        if self.lsock is not None:
            self.lsock.close()
        for t in self.threads:
            t.join(5)


if __name__ == "__main__":
    unittest.main()
