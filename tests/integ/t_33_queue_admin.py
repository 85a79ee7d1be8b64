"""
t_33_queue_admin: `postino queue hold|release|delete ID`, through the
control socket while the server runs and in the queue files when it does
not: a held message is not delivered (not even by flush) until released;
a deleted message leaves the queue; unknown ids exit 66.
"""
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
        self.wait_status(srv, "h1@h.test", "deferred")
        self.assertIn("held", self.cli(srv, "hold", qid).stdout)
        self.assertEqual(self.held(srv, qid), [True])
        self.cli(srv, "flush", qid)
        lib.wait_for(lambda: "flush %s" % qid in srv.log(), what="flush logged")
        self.assertEqual(len(p.mail_times()), 1, "a held message must not be delivered")
        self.assertIn("released", self.cli(srv, "release", qid).stdout)
        self.cli(srv, "flush", qid)
        p.wait_messages(1, timeout=10)
        self.wait_queue_empty(srv)

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


if __name__ == "__main__":
    unittest.main()
