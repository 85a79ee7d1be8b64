"""
t_47_privilege: least privilege is the default. Started as root with no
run_as in the config, `postino serve` runs as the system user postino (its
real, effective and saved uid and gid, read from /proc/PID/status, and no
other group), logs that setuid(0) fails after the drop, and has given
data_dir and everything in it to postino: data_dir 0711, the maildrop 1733,
folders 0700, queue and Maildir files 0600, a file root left there fixed,
a symbolic or hard link planted there left alone; a data_dir below a folder closed
to postino is exit 2 saying so. `run_as root` is refused by
`check` and `serve` (exit 2, FILE:LINE); a missing user makes `serve` exit 2
saying how to create it. Started as nobody (setpriv), the server ignores
run_as and says so once.
"""
import grp
import os
import pwd
import shutil
import signal
import stat
import subprocess
import tempfile
import unittest

import lib

EXIT_CONFIG = 2


def proc_ids(pid):
    """The Uid, Gid (real, effective, saved, fs) and Groups lines of /proc/PID/status."""
    out = {}
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            key, _, value = line.partition(":")
            if key in ("Uid", "Gid", "Groups"):
                out[key] = [int(v) for v in value.split()]
    return out


def owner_mode(path):
    st = os.lstat(path)
    return st.st_uid, st.st_gid, stat.S_IMODE(st.st_mode)


def needs_root(test):
    if os.geteuid() != 0:
        test.skipTest("needs root: the privilege drop happens only when started as root")


class StartedAsRoot(lib.IntegTestCase):

    def setUp(self):
        needs_root(self)
        try:
            self.pw = pwd.getpwnam("postino")
        except KeyError:
            self.fail("no user postino: scripts/install-deps.sh creates it")
        self.ids = (self.pw.pw_uid, self.pw.pw_gid)

    def plant(self, srv):
        """A root-owned data_dir with a stray root file and a link to a root file outside."""
        os.makedirs(os.path.join(srv.data, "queue"), mode=0o755)
        stray = os.path.join(srv.data, "queue", "stray")
        with open(stray, "w") as f:
            f.write("left by root\n")
        os.chmod(stray, 0o644)
        self.outside = os.path.join(srv.tmp, "outside")
        with open(self.outside, "w") as f:
            f.write("not postino's\n")
        os.chmod(self.outside, 0o644)
        os.symlink(self.outside, os.path.join(srv.data, "link"))
        os.link(self.outside, os.path.join(srv.data, "queue", "hardlink"))
        return stray

    def test_default_drops_to_postino(self):
        closed = lib.free_port()
        srv = self.server(start=False, relayhost="[127.0.0.1]:%d" % closed, retry_min="1h",
                          retry_max="2h")
        stray = self.plant(srv)
        srv.start()
        ids = proc_ids(srv.proc.pid)
        self.assertEqual(ids["Uid"], [self.pw.pw_uid] * 4, ids)
        self.assertEqual(ids["Gid"], [self.pw.pw_gid] * 4, ids)
        self.assertEqual(set(ids["Groups"]) - {self.pw.pw_gid}, set(), ids)
        self.assertIn("setuid(0) fails", srv.log())
        self.assertIn("running as postino", srv.log())

        srv.send("alice@sender.test", ["t47@example.test"],
                 lib.make_message("t47 local", to="t47@example.test"))
        srv.wait_mail("t47")
        files = srv.maildir("t47")
        qid = srv.send("alice@sender.test", ["far@remote.test"],
                       lib.make_message("t47 remote", to="far@remote.test"))
        lib.wait_for(lambda: any(m["id"] == qid and m["recipients"][0]["status"] == "deferred"
                                 for m in lib.queue_json(srv.conf)),
                     what="the remote message deferred")

        self.assertEqual(owner_mode(srv.data), self.ids + (0o711,))
        self.assertEqual(owner_mode(os.path.join(srv.data, "maildrop")), self.ids + (0o1733,))
        self.assertEqual(owner_mode(os.path.join(srv.data, "control")), self.ids + (0o600,))
        self.assertEqual(owner_mode(stray), self.ids + (0o600,))
        self.assertEqual(owner_mode(self.outside), (0, 0, 0o644), "a link was followed")
        self.assertIn("hardlink: 2 hard links and not run_as's: left alone", srv.log())
        box = lib.maildir_path(srv.data, "example.test", "t47")
        for d in (box, os.path.join(box, "new"), os.path.join(box, "cur"),
                  os.path.join(box, "tmp"), os.path.join(srv.data, "queue")):
            self.assertEqual(owner_mode(d), self.ids + (0o700,), d)
        self.assertEqual(owner_mode(files[0]), self.ids + (0o600,), files[0])
        queued = [os.path.join(r, n) for r, _, ns in os.walk(os.path.join(srv.data, "queue"))
                  for n in ns if n == qid]
        self.assertEqual(len(queued), 1, "the queue file of %s" % qid)
        self.assertEqual(owner_mode(queued[0]), self.ids + (0o600,), queued[0])

    def test_data_dir_out_of_reach(self):
        closed = tempfile.mkdtemp(prefix="postino-t47-closed-")   # 0700, root's
        self.addCleanup(shutil.rmtree, closed, True)
        srv = self.server(start=False)
        srv.data = os.path.join(closed, "data")
        srv.write_config()
        cp = lib.run_cli(["serve", "-c", srv.conf])
        self.assertEqual(cp.returncode, EXIT_CONFIG, cp.stderr)
        self.assertIn("user postino cannot reach it", cp.stderr)

    def test_run_as_root_refused(self):
        srv = self.server(start=False, run_as="root")
        line = lib.read_text(srv.conf).splitlines().index("run_as root") + 1
        for cmd in ("check", "serve"):
            cp = lib.run_cli([cmd, "-c", srv.conf])
            self.assertEqual(cp.returncode, EXIT_CONFIG, cmd + ": " + cp.stderr)
            self.assertIn("%s:%d: run_as root: refused" % (srv.conf, line), cp.stderr)

    def test_missing_user(self):
        srv = self.server(start=False, run_as="postino-t47-nouser")
        self.assertEqual(lib.run_cli(["check", "-c", srv.conf]).returncode, 0)
        cp = lib.run_cli(["serve", "-c", srv.conf])
        self.assertEqual(cp.returncode, EXIT_CONFIG, cp.stderr)
        self.assertIn("run_as postino-t47-nouser: no such user", cp.stderr)
        self.assertIn("useradd --system --home-dir /var/lib/postino --shell /usr/sbin/nologin "
                      "postino-t47-nouser", cp.stderr)
        self.assertIn("or set run_as", cp.stderr)


