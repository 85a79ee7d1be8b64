"""
t_10_cli: the command line of INTERFACE.md "Commands" that needs no SMTP
client: `postino check` (exit 0 and the effective settings; a bad config
exits 2 with FILE:LINE on stderr), `postino serve` with a bad config (exit 2
the same way, without starting), `postino queue list` (empty queue, --json,
human table) and `queue show`, which work with the server stopped;
--help / --version; $POSTINO_CONFIG.
"""
import json
import os
import subprocess
import tempfile
import shutil
import unittest

import lib

BAD_VALUES = {
    # key line that is wrong -> the line number it is on (line 3 in each file)
    "unknown key": "no_such_key 1",
    "bad size": "max_message_size lots",
    "bad duration": "timeout_server 5x",
    "bad number": "max_recipients -3",
    "bad listen kind": "listen gopher 127.0.0.1:70",
    "bad listen address": "listen smtp 127.0.0.1:99999",
    "bad cidr": "relay_networks 10.0.0.0/33",
    "missing value": "hostname",
}


class Cli(lib.IntegTestCase):

    def setUp(self):
        if not os.access(lib.BIN, os.X_OK):
            self.fail("POSTINO_BIN %s is not an executable" % lib.BIN)
        self.tmp = tempfile.mkdtemp(prefix="postino-cli-")
        if lib.KEEP_TMP:
            self.addCleanup(lambda: print("\n[KEEP_TMP] %s" % self.tmp))
        else:
            self.addCleanup(shutil.rmtree, self.tmp, True)

    def write(self, name, lines):
        path = os.path.join(self.tmp, name)
        with open(path, "w") as f:
            f.write("\n".join(lines) + "\n")
        return path

    def good_conf(self):
        return self.write("good.conf", ["# a comment", "", "hostname mx.test",
                                        "data_dir %s/data" % self.tmp,
                                        "listen smtp 127.0.0.1:%d" % lib.free_port(),
                                        "local_domains localhost example.test",
                                        "max_recipients 5   # trailing comment"])

    # -- check

    def test_check_valid(self):
        conf = self.good_conf()
        cp = lib.run_cli(["check", "-c", conf])
        self.assertEqual(cp.returncode, 0, cp.stderr)
        lines = [l.strip() for l in cp.stdout.splitlines()]
        self.assertIn("hostname mx.test", lines)
        self.assertIn("max_recipients 5", lines)
        # effective settings include the defaults not written in the file
        for key in ("queue_lifetime", "max_hops", "retry_min", "timeout_server"):
            self.assertTrue(any(l.split()[:1] == [key] for l in lines), "%s missing:\n%s"
                            % (key, cp.stdout))

    def test_check_output_is_a_valid_config(self):
        conf = self.good_conf()
        cp = lib.run_cli(["check", "-c", conf])
        self.assertEqual(cp.returncode, 0, cp.stderr)
        again = self.write("again.conf", cp.stdout.splitlines())
        cp2 = lib.run_cli(["check", "-c", again])
        self.assertEqual(cp2.returncode, 0, "check's own output is not a valid config: %s\n%s"
                         % (cp2.stderr, cp.stdout))

    def test_check_invalid_file_line(self):
        for what, line in BAD_VALUES.items():
            with self.subTest(what=what):
                conf = self.write("bad.conf", ["hostname mx.test", "data_dir %s/data" % self.tmp,
                                               line, "max_hops 50"])
                cp = lib.run_cli(["check", "-c", conf])
                self.assertEqual(cp.returncode, 2, "%s: exit %d\n%s%s"
                                 % (what, cp.returncode, cp.stdout, cp.stderr))
                self.assertIn("%s:3:" % conf, cp.stderr)

    def test_check_missing_file(self):
        missing = os.path.join(self.tmp, "nope.conf")
        cp = lib.run_cli(["check", "-c", missing])
        self.assertEqual(cp.returncode, 2)
        self.assertIn(missing, cp.stderr)

    def test_check_missing_users_file(self):
        conf = self.write("u.conf", ["hostname mx.test", "users %s/no-such-users" % self.tmp])
        cp = lib.run_cli(["check", "-c", conf])
        self.assertEqual(cp.returncode, 2)
        self.assertIn("no-such-users", cp.stderr)

    def test_postino_config_env(self):
        conf = self.good_conf()
        cp = lib.run_cli(["check"], env={"POSTINO_CONFIG": conf})
        self.assertEqual(cp.returncode, 0, cp.stderr)
        self.assertIn("hostname mx.test", [l.strip() for l in cp.stdout.splitlines()])

    def test_help_and_version(self):
        for args in (["--help"], ["--version"], ["check", "--help"], ["queue", "--help"],
                     ["serve", "--help"]):
            with self.subTest(args=args):
                cp = lib.run_cli(args, timeout=10)
                self.assertEqual(cp.returncode, 0, cp.stderr)
                self.assertTrue(cp.stdout.strip(), "no output for %s" % args)

    # -- serve with a bad config

    def test_serve_bad_config_exits_2(self):
        port = lib.free_port()
        conf = self.write("bad.conf", ["hostname mx.test", "listen smtp 127.0.0.1:%d" % port,
                                       "no_such_key 1", "data_dir %s/data" % self.tmp])
        try:
            cp = lib.run_cli(["serve", "-c", conf], timeout=10)
        except subprocess.TimeoutExpired:
            self.fail("postino serve with a bad config did not exit")
        self.assertEqual(cp.returncode, 2, cp.stderr)
        self.assertIn("%s:3:" % conf, cp.stderr)

    # -- queue

    def test_queue_empty_with_server_stopped(self):
        srv = self.server()
        srv.stop()
        cp = lib.run_cli(["queue", "-c", srv.conf, "list"])
        self.assertEqual(cp.returncode, 0, cp.stderr)
        self.assertIn("empty", cp.stdout.lower())
        cp = lib.run_cli(["queue", "-c", srv.conf, "list", "--json"])
        self.assertEqual(cp.returncode, 0, cp.stderr)
        self.assertEqual(cp.stdout.strip(), "")

    def test_queue_list_with_server_running_and_stopped(self):
        srv = self.server(relayhost="[127.0.0.1]:%d" % lib.free_port())
        qid = srv.send("alice@sender.test", ["far@remote.test", "near@example.test"],
                       lib.make_message("t10 queued"))
        srv.wait_mail("near")
        running = [m for m in srv.queue() if m["id"] == qid]
        self.assertEqual(len(running), 1)
        srv.stop()
        listed = srv.queue()
        self.assertEqual(len(listed), 1, listed)
        m = listed[0]
        self.assertEqual(m["id"], qid)
        self.assertEqual(m["sender"], "alice@sender.test")
        self.assertIsInstance(m["size"], int)
        self.assertIsNotNone(m["arrival"])
        far = [r for r in m["recipients"] if r["address"] == "far@remote.test"]
        self.assertEqual(len(far), 1, m["recipients"])
        self.assertIn(far[0]["status"], ("deferred", "pending"))
        for key in ("notify", "orcpt", "attempts", "next_attempt", "last_reply"):
            self.assertIn(key, far[0])
        self.assertIsInstance(far[0]["attempts"], int)
        # every line is one JSON object
        cp = lib.run_cli(["queue", "-c", srv.conf, "list", "--json"])
        for line in cp.stdout.splitlines():
            self.assertIsInstance(json.loads(line), dict)
        # the human table names the message and the recipient
        cp = lib.run_cli(["queue", "-c", srv.conf, "list"])
        self.assertEqual(cp.returncode, 0, cp.stderr)
        self.assertIn(qid, cp.stdout)
        self.assertIn("far@remote.test", cp.stdout)
        self.assertNotIn("empty", cp.stdout.lower())
        cp = lib.run_cli(["queue", "-c", srv.conf, "show", qid])
        self.assertEqual(cp.returncode, 0, cp.stderr)
        self.assertIn("far@remote.test", cp.stdout)
        self.assertIn("alice@sender.test", cp.stdout)
        # and it survives a restart
        srv.start()
        self.assertEqual([m["id"] for m in srv.queue()], [qid])

    def test_queue_show_unknown_id(self):
        srv = self.server(start=False)
        cp = lib.run_cli(["queue", "-c", srv.conf, "show", "NOSUCHID"])
        self.assertNotEqual(cp.returncode, 0)


if __name__ == "__main__":
    unittest.main()
