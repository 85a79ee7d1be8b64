"""
t_73_big_queue: a queue of N_BIG messages, made by lib_queuegen straight
into DATA_DIR/queue (no SMTP), every one deferred toward a relay host (a
scripted peer) with its next attempt an hour or more away.

- lib_queuegen's files load: `queue list --json` shows them as written.
- With N_BIG queued, the SMTP listener greets within a second of the start
  (the queue is read in the background); the time until `queue summary
  --json` counts all N_BIG is printed.
- `queue flush ID` among N_BIG delivers that one message promptly; the rest
  keep their state.
- The N_BIG deferred messages (at least the 50,000 of the issue; files are
  written once for the module, so the restart uses the same queue) survive a
  restart with their schedules: the same ids, attempts and next attempts
  before and after, and the peer is contacted for none of them.
- `queue list --json` and `queue summary --json` over N_BIG are complete and
  the command's peak RSS stays under 30 MB, with the server running (files
  read directly, and through the showq socket as a user who cannot read the
  queue) and with it stopped.
"""
import json
import re
import os
import shutil
import subprocess
import sys
import time

import lib
import lib_queuegen
import peers


def is_sanitizer_build(path):
    with open(path, "rb") as f:
        return b"__asan_init" in f.read()


SANITIZER = is_sanitizer_build(lib.BIN)
# Time: the sanitizer build reads a queue file several times slower, and the
# module must stay within the runner's time; ten times fewer messages still
# show a cost that grows with the backlog.
N_BIG = 10000 if SANITIZER else 100000
RSS_LIMIT_KB = 30 * 1024
# The sanitizer's shadow memory and its quarantine of freed blocks (kept small
# here) add a fixed part of their own to every process.
SANITIZER_RSS_LIMIT_KB = 120 * 1024
# The bound, for the build that is shipped. A sanitizer build spends about a
# second starting any process (its shadow memory, its interposed allocator) on a busy
# machine, queue or no queue: it gets a bound that still catches a synchronous load of
# its queue (several seconds).
LISTEN_BOUND_S = 3.0 if SANITIZER else 1.0
LOAD_TIMEOUT_S = 300.0
FLUSH_BOUND_S = 10.0
HOUR_MS = 3600 * 1000
NOBODY = 65534


def as_nobody():
    os.setgid(NOBODY)
    os.setuid(NOBODY)


def now_ms():
    return int(time.time() * 1000)


def schedules(conf):
    """{id: [(address, status, attempts, next_attempt)]} from `queue list --json`."""
    out = {}
    for m in lib.queue_json(conf):
        out[m["id"]] = [(r["address"], r["status"], r["attempts"], r["next_attempt"])
                        for r in m["recipients"]]
    return out


def summary_total(conf):
    cp = lib.run_cli(["queue", "-c", conf, "summary", "--json"], timeout=120)
    if cp.returncode != 0:
        return -1
    return json.loads(cp.stdout)["total"]["total"]


RSS_MARK = "t_73 peak RSS KB: "


def measured_run(args, preexec_fn=None):
    """Runs args under /usr/bin/time (its own small process forks the command, so the
    figure is the command's alone: a child forked from this test process would start
    with the test's own size as its high-water mark), counting stdout lines as they
    come (nothing kept); returns (exit status, lines, the last line, peak RSS in KB,
    stderr)."""
    env = dict(os.environ)
    if SANITIZER:
        env["ASAN_OPTIONS"] = env.get("ASAN_OPTIONS", "") + ":quarantine_size_mb=4"
    p = subprocess.Popen(["/usr/bin/time", "-f", "\n" + RSS_MARK + "%M"] + args,
                         stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, env=env, preexec_fn=preexec_fn)
    lines, last = 0, b""
    try:
        for line in p.stdout:
            lines += 1
            last = line
        err = p.stderr.read().decode("utf-8", "replace")
    finally:
        p.stdout.close()
        p.stderr.close()
        p.wait()
    marker = lib.sanitizer_report(err)
    if marker:
        raise AssertionError("%s in stderr of %s:\n%s" % (marker, args, err))
    head, _, rss = err.rpartition(RSS_MARK)
    if not rss.strip().isdigit():
        raise AssertionError("no peak RSS from /usr/bin/time: %s" % err)
    status = p.returncode
    return status, lines, last, int(rss), head