class StartedAsNobody(lib.IntegTestCase):

    def test_run_as_ignored(self):
        needs_root(self)
        if not shutil.which("setpriv"):
            self.skipTest("setpriv (util-linux) is missing")
        nobody = pwd.getpwnam("nobody")
        nogroup = grp.getgrgid(nobody.pw_gid).gr_name
        srv = self.server(start=False)
        os.mkdir(srv.data, 0o711)
        os.chown(srv.data, nobody.pw_uid, nobody.pw_gid)
        binary = os.path.join(srv.tmp, "postino")
        shutil.copy(lib.BIN, binary)
        os.chmod(binary, 0o755)
        err = os.path.join(srv.tmp, "nobody.stderr")
        with open(err, "wb") as f:
            proc = subprocess.Popen(["setpriv", "--reuid=nobody", "--regid=" + nogroup,
                                     "--clear-groups", binary, "serve", "-c", srv.conf],
                                    stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                    stderr=f, cwd=srv.tmp)
        lib._running.add(proc)
        self.addCleanup(lambda: proc.poll() is None and (proc.kill(), proc.wait()))
        lib.wait_for(lambda: "postino ready" in lib.read_text(err) or proc.poll() is not None,
                     timeout=lib.START_TIMEOUT, what="the server ready as nobody")
        self.assertIsNone(proc.poll(), lib.read_text(err))
        self.assertEqual(proc_ids(proc.pid)["Uid"], [nobody.pw_uid] * 4)
        srv.send("alice@sender.test", ["nb@example.test"],
                 lib.make_message("t47 nobody", to="nb@example.test"))
        srv.wait_mail("nb")
        self.assertEqual(os.stat(srv.maildir("nb")[0]).st_uid, nobody.pw_uid)
        proc.send_signal(signal.SIGTERM)
        self.assertEqual(proc.wait(timeout=lib.STOP_TIMEOUT), 0)
        log = lib.read_text(err)
        self.assertEqual(log.count("run_as postino ignored"), 1, log)
        self.assertIsNone(lib.sanitizer_report(log), log)


if __name__ == "__main__":
    unittest.main()
