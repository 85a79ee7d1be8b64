"""
t_48_reload: reload without a restart (SIGHUP, `postino reload`).
An alias, a user's password and the TLS certificate change; after
`postino reload` new sessions see the new ones (the new alias delivers, the
new password logs in and the old one no longer does, STARTTLS shows the
new certificate) while a session opened before the reload finishes under
the settings it started with (its message follows the old alias), and a
message waiting in the queue is still there. An invalid config (a bad
value, a bad users line, a key the server's user cannot read) is refused:
`reload` exits 2 naming FILE:LINE, the server logs it and keeps serving
with its old settings; SIGHUP with a bad config does the same. A change
only a restart applies (listen, data_dir) is logged as such and the queue
stays where it is. `reload` with no server running exits 69.
The server runs as root dropped to run_as (postino), as in production: the
files it re-reads are readable by that user (root:postino 0640 for the key).
"""
import base64
import grp
import os
import signal
import ssl
import unittest

import lib
import peers
from lib import expect

OLD_PW, NEW_PW = "old-secret", "new-secret"
USER = "bob@example.test"


def plain(user, password):
    return base64.b64encode(("\0%s\0%s" % (user, password)).encode()).decode()


def der_of(cert_path):
    with open(cert_path) as f:
        return ssl.PEM_cert_to_DER_cert(f.read())