class PatientServer(lib.Server):
    """A Server whose start waits (bounded) as long as reading a big queue may take
    before the first 220 greeting, and records how long that was (ready_s): the
    bound on it is the test's, not the harness's."""

    def start(self):
        self.spawned = time.monotonic()
        super().start()

    def wait_ready(self):
        deadline = self.spawned + LOAD_TIMEOUT_S
        while True:
            if self.proc.poll() is not None:
                raise AssertionError("postino serve exited with %d before listening:\n%s"
                                     % (self.proc.returncode, self.log_tail()))
            try:
                if self._probe():
                    break
            except (TimeoutError, OSError):
                pass   # accepted by the kernel, but no greeting within 5 s yet
            if time.monotonic() >= deadline:
                raise AssertionError("no 220 greeting within %.0f s:\n%s"
                                     % (LOAD_TIMEOUT_S, self.log_tail()))
            time.sleep(0.015)
        self.ready_s = time.monotonic() - self.spawned


def relay_server(peer_port, **kw):
    return PatientServer(relayhost="[127.0.0.1]:%d" % peer_port, retry_min="1h",
                      retry_max="4h", **kw)


def fill(srv, n, tag, next_ms):
    """Starts srv once (it makes DATA_DIR as its user), stops it, writes n deferred
    messages due at next_ms; returns their ids."""
    srv.start()
    srv.stop()
    start = time.monotonic()
    ids = lib_queuegen.generate(srv.data, n, state="deferred", attempts=3,
                                next_attempt_ms=next_ms, last_reply="451 4.4.1 peer down",
                                rcpts=lambda i: ["user%d@d%d.test" % (i, i % 100)], tag=tag)
    print("\nt_73: %d queue files written in %.1f s" % (n, time.monotonic() - start),
          file=sys.stderr)
    return ids


