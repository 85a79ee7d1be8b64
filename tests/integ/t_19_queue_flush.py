"""
t_19_queue_flush: `postino queue flush [ID]` makes deferred mail due now:
through the control socket while the server runs (the retry happens at
once although retry_min is an hour), and in the queue files when it does
not (the retry happens right after the next start). Unknown ids exit 66.
"""
import unittest

import lib
import peers


class Flush(peers.RelayTestCase):

    @classmethod
    def dns_records(cls, dns):
        dns.mx("f.test", "mx.f.test", 10).a("mx.f.test", "127.0.0.2")

    def test_flush_running_server(self):
        p = self.peer("127.0.0.2", {"first_mails": [1, {"rcpt": "451 4.3.0 later"}]})
        srv = self.relay_server(retry_min="1h", retry_max="2h")
        qid, _ = self.send(srv, ["one@f.test"], "t19 flush")
        self.wait_status(srv, "one@f.test", "deferred")
        out = lib.run_cli(["queue", "-c", srv.conf, "flush", qid])
        self.assertEqual(out.returncode, 0, out.stderr)
        self.assertIn("1 message", out.stdout)
        p.wait_messages(1, timeout=10)
        self.wait_queue_empty(srv)

    def test_flush_stopped_server(self):
        p = self.peer("127.0.0.2", {"first_mails": [1, {"rcpt": "451 4.3.0 later"}]})
        srv = self.relay_server(retry_min="1h", retry_max="2h")
        self.send(srv, ["two@f.test"], "t19 offline")
        self.wait_status(srv, "two@f.test", "deferred")
        srv.stop()
        out = lib.run_cli(["queue", "-c", srv.conf, "flush"])
        self.assertEqual(out.returncode, 0, out.stderr)
        self.assertIn("not running", out.stdout)
        srv.start()
        p.wait_messages(1, timeout=10)
        self.wait_queue_empty(srv)

    def test_flush_unknown_id(self):
        srv = self.relay_server()
        out = lib.run_cli(["queue", "-c", srv.conf, "flush", "0123456789ABCDEF"])
        self.assertEqual(out.returncode, 66, out.stdout + out.stderr)   # running server
        srv.stop()
        out = lib.run_cli(["queue", "-c", srv.conf, "flush", "0123456789ABCDEF"])
        self.assertEqual(out.returncode, 66, out.stdout + out.stderr)


if __name__ == "__main__":
    unittest.main()