class ReloadTest(lib.IntegTestCase):

    def setUp(self):
        self.srv = self.server(start=False, users=["%s:{PLAIN}%s" % (USER, OLD_PW)],
                               aliases=["team@example.test: bob@example.test"],
                               timeout_server="60s",
                               relayhost="[127.0.0.1]:%d" % lib.free_port())
        self.cert_a = self.make_cert("a")
        self.cert_b = self.make_cert("b")
        self.sub_port = lib.free_port()
        self.srv.extra = ["listen submission 127.0.0.1:%d" % self.sub_port,
                          "tls_cert %s" % self.cert_a[0], "tls_key %s" % self.cert_a[1]]
        self.srv.write_config()
        self.srv.start()

    def make_cert(self, name):
        """A certificate whose key the server's user reads as root:postino 0640."""
        cert, key = peers.make_cert(self.srv.tmp, cn=lib.HOSTNAME, name=name, ip="127.0.0.1")
        os.chown(key, 0, grp.getgrnam("postino").gr_gid)
        os.chmod(key, 0o640)
        os.chmod(cert, 0o644)
        return cert, key

    # helpers

    def reload(self):
        return lib.run_cli(["reload", "-c", self.srv.conf], timeout=60)

    def rewrite(self, path, lines):
        with open(path, "w") as f:
            f.write("".join(l + "\n" for l in lines))

    def session(self, port=None):
        c = lib.Raw(port or self.srv.port)
        self.addCleanup(c.close)
        expect(c.greeting, 220, enhanced=False)
        c.ehlo()
        return c

    def starttls(self, c, cafile):
        expect(c.cmd("STARTTLS"), 220, "2.0.0")
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        ctx.load_verify_locations(cafile)
        c.sock = ctx.wrap_socket(c.sock, server_hostname=lib.HOSTNAME)
        c.ehlo()
        return c.sock.getpeercert(binary_form=True)

    def auth_reply(self, password):
        c = self.session(self.sub_port)
        self.starttls(c, self.cert_b[0])
        return c.cmd("AUTH PLAIN " + plain(USER, password))

    def deliver(self, c, rcpt, subject):
        msg = lib.make_message(subject, to=rcpt)
        expect(c.transaction("alice@sender.test", [rcpt], msg), 250, "2.0.0")

    def assert_serving(self):
        """The server still runs and takes mail under its old settings."""
        self.assertTrue(self.srv.running(), self.srv.log_tail())
        c = self.session()
        self.deliver(c, "team@example.test", "still old alias")
        lib.wait_for(lambda: any("still old alias" in lib.read_text(p)
                                 for p in self.srv.maildir("bob")),
                     what=lambda: "mail via the old alias to bob\n" + self.srv.log_tail())

    def wait_log(self, text):
        lib.wait_for(lambda: text in self.srv.log(), what=lambda: "log line %r\n%s" %
                     (text, self.srv.log_tail()))

    # tests

    def test_reload_applies_new_settings_old_session_kept(self):
        # a message waiting in the queue (its relay host does not answer)
        waiting = lib.send_message(self.srv.port, "alice@sender.test", ["carol@remote.test"],
                                   lib.make_message("waiting"))
        # a session opened before the reload, inside a transaction to the old alias
        old = self.session()
        expect(old.cmd("MAIL FROM:<alice@sender.test>"), 250, "2.1.0")
        expect(old.cmd("RCPT TO:<team@example.test>"), 250, "2.1.5")

        self.rewrite(self.srv.users_file, ["%s:{PLAIN}%s" % (USER, NEW_PW),
                                           "alice@example.test:{PLAIN}alice-pw"])
        self.rewrite(self.srv.aliases_file, ["team@example.test: alice@example.test",
                                             "sales@example.test: bob@example.test"])
        self.srv.extra[1:] = ["tls_cert %s" % self.cert_b[0], "tls_key %s" % self.cert_b[1]]
        self.srv.write_config()
        cp = self.reload()
        self.assertEqual(cp.returncode, 0, cp.stderr + self.srv.log_tail())
        self.assertIn("reloaded", cp.stdout)
        self.assertIn("2 users, 2 aliases", cp.stdout)

        # new sessions: the new alias, the new password, the new certificate
        c = self.session()
        self.deliver(c, "sales@example.test", "new alias sales")
        self.deliver(c, "team@example.test", "new alias team")
        c = self.session(self.sub_port)
        self.assertEqual(self.starttls(c, self.cert_b[0]), der_of(self.cert_b[0]))
        expect(c.cmd("AUTH PLAIN " + plain(USER, NEW_PW)), 235, "2.7.0")
        expect(self.auth_reply(OLD_PW), 535, "5.7.8")

        # the old session goes on, under the settings it started with
        expect(old.cmd("DATA"), 354)
        old.send(lib.make_message("old session") + b".\r\n")
        expect(old.reply(), 250, "2.0.0")
        expect(old.cmd("QUIT"), 221, "2.0.0")

        lib.wait_for(lambda: len(self.srv.maildir("alice")) == 1,
                     what=lambda: "the new team alias delivers to alice\n" + self.srv.log_tail())
        lib.wait_for(lambda: len(self.srv.maildir("bob")) == 2,
                     what=lambda: "sales and the old session's team to bob\n" + self.srv.log_tail())
        bob = "".join(lib.read_text(p) for p in self.srv.maildir("bob"))
        self.assertIn("old session", bob)
        self.assertIn("new alias sales", bob)
        self.assertIn("new alias team", lib.read_text(self.srv.maildir("alice")[0]))
        self.assertIn(waiting, [m["id"] for m in lib.queue_json(self.srv.conf)])
        self.assertIn("reload: reloaded", self.srv.log())

    def test_invalid_config_refused_old_settings_kept(self):
        conf_lines = self.srv.config_lines()
        self.srv.extra.append("max_recipients lots")
        self.srv.write_config()
        where = "%s:%d:" % (self.srv.conf, len(conf_lines) + 1)
        cp = self.reload()
        self.assertEqual(cp.returncode, 2, cp.stdout + cp.stderr)
        self.assertIn(where, cp.stderr)
        self.assertIn("max_recipients", cp.stderr)
        self.assert_serving()

        # SIGHUP with the same bad file: logged with FILE:LINE, the server keeps serving
        self.srv.proc.send_signal(signal.SIGHUP)
        self.wait_log(where)
        self.assertIn("still running with the settings it had", self.srv.log())
        self.assert_serving()

    def test_bad_users_line_refused(self):
        self.rewrite(self.srv.users_file, ["%s:{PLAIN}%s" % (USER, NEW_PW), "no colon here"])
        cp = self.reload()
        self.assertEqual(cp.returncode, 2, cp.stdout + cp.stderr)
        self.assertIn("%s:2:" % self.srv.users_file, cp.stderr)
        # the old password still works
        c = self.session(self.sub_port)
        self.starttls(c, self.cert_a[0])
        expect(c.cmd("AUTH PLAIN " + plain(USER, OLD_PW)), 235, "2.7.0")

    def test_key_unreadable_by_run_as_refused(self):
        os.chmod(self.cert_b[1], 0o600)  # root only: the server runs as postino
        self.srv.extra[1:] = ["tls_cert %s" % self.cert_b[0], "tls_key %s" % self.cert_b[1]]
        self.srv.write_config()
        cp = self.reload()
        self.assertEqual(cp.returncode, 2, cp.stdout + cp.stderr)
        self.assertIn("cannot read %s" % self.cert_b[1], cp.stderr)
        c = self.session(self.sub_port)
        self.assertEqual(self.starttls(c, self.cert_a[0]), der_of(self.cert_a[0]))

    def test_restart_keys_logged_queue_stays(self):
        new_port = lib.free_port()
        self.srv.extra.append("listen smtp 127.0.0.1:%d" % new_port)
        self.srv.write_config()
        cp = self.reload()
        self.assertEqual(cp.returncode, 0, cp.stderr + self.srv.log_tail())
        self.wait_log("listen changed")
        # data_dir: `reload -c` would look for the server in the new folder; SIGHUP reaches it
        lines = self.srv.config_lines()
        self.assertTrue(lines[1].startswith("data_dir "), lines)
        lines[1] = "data_dir %s" % os.path.join(self.srv.tmp, "elsewhere")
        self.rewrite(self.srv.conf, lines)
        self.srv.proc.send_signal(signal.SIGHUP)
        self.wait_log("data_dir, listen changed")
        self.assertIn("a restart is needed", self.srv.log())
        # still on the old port and the old data_dir
        c = self.session()
        self.deliver(c, "bob@example.test", "after restart keys")
        self.srv.wait_mail("bob")
        self.assertFalse(os.path.exists(os.path.join(self.srv.tmp, "elsewhere")))
        with self.assertRaises(OSError):
            lib.Raw(new_port, timeout=2)

    def test_sighup_reloads(self):
        self.rewrite(self.srv.aliases_file, ["info@example.test: bob@example.test"])
        self.srv.proc.send_signal(signal.SIGHUP)
        self.wait_log("reload: reloaded")
        c = self.session()
        self.deliver(c, "info@example.test", "via sighup alias")
        self.srv.wait_mail("bob")


class ReloadNoServerTest(lib.IntegTestCase):

    def test_no_server_exit_69(self):
        srv = self.server(start=False)
        cp = lib.run_cli(["reload", "-c", srv.conf])
        self.assertEqual(cp.returncode, 69, cp.stdout + cp.stderr)
        self.assertIn("no server runs", cp.stderr)

    def test_invalid_config_exit_2(self):
        srv = self.server(start=False, extra=["retry_min soon"])
        cp = lib.run_cli(["reload", "-c", srv.conf])
        self.assertEqual(cp.returncode, 2, cp.stdout + cp.stderr)
        self.assertIn("%s:" % srv.conf, cp.stderr)


if __name__ == "__main__":
    unittest.main()
