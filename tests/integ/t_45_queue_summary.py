"""
t_45_queue_summary: `postino queue summary [--json]`, the queue by recipient
domain and age like Postfix's qshape. Mail to three domains is deferred by
a peer answering 451 (one message also held); the table counts each waiting
recipient under its domain, TOTAL first, then domains by total; a delivered
recipient is not counted. The same output comes from the files (server
stopped), and, for a user who cannot read the queue, from the server's
read-only socket. A message made older in its queue file moves to its age
bucket. Usage errors exit 64.
"""
import json
import os
import re

import lib
import peers
from t_41_local_ops import NobodyMixin

BUCKETS = ["5m", "10m", "20m", "40m", "80m", "160m", "320m", "640m", "1280m", "1280m+"]


class QueueSummary(NobodyMixin, peers.RelayTestCase):

    @classmethod
    def dns_records(cls, dns):
        for d in ("a.test", "b.test", "c.test"):
            dns.mx(d, "mx." + d, 10).a("mx." + d, "127.0.0.2")

    def summary(self, srv, *args, code=0):
        out = lib.run_cli(["queue", "-c", srv.conf, "summary"] + list(args))
        self.assertEqual(out.returncode, code, out.stdout + out.stderr)
        return out.stdout

    def table(self, text):
        """{row name: [T, 5m, ..., 1280m+]} and the row order of the human table."""
        lines = text.splitlines()
        self.assertEqual(lines[0].split(), ["T"] + BUCKETS)
        rows = [l.split() for l in lines[1:]]
        return {r[0]: [int(x) for x in r[1:]] for r in rows}, [r[0] for r in rows]

    def queue_some(self, srv):
        self.send(srv, ["x1@b.test", "x2@b.test", "x1@a.test"], "t45 one")
        self.send(srv, ["x3@B.TEST", "x2@a.test"], "t45 two")
        held, _ = self.send(srv, ["x1@c.test"], "t45 three")
        self.send(srv, ["u@example.test"], "t45 local")
        srv.wait_mail("u")
        for a in ("x1@b.test", "x2@b.test", "x1@a.test", "x3@B.TEST", "x2@a.test", "x1@c.test"):
            self.wait_status(srv, a, "deferred")
        self.assertEqual(lib.run_cli(["queue", "-c", srv.conf, "hold", held]).returncode, 0)
        return held

    def test_table_and_json(self):
        self.peer("127.0.0.2", {"rcpt": "451 4.3.0 later"})
        srv = self.relay_server(retry_min="1h", retry_max="2h")
        self.queue_some(srv)
        rows, order = self.table(self.summary(srv))
        self.assertEqual(order, ["TOTAL", "b.test", "a.test", "c.test"])
        self.assertEqual(rows["TOTAL"], [6, 6] + [0] * 9)
        self.assertEqual(rows["b.test"], [3, 3] + [0] * 9)
        self.assertEqual(rows["a.test"], [2, 2] + [0] * 9)
        self.assertEqual(rows["c.test"], [1, 1] + [0] * 9)
        j = json.loads(self.summary(srv, "--json"))
        self.assertEqual(j["buckets"], BUCKETS)
        self.assertEqual(j["total"], {"domain": "TOTAL", "total": 6, "buckets": [6] + [0] * 9})
        self.assertEqual([(d["domain"], d["total"]) for d in j["domains"]],
                         [("b.test", 3), ("a.test", 2), ("c.test", 1)])
        running = self.summary(srv)
        srv.stop()
        self.assertEqual(self.summary(srv), running, "files and server must agree")

    def test_age_buckets_from_files(self):
        self.peer("127.0.0.2", {"rcpt": "451 4.3.0 later"})
        srv = self.relay_server(retry_min="1h", retry_max="2h")
        old, _ = self.send(srv, ["o@a.test"], "t45 old")
        self.send(srv, ["n@b.test"], "t45 new")
        self.wait_status(srv, "o@a.test", "deferred")
        self.wait_status(srv, "n@b.test", "deferred")
        srv.stop()
        self.age_message(srv, old, 120 * 60 * 1000)  # 2 hours: the 160m column (80 to 160)
        rows, _ = self.table(self.summary(srv))
        self.assertEqual(rows["a.test"], [1, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0])
        self.assertEqual(rows["b.test"], [1, 1] + [0] * 9)
        self.assertEqual(rows["TOTAL"], [2, 1, 0, 0, 0, 0, 1, 0, 0, 0, 0])

    def age_message(self, srv, qid, ms):
        for root, _, files in os.walk(os.path.join(srv.data, "queue")):
            if qid in files:
                path = os.path.join(root, qid)
                data = open(path, "rb").read()
                m = re.search(rb"^arrival (\d+)$", data, re.M)
                older = str(int(m.group(1)) - ms).encode()
                self.assertEqual(len(older), len(m.group(1)))
                with open(path, "wb") as f:
                    f.write(data[:m.start(1)] + older + data[m.end(1):])
                return
        self.fail("queue file %s not found" % qid)

    def test_through_showq_as_nobody(self):
        self.peer("127.0.0.2", {"rcpt": "451 4.3.0 later"})
        srv = self.relay_server(retry_min="1h", retry_max="2h")
        self.nobody_setup(srv)
        self.queue_some(srv)
        for args in ([], ["--json"]):
            mine = self.run_nobody(["queue", "-c", srv.conf, "summary"] + args)
            self.assertEqual(mine.returncode, 0, mine.stderr)
            self.assertEqual(mine.stdout, self.summary(srv, *args))

    def test_empty_and_usage(self):
        srv = self.relay_server()
        rows, order = self.table(self.summary(srv))
        self.assertEqual(order, ["TOTAL"])
        self.assertEqual(rows["TOTAL"], [0] * 11)
        self.assertEqual(json.loads(self.summary(srv, "--json"))["domains"], [])
        self.summary(srv, "extra", code=64)


if __name__ == "__main__":
    lib.unittest.main()
