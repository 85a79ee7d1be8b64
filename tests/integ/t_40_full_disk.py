"""
t_40_full_disk: a full disk never costs an acknowledged message. The data
folder is a 4 MB tmpfs (mounted in this test process's own mount namespace,
so nothing outside sees it; needs root, else the tests are skipped). While
deferred messages retry, a file fills the disk: every state record that
cannot be written whole is cut back, so once the disk is freed and the server
restarted every message is still listed and is delivered. A message whose
commit meets the full disk gets 452 4.3.1 (RFC 3463 "mail system full") and
nothing is queued.
"""
import ctypes
import errno
import os
import subprocess
import unittest

import lib
import peers

CLONE_NEWNS = 0x00020000
MESSAGES = 40
LONG_REPLY = "451 4.3.0 t38 " + "later " * 70   # big state records fill pages fast

_namespace = {}


def private_mounts():
    """None once this process has a private mount namespace, else why it cannot."""
    if "why" not in _namespace:
        _namespace["why"] = _unshare_mounts()
    return _namespace["why"]


def _unshare_mounts():
    if os.geteuid() != 0:
        return "mounting a tmpfs needs root"
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.unshare(CLONE_NEWNS) != 0:
        return "unshare(CLONE_NEWNS): %s" % os.strerror(ctypes.get_errno())
    cp = subprocess.run(["mount", "--make-rprivate", "/"], capture_output=True, text=True)
    if cp.returncode != 0:
        return "mount --make-rprivate /: %s" % cp.stderr.strip()
    return None


def fill(path):
    """Writes path until the file system is full (to the last byte it takes)."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        size = 1 << 16
        while size >= 1:
            try:
                if os.write(fd, b"\0" * size) == 0:
                    size //= 16
            except OSError as e:
                if e.errno != errno.ENOSPC:
                    raise
                size //= 16
    finally:
        os.close(fd)


class FullDisk(peers.RelayTestCase):

    @classmethod
    def setUpClass(cls):
        why = private_mounts()   # before any thread of this process starts
        if why:
            raise unittest.SkipTest(why)
        super().setUpClass()

    @classmethod
    def dns_records(cls, dns):
        dns.mx("r.test", "mx.r.test", 10).a("mx.r.test", "127.0.0.2")

    def small_disk_server(self, **settings):
        """A relay server whose data folder is a fresh 4 MB tmpfs."""
        srv = self.relay_server(start=False, **settings)
        os.makedirs(srv.data)
        cp = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=4m,mode=0700", "tmpfs",
                             srv.data], capture_output=True, text=True)
        if cp.returncode != 0:
            self.skipTest("mount -t tmpfs: %s" % cp.stderr.strip())
        self.addCleanup(subprocess.run, ["umount", "-l", srv.data], capture_output=True)
        srv.start()
        return srv

    def attempts(self, srv):
        return {m["id"]: m["recipients"][0]["attempts"] for m in lib.queue_json(srv.conf)}

    def all_above(self, srv, floor):
        """True when exactly floor's messages are listed, each with more attempts."""
        now = self.attempts(srv)
        return sorted(now) == sorted(floor) and all(now[q] > floor[q] for q in floor)

    def test_full_disk_while_recording_keeps_every_message(self):
        p = self.peer("127.0.0.2", {"rcpt": LONG_REPLY})
        srv = self.small_disk_server(retry_min="1s", retry_max="1s")
        sent = {}
        for i in range(MESSAGES):
            qid, msg = self.send(srv, ["m%d@r.test" % i], "t38 full %d" % i)
            sent[qid] = msg
        lib.wait_for(lambda: self.all_above(srv, dict.fromkeys(sent, 0)), timeout=30,
                     interval=0.2, what="every message deferred once")
        filler = os.path.join(srv.data, "filler")
        fill(filler)

        def full_everywhere():
            failed = self.log_lines(srv, "recording the delivery state failed")
            return all(sum(qid in l for l in failed) >= 2 for qid in sent)
        # two failures each: every file's last page is full (the old code tore a record there)
        lib.wait_for(full_everywhere, timeout=90, interval=0.2,
                     what=lambda: "two failed records for every message; log:\n%s"
                     % srv.log_tail(10))
        os.unlink(filler)
        at_free = self.attempts(srv)
        self.assertEqual(sorted(at_free), sorted(sent), "messages lost while the disk was full")
        # each file takes records again, after its last good one
        lib.wait_for(lambda: self.all_above(srv, at_free), timeout=30, interval=0.2,
                     what=lambda: "a new record in every message: %r" % self.attempts(srv))
        srv.restart()
        self.assertEqual(sorted(self.attempts(srv)), sorted(sent))
        self.assertFalse(self.log_lines(srv, "cannot read queue file"), srv.log_tail())
        self.assertFalse(self.log_lines(srv, "is damaged"), srv.log_tail())
        self.assertFalse(os.path.exists(os.path.join(srv.data, "corrupt")))
        p.stop()
        ok = self.peer("127.0.0.2")
        ok.wait_messages(MESSAGES, timeout=60)
        self.wait_queue_empty(srv, timeout=30)

    def test_commit_on_full_disk_gets_452_4_3_1(self):
        srv = self.small_disk_server()
        filler = os.path.join(srv.data, "filler")
        fill(filler)
        body = lib.make_message("t38 no room", body=("z" * 78 + "\r\n") * 600)   # about 48 KB
        with srv.raw() as c:
            c.ehlo()
            reply = c.transaction("a@sender.test", ["b@r.test"], body)
            lib.expect(reply, 452, "4.3.1")
        self.assertEqual(srv.queue(), [])
        queued = [n for d in os.listdir(os.path.join(srv.data, "queue")) if d != "pool"
                  for n in os.listdir(os.path.join(srv.data, "queue", d))]
        self.assertEqual(queued, [])
        os.unlink(filler)
        with srv.raw() as c:
            c.ehlo()
            lib.expect(c.transaction("a@sender.test", ["b@r.test"], body), 250, "2.0.0")


if __name__ == "__main__":
    unittest.main()