class Generator(lib.IntegTestCase):
    """lib_queuegen writes files the server's own reader takes as written."""

    def test_generated_files_load(self):
        srv = self.server(start=False)
        srv.start()
        srv.stop()
        due = now_ms() + HOUR_MS
        ids = lib_queuegen.generate(srv.data, 3, sender="", state="deferred", attempts=2,
                                    next_attempt_ms=due, last_reply="451 4.4.1 try-later %",
                                    rcpts=lambda i: ["a%d@x%d.test" % (i, i), "-@y.test"])
        ids += lib_queuegen.generate(srv.data, 2, tag=0x0000B16D)
        msgs = {m["id"]: m for m in lib.queue_json(srv.conf)}
        self.assertEqual(sorted(msgs), sorted(ids))
        m = msgs[ids[1]]
        self.assertEqual(m["sender"], "")
        self.assertGreater(m["size"], 0)
        self.assertEqual([r["address"] for r in m["recipients"]], ["a1@x1.test", "-@y.test"])
        r = m["recipients"][0]
        self.assertEqual((r["status"], r["attempts"], r["last_reply"]),
                         ("deferred", 2, "451 4.4.1 try-later %"))
        self.assertEqual(r["next_attempt"],
                         time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(due // 1000)))
        p = msgs[ids[3]]["recipients"][0]
        self.assertEqual((p["status"], p["attempts"], p["next_attempt"]), ("pending", 0, None))
        self.assertEqual(lib.run_cli(["queue", "-c", srv.conf, "show", ids[4]]).returncode, 0)


class BigQueue(lib.IntegTestCase):
    """One server over N_BIG deferred messages; the tests run in their numbered order
    (the flush changes one message, the fifth restarts the server, the last stops it)."""

    @classmethod
    def setUpClass(cls):
        cls.peer = peers.ScriptedPeer("127.0.0.1", lib.free_port()).start()
        cls.addClassCleanup(cls.peer.stop)
        cls.srv = relay_server(cls.peer.port)
        cls.addClassCleanup(cls.srv.close)
        cls.ids = fill(cls.srv, N_BIG, 0x0000B16B, now_ms() + HOUR_MS)
        cls.flushed = None
        cls.loaded = False
        cls.srv.start()   # returns once the port answered with its 220 greeting
        cls.listen_s = cls.srv.ready_s
        cls.started = cls.srv.spawned
        os.chmod(cls.srv.conf, 0o644)
        cls.nobody_bin = os.path.join(cls.srv.tmp, "postino")
        shutil.copy(lib.BIN, cls.nobody_bin)
        os.chmod(cls.nobody_bin, 0o755)

    def setUp(self):
        self.began = time.monotonic()

    def tearDown(self):
        print("t_73: %s took %.1f s" % (self._testMethodName, time.monotonic() - self.began),
              file=sys.stderr)

    def wait_loaded(self, starts=1):
        """Until the scheduler (of the starts-th start) has read the whole queue: its log line
        says how many and how long (the files on disk are all there from the start)."""
        if self.loaded and starts == 1:
            return
        pat = re.compile(r"queue: ([1-9]\d*) message\(s\) loaded in (\d+) ms") # not fill()'s
        found = lib.wait_for(lambda: len(pat.findall(self.srv.log())) >= starts and
                             pat.findall(self.srv.log()), LOAD_TIMEOUT_S, interval=0.2,
                             what="the queue loaded by the scheduler")
        n, ms = map(int, found[starts - 1])
        self.assertEqual(n, N_BIG - (1 if self.flushed else 0))
        type(self).load_ms = ms
        type(self).loaded = True

    def check_listing(self, args, expect, preexec_fn=None, binary=None):
        cmd = [binary or lib.BIN, "queue", "-c", self.srv.conf] + args
        status, lines, last, rss, err = measured_run(cmd, preexec_fn)
        self.assertEqual(status, 0, err)
        limit = SANITIZER_RSS_LIMIT_KB if SANITIZER else RSS_LIMIT_KB
        print("t_73: %s%s: %d lines, peak RSS %d KB" % (" ".join(args),
              " (as nobody)" if preexec_fn else "", lines, rss), file=sys.stderr)
        if args[0] == "list":
            self.assertEqual(lines, expect)
            json.loads(last)
        else:
            self.assertEqual(json.loads(last)["total"]["total"], expect)
        self.assertLess(rss, limit, "peak RSS of %s: %d KB" % (" ".join(args), rss))

    def test_1_listener_answers_within_a_second(self):
        print("\nt_73: 220 greeting %.2f s after the start with %d messages queued"
              % (self.listen_s, N_BIG), file=sys.stderr)
        self.assertLess(self.listen_s, LISTEN_BOUND_S,
                        "the listener answered %.2f s after the start" % self.listen_s)

    def test_2_whole_queue_scheduled(self):
        self.wait_loaded()
        print("\nt_73: all %d messages scheduled %.1f s after the start (the server says %d ms)"
              % (N_BIG, time.monotonic() - self.started, self.load_ms), file=sys.stderr)
        self.assertEqual(summary_total(self.srv.conf), N_BIG)

    def test_3_listings_with_server_running(self):
        self.wait_loaded()
        self.check_listing(["list", "--json"], N_BIG)
        self.check_listing(["summary", "--json"], N_BIG)
        if os.geteuid() != 0:
            self.skipTest("needs root to list as another user")
        self.check_listing(["list", "--json"], N_BIG, as_nobody, self.nobody_bin)
        self.check_listing(["summary", "--json"], N_BIG, as_nobody, self.nobody_bin)

    def test_4_flush_one_id(self):
        self.wait_loaded()
        qid = self.ids[N_BIG // 2]
        type(self).flushed = qid
        start = time.monotonic()
        cp = lib.run_cli(["queue", "-c", self.srv.conf, "flush", qid])
        self.assertEqual(cp.returncode, 0, cp.stderr)
        msgs = self.peer.wait_messages(1, timeout=FLUSH_BOUND_S)
        print("\nt_73: flushed message delivered %.2f s after `queue flush ID`"
              % (time.monotonic() - start), file=sys.stderr)
        i = N_BIG // 2
        self.assertEqual([m.accepted for m in msgs],
                         [["user%d@d%d.test" % (i, i % 100)]])
        lib.wait_for(lambda: summary_total(self.srv.conf) == N_BIG - 1, FLUSH_BOUND_S,
                     what="the flushed message gone from the queue")
        rest = schedules(self.srv.conf)
        self.assertNotIn(qid, rest)
        self.assertEqual(len(rest), N_BIG - 1)
        self.assertEqual({(r[1], r[2]) for rs in rest.values() for r in rs}, {("deferred", 3)})
        self.assertEqual(self.peer.connection_count(), 1, "only the flushed message was tried")

    def test_5_schedules_survive_restart(self):
        self.wait_loaded()
        left = N_BIG - (1 if self.flushed else 0)
        before = schedules(self.srv.conf)
        self.srv.stop()
        self.srv.start()
        self.wait_loaded(starts=2)
        print("\nt_73: %d messages scheduled again after a restart in %d ms" % (left, self.load_ms),
              file=sys.stderr)
        after = schedules(self.srv.conf)
        self.assertEqual(len(before), left)
        self.assertEqual(before, after)
        self.assertEqual({(r[1], r[2]) for rs in after.values() for r in rs}, {("deferred", 3)})
        self.assertEqual(self.peer.connection_count(), 1 if self.flushed else 0,
                         "a deferred message was tried before its time")

    def test_6_listings_with_server_stopped(self):
        self.srv.stop()
        left = N_BIG - (1 if self.flushed else 0)
        self.check_listing(["list", "--json"], left)
        self.check_listing(["summary", "--json"], left)


if __name__ == "__main__":
    lib.unittest.main()
