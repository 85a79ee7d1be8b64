"""
t_36_sendmail: `postino sendmail`, the sendmail(8)-compatible interface.
-t with Bcc removed and RFC 5322 address lists (groups, display names,
comments, folded lines); -i and the lone dot; -f/-F and the added From,
Date and Message-ID; -N/-R/-V reaching the queued envelope and a delivered
notice carrying the envelope id; the binary called as "sendmail" and
"mailq"; -bs (SMTP on stdin/stdout); -bp and -q; Debian's bsd-mailx
through a sendmail symlink; mail submitted while the server is down
delivered once it starts; a drop file queued before a crash not queued
twice; a corrupt drop file kept aside; every error path's exit code.
"""
import glob
import os
import re
import shutil
import subprocess
import tempfile
import time
import unittest

import lib

EX_USAGE, EX_DATAERR, EX_TEMPFAIL, EX_CONFIG = 64, 65, 75, 78


def sendmail(args, data=b"", env=None, prog=None, timeout=30):
    """Runs `postino sendmail ARGS` (or prog ARGS, a symlink) with data on stdin."""
    full_env = dict(os.environ)
    full_env.update(env or {})
    cmd = [prog] + list(args) if prog else [lib.BIN, "sendmail"] + list(args)
    cp = subprocess.run(cmd, input=data, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                        timeout=timeout, env=full_env)
    cp.stdout = cp.stdout.decode("utf-8", "replace")
    cp.stderr = cp.stderr.decode("utf-8", "replace")
    marker = lib.sanitizer_report(cp.stderr)
    if marker:
        raise AssertionError("%s in sendmail stderr:\n%s" % (marker, cp.stderr))
    return cp


def mailboxes(data):
    """Every Maildir (domain/local) that holds a message."""
    out = set()
    for d in glob.glob(os.path.join(data, "mail", "*", "*")):
        if os.listdir(os.path.join(d, "new")) or os.listdir(os.path.join(d, "cur")):
            out.add("%s@%s" % (os.path.basename(d), os.path.basename(os.path.dirname(d))))
    return out


def messages_with(data, domain, local, marker, count=1):
    """Waits for count messages holding marker in a Maildir; returns them."""
    found = []

    def ready():
        found[:] = [m for m in lib.maildir_messages(data, domain, local) if marker in m]
        return len(found) >= count
    lib.wait_for(ready, what="%d message(s) with %r for %s@%s" % (count, marker, local, domain))
    return found


class SendmailRunning(lib.SharedServerTestCase):
    """One running server; mail for remote.test is deferred (nothing listens at the relayhost)."""

    @classmethod
    def server_options(cls):
        return dict(relayhost="[127.0.0.1]:%d" % lib.free_port())

    def sm(self, args, data=b"", **kw):
        return sendmail(["-C", self.srv.conf] + list(args), data, **kw)

    def test_t_takes_to_cc_bcc_and_removes_bcc(self):
        msg = (b"From: Alice <alice@example.test>\n"
               b"To: To One <to1@example.test>\n"
               b"Cc: cc1@example.test\n"
               b"Bcc: hidden1@example.test,\n hidden2@example.test\n"
               b"Subject: t36 bcc\n\nbody t36 bcc\n")
        cp = self.sm(["-t", "-v"], msg)
        self.assertEqual(cp.returncode, 0, cp.stderr)
        self.assertIn("for 4 recipient(s)", cp.stderr)
        for local in ("to1", "cc1", "hidden1", "hidden2"):
            raw = messages_with(self.srv.data, "example.test", local, b"t36 bcc")[0]
            self.assertNotIn(b"\nBcc:", raw)
            # nowhere in the header but the recipient's own Delivered-To line
            rest = [l for l in raw.split(b"\n\n", 1)[0].split(b"\n", 3)[3].split(b"\n")
                    if l != b"Delivered-To: %s@example.test" % local.encode()]
            self.assertNotIn(b"hidden", b"\n".join(rest))
            self.assertIn(b"\nTo: To One <to1@example.test>\n", raw)
            self.assertTrue(raw.endswith(b"\n\nbody t36 bcc\n"), raw)

    def test_t_address_list_forms(self):
        msg = (b"To: team: a1@example.test, \"Doe, John\" <a2@example.test>;,\n"
               b"\tundisclosed-recipients:;, a3@example.test (Third (nested) comment)\n"
               b"Cc: \"quoted name\" <A4@Example.Test>, <@relay.test:a5@example.test>,\n"
               b"  =?utf-8?q?J=C3=B6rg?= <a6@example.test>, a7\n"
               b"Subject: t36 forms\n\nforms\n")
        cp = self.sm(["-t"], msg)
        self.assertEqual(cp.returncode, 0, cp.stderr)
        want = ["a1@example.test", "a2@example.test", "a3@example.test", "A4@example.test",
                "a5@example.test", "a6@example.test"]
        for addr in want:
            local, domain = addr.split("@")
            messages_with(self.srv.data, domain, local.lower() if local == "A4" else local,
                          b"t36 forms")
        # "a7" has no domain: it is completed with the first local domain
        messages_with(self.srv.data, "localhost", "a7", b"t36 forms")
        got = set(a.lower() for a in mailboxes(self.srv.data) if re.match(r"a\d@", a))
        self.assertLessEqual(got, set(a.lower() for a in want) | {"a7@localhost"})

    def test_t_with_resent_headers_uses_them(self):
        msg = (b"To: orig@example.test\nResent-To: resent1@example.test\n"
               b"Resent-Bcc: resent2@example.test\nSubject: t36 resent\n\nx\n")
        cp = self.sm(["-t"], msg)
        self.assertEqual(cp.returncode, 0, cp.stderr)
        raw = messages_with(self.srv.data, "example.test", "resent1", b"t36 resent")[0]
        messages_with(self.srv.data, "example.test", "resent2", b"t36 resent")
        self.assertNotIn(b"Resent-Bcc", raw)
        self.assertNotIn(b"t36 resent", b"".join(
            lib.maildir_messages(self.srv.data, "example.test", "orig")))

    def test_headers_added_when_missing(self):
        cp = self.sm(["-f", "sender@example.test", "-F", "Sam Sender",
                      "added@example.test"], b"Subject: t36 added\n\nadded\n")
        self.assertEqual(cp.returncode, 0, cp.stderr)
        raw = messages_with(self.srv.data, "example.test", "added", b"t36 added")[0]
        self.assertTrue(raw.startswith(b"Return-Path: <sender@example.test>\n"), raw)
        self.assertRegex(raw, rb"\nReceived: by %s \(postino, from userid \d+\)\n\tid [0-9A-F]+\n"
                         % lib.HOSTNAME.encode())
        self.assertIn(b"\nFrom: Sam Sender <sender@example.test>\n", raw)
        self.assertRegex(raw, rb"\nDate: \w{3}, \d{1,2} \w{3} \d{4} \d\d:\d\d:\d\d [+-]\d{4}\n")
        self.assertRegex(raw, rb"\nMessage-ID: <[0-9A-F]+@%s>\n" % lib.HOSTNAME.encode())

    def test_headers_present_are_not_doubled(self):
        msg = (b"From: me@example.test\nDate: Mon, 2 Nov 2026 10:00:00 +0000\n"
               b"Message-ID: <own@id>\nSubject: t36 own\n\nown\n")
        cp = self.sm(["own@example.test"], msg)
        self.assertEqual(cp.returncode, 0, cp.stderr)
        raw = messages_with(self.srv.data, "example.test", "own", b"t36 own")[0]
        for name in (b"From:", b"Date:", b"Message-ID:"):
            self.assertEqual(raw.count(b"\n" + name), 1, raw)

    def test_lone_dot_ends_input_unless_i(self):
        cp = self.sm(["dot1@example.test"], b"Subject: t36 dot\n\nbefore\n.\nafter\n")
        self.assertEqual(cp.returncode, 0, cp.stderr)
        raw = messages_with(self.srv.data, "example.test", "dot1", b"t36 dot")[0]
        self.assertTrue(raw.endswith(b"\n\nbefore\n"), raw)
        for flag in ("-i", "-oi"):
            cp = self.sm([flag, "dot2@example.test"], b"Subject: t36 dot %s\n\nbefore\n.\n..two\nafter\n"
                         % flag.encode())
            self.assertEqual(cp.returncode, 0, cp.stderr)
            raw = messages_with(self.srv.data, "example.test", "dot2", b"t36 dot " + flag.encode())[0]
            self.assertTrue(raw.endswith(b"\n\nbefore\n.\n..two\nafter\n"), raw)

    def test_line_ends_crlf_and_8bit_kept(self):
        body = "caf\u00e9 \u2014 ok\r\nsecond\r\n".encode("utf-8")
        cp = self.sm(["crlf@example.test"], b"Subject: t36 crlf\r\n\r\n" + body)
        self.assertEqual(cp.returncode, 0, cp.stderr)
        raw = messages_with(self.srv.data, "example.test", "crlf", b"t36 crlf")[0]
        self.assertNotIn(b"\r", raw)
        self.assertTrue(raw.endswith(body.replace(b"\r\n", b"\n")), raw)

    def test_dsn_options_reach_envelope_and_notice(self):
        cp = self.sm(["-f", "dsnsender@example.test", "-N", "success,delay", "-R", "hdrs",
                      "-V", "t36-envid", "-v", "dsnlocal@example.test", "far@remote.test"],
                     b"Subject: t36 dsn\n\ndsn\n")
        self.assertEqual(cp.returncode, 0, cp.stderr)
        qid = cp.stderr.split("queued as ")[1].split()[0]
        # the local copy is delivered and, with NOTIFY=SUCCESS, reported with the envelope id
        messages_with(self.srv.data, "example.test", "dsnlocal", b"t36 dsn")
        notice_raw = messages_with(self.srv.data, "example.test", "dsnsender",
                                   b"Original-Envelope-Id: t36-envid")[0]
        nt = lib.parse_notice(notice_raw, "dsnsender@example.test")
        self.assertEqual(nt.fields["original-envelope-id"], "t36-envid")
        self.assertEqual(nt.rcpt("dsnlocal@example.test")["action"], "delivered")
        self.assertEqual(nt.original_type, "text/rfc822-headers")
        # the remote one waits in the queue with the parameters
        def queued():
            return [m for m in lib.queue_json(self.srv.conf) if m["id"] == qid]
        lib.wait_for(queued, what="message %s in the queue" % qid)
        m = queued()[0]
        self.assertEqual(m["ret"], "HDRS")
        self.assertEqual(m["envid"], "t36-envid")
        far = [r for r in m["recipients"] if r["address"] == "far@remote.test"][0]
        self.assertEqual(far["notify"], "SUCCESS,DELAY")
        cp = self.sm(["-N", "never", "-V", "t36-never", "-v", "far2@remote.test"], b"Subject: n\n\nn\n")
        self.assertEqual(cp.returncode, 0, cp.stderr)
        qid2 = cp.stderr.split("queued as ")[1].split()[0]
        lib.wait_for(lambda: [m for m in lib.queue_json(self.srv.conf) if m["id"] == qid2],
                     what="message %s in the queue" % qid2)
        m2 = [m for m in lib.queue_json(self.srv.conf) if m["id"] == qid2][0]
        self.assertEqual(m2["recipients"][0]["notify"], "NEVER")

    def test_called_as_sendmail_and_mailq(self):
        tmp = tempfile.mkdtemp(prefix="postino-argv0-")
        self.addCleanup(shutil.rmtree, tmp, True)
        for name in ("sendmail", "mailq"):
            os.symlink(lib.BIN, os.path.join(tmp, name))
        env = {"POSTINO_CONFIG": self.srv.conf}
        cp = sendmail(["-t"], b"To: argv0@example.test\nSubject: t36 argv0\n\nx\n",
                      env=env, prog=os.path.join(tmp, "sendmail"))
        self.assertEqual(cp.returncode, 0, cp.stderr)
        messages_with(self.srv.data, "example.test", "argv0", b"t36 argv0")
        # mailq lists the queue: a message waiting for remote.test among the rest
        cp = sendmail(["-v", "mailq@remote.test"], b"Subject: t36 mailq\n\nx\n", env=env,
                      prog=os.path.join(tmp, "sendmail"))
        qid = cp.stderr.split("queued as ")[1].split()[0]
        lib.wait_for(lambda: qid in [m["id"] for m in lib.queue_json(self.srv.conf)],
                     what="%s queued" % qid)
        before = set(m["id"] for m in lib.queue_json(self.srv.conf))
        cp = sendmail([], env=env, prog=os.path.join(tmp, "mailq"))
        self.assertEqual(cp.returncode, 0, cp.stderr)
        after = set(m["id"] for m in lib.queue_json(self.srv.conf))
        listed = set(re.findall(r"^([0-9A-F]{16})!?\s", cp.stdout, re.M))
        self.assertIn(qid, listed, cp.stdout)
        self.assertLessEqual(after, listed, cp.stdout)   # messages only leave meanwhile
        self.assertLessEqual(listed, before, cp.stdout)
        self.assertIn("mailq@remote.test", cp.stdout)

    def test_bp_lists_and_q_flushes(self):
        cp = self.sm(["-v", "bp@remote.test"], b"Subject: t36 bp\n\nx\n")
        self.assertEqual(cp.returncode, 0, cp.stderr)
        qid = cp.stderr.split("queued as ")[1].split()[0]
        lib.wait_for(lambda: qid in self.sm(["-bp"]).stdout, what="%s in sendmail -bp" % qid)
        cp = self.sm(["-bp"])
        self.assertEqual(cp.returncode, 0, cp.stderr)
        self.assertIn("bp@remote.test", cp.stdout)
        # -q (with or without an interval) is one flush of the whole queue by the server
        for arg in ("-q", "-q15m"):
            flushes = self.srv.log().count("control: flush all")
            cp = self.sm([arg])
            self.assertEqual(cp.returncode, 0, cp.stderr)
            self.assertEqual(self.srv.log().count("control: flush all"), flushes + 1, arg)

    def test_bs_smtp_on_stdin(self):
        dialogue = (b"EHLO client.test\r\n"
                    b"MAIL FROM:<bsfrom@example.test> RET=HDRS ENVID=bs+2Bid\r\n"
                    b"RCPT TO:<bs1@example.test> NOTIFY=SUCCESS ORCPT=rfc822;bs1@example.test\r\n"
                    b"RCPT TO:<bs2@example.test>\r\n"
                    b"DATA\r\n"
                    b"Subject: t36 bs\r\n\r\n..dot-stuffed\r\nplain\r\n.\r\n"
                    b"MAIL FROM:<x@example.test>\r\nDATA\r\nRSET\r\nNOOP\r\nBOGUS\r\nQUIT\r\n")
        cp = self.sm(["-bs"], dialogue)
        self.assertEqual(cp.returncode, 0, cp.stderr)
        codes = [l[:4] for l in cp.stdout.split("\r\n") if l]
        self.assertEqual(codes[0], "220 ")
        self.assertIn("250-DSN", cp.stdout)
        self.assertIn("250-PIPELINING", cp.stdout)
        finals = [c for c in codes if c[3] == " "]
        self.assertEqual(finals, ["220 ", "250 ", "250 ", "250 ", "250 ", "354 ", "250 ", "250 ",
                                  "554 ", "250 ", "250 ", "500 ", "221 "], cp.stdout)
        raw = messages_with(self.srv.data, "example.test", "bs1", b"t36 bs")[0]
        self.assertTrue(raw.endswith(b"\n\n.dot-stuffed\nplain\n"), raw)
        self.assertTrue(raw.startswith(b"Return-Path: <bsfrom@example.test>\n"))
        messages_with(self.srv.data, "example.test", "bs2", b"t36 bs")
        notice = messages_with(self.srv.data, "example.test", "bsfrom", b"Original-Envelope-Id: bs+id")[0]
        nt = lib.parse_notice(notice, "bsfrom@example.test")
        self.assertEqual(nt.rcpt("bs1@example.test")["original-recipient"].replace(" ", ""),
                         "rfc822;bs1@example.test")

    def test_bs_line_limits_and_forbidden_command(self):
        mail, rcpt = "MAIL FROM:<bslong@example.test> RET=HDRS", "RCPT TO:<bs3@example.test> NOTIFY=SUCCESS"
        envid, orcpt = "ENVID=" + "e" * 100, "ORCPT=rfc822;" + "o" * 493
        lines = [lib.padded_command(mail, envid, 613), lib.padded_command(mail, envid, 612),
                 lib.padded_command(rcpt, orcpt, 1013), lib.padded_command(rcpt, orcpt, 1012),
                 lib.padded_command("NOOP", "x", 513), "NOOP",
                 "User-Agent: x", "RSET", "QUIT"]
        cp = self.sm(["-bs"], ("EHLO client.test\r\n" + "\r\n".join(lines) + "\r\n").encode())
        self.assertEqual(cp.returncode, 0, cp.stderr)
        finals = [l[:9] for l in cp.stdout.split("\r\n") if l[3:4] == " "]
        self.assertEqual(finals, ["220 " + lib.HOSTNAME[:5], "250 SMTPU",
                                  "500 5.5.2", "250 2.1.0", "500 5.5.2", "250 2.1.5",
                                  "500 5.5.2", "250 2.0.0", "421 4.7.0"], cp.stdout)

    def test_bsd_mailx_through_sendmail_symlink(self):
        mailx = shutil.which("bsd-mailx")
        if not mailx:
            self.skipTest("bsd-mailx is not installed (scripts/install-deps.sh installs it)")
        if os.geteuid() != 0 or not shutil.which("unshare"):
            self.skipTest("needs root and unshare: bsd-mailx runs /usr/sbin/sendmail, replaced "
                          "here only inside a private mount namespace")
        tmp = tempfile.mkdtemp(prefix="postino-mailx-")
        self.addCleanup(shutil.rmtree, tmp, True)
        link = os.path.join(tmp, "sendmail")
        os.symlink(lib.BIN, link)
        # bsd-mailx calls the compiled-in /usr/sbin/sendmail, not one found on PATH: the
        # symlink is put there by a bind mount that only this process tree sees.
        script = 'mount --bind "$1" /usr/sbin/sendmail && exec bsd-mailx -s "t36 mailx subject" "$2"'
        env = dict(os.environ, POSTINO_CONFIG=self.srv.conf, PATH=tmp + ":" + os.environ["PATH"],
                   HOME=tmp, MAILRC="/dev/null")
        cp = subprocess.run(["unshare", "-m", "sh", "-c", script, "sh", link, "mailx@localhost"],
                            input=b"hello through bsd-mailx\n", stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, timeout=30, env=env)
        if cp.returncode != 0 and b"mount" in cp.stderr:
            self.skipTest("cannot bind-mount here: %s" % cp.stderr.decode(errors="replace"))
        self.assertEqual(cp.returncode, 0, cp.stderr)
        raw = messages_with(self.srv.data, "localhost", "mailx", b"t36 mailx subject")[0]
        self.assertIn(b"\nSubject: t36 mailx subject\n", raw)
        self.assertIn(b"\nTo: mailx@localhost\n", raw)
        self.assertIn(b"\nFrom: ", raw)
        self.assertTrue(raw.endswith(b"\n\nhello through bsd-mailx\n"), raw)
        self.assertIn(b"from userid 0", raw)

    def test_error_exit_codes(self):
        cases = [
            ([], b"Subject: x\n\nx\n", EX_USAGE, "no recipients"),
            (["-t"], b"Subject: x\n\nno to\n", EX_USAGE, "no recipients"),
            (["-t"], b"To: undisclosed-recipients:;\n\nx\n", EX_USAGE, "no recipients"),
            (["-Y", "a@example.test"], b"", EX_USAGE, "unknown option"),
            (["-f"], b"", EX_USAGE, "needs a value"),
            (["-N", "sometimes", "a@example.test"], b"x\n", EX_USAGE, "-N"),
            (["-N", "never,success", "a@example.test"], b"x\n", EX_USAGE, "-N"),
            (["-R", "body", "a@example.test"], b"x\n", EX_USAGE, "-R"),
            (["-V", "x" * 101, "a@example.test"], b"x\n", EX_USAGE, "-V"),
            (["-f", "bad address@", "a@example.test"], b"x\n", EX_USAGE, "sender"),
            (["a@@example.test"], b"x\n", EX_USAGE, "bad recipient"),
            (["-bd"], b"", EX_USAGE, "not supported"),
            (["-t"], b"To: <unterminated@example.test\n\nx\n", EX_DATAERR, "To: header"),
            (["big@example.test"], b"Subject: big\n\n" + b"x" * 120 * 1024 + b"\n", EX_DATAERR,
             "max_message_size"),
        ]
        before = sorted(os.listdir(os.path.join(self.srv.data, "maildrop")))
        for args, data, code, text in cases:
            cp = self.sm(args, data)
            self.assertEqual(cp.returncode, code, "%r: %s" % (args, cp.stderr))
            self.assertIn(text, cp.stderr, args)
        # nothing was left half-written in the drop directory
        self.assertEqual(sorted(os.listdir(os.path.join(self.srv.data, "maildrop"))), before)
        cp = sendmail(["-C", "/nonexistent/postino.conf", "a@example.test"], b"x\n")
        self.assertEqual(cp.returncode, EX_CONFIG, cp.stderr)
        self.assertIn("/nonexistent/postino.conf", cp.stderr)
        cp = sendmail(["--help"])
        self.assertEqual(cp.returncode, 0)
        self.assertIn("usage: postino sendmail", cp.stdout)


class SendmailVerify(lib.IntegTestCase):
    """-bv ADDR ...: what would happen to each address; nothing is sent or queued."""

    def test_bv_reports_without_sending(self):
        srv = self.server(start=False, users=["bob@example.test:{PLAIN}x",
                                              "alice@example.test:{PLAIN}y"],
                          aliases=["team@example.test: bob@example.test, carol@remote.test",
                                   "loop@example.test: loop@example.test"],
                          relayhost="[smart.example.net]:587",
                          local_domains="example.test localhost",  # the first completes "team"
                          extra=["route inner.test [10.0.0.2]:25"])
        cp = sendmail(["-C", srv.conf, "-bv", "team", "Bob@example.test", "x@inner.test",
                       "y@elsewhere.test"])
        self.assertEqual(cp.returncode, 0, cp.stdout + cp.stderr)
        box = os.path.join(srv.data, "mail", "example.test", "bob")
        self.assertEqual(cp.stdout.splitlines(), [
            "team@example.test: alias, expands to:",
            "  bob@example.test: deliverable: local mailbox %s" % box,
            "  carol@remote.test: deliverable: remote, relayed via [smart.example.net]:587",
            "Bob@example.test: deliverable: local mailbox %s" % box,
            "x@inner.test: deliverable: remote, relayed via [10.0.0.2]:25",
            "y@elsewhere.test: deliverable: remote, relayed via [smart.example.net]:587"])
        cp = sendmail(["-C", srv.conf, "-bv", "nobody@example.test", "loop", "bad@@x",
                       "alice@example.test"])
        self.assertEqual(cp.returncode, 67, cp.stdout + cp.stderr)  # EX_NOUSER
        self.assertEqual(cp.stdout.splitlines(), [
            "nobody@example.test: undeliverable: 550 5.1.1 no such mailbox here",
            "loop@example.test: alias, expands to:",
            "  loop@example.test: undeliverable: 550 5.4.6 alias loop",
            "bad@@x: undeliverable: 553 5.1.3 bad address syntax",
            "alice@example.test: deliverable: local mailbox %s"
            % os.path.join(srv.data, "mail", "example.test", "alice")])
        self.assertFalse(os.path.exists(os.path.join(srv.data, "maildrop")),
                         "nothing may be dropped for the server")
        cp = sendmail(["-C", srv.conf, "-bv"])
        self.assertEqual(cp.returncode, EX_USAGE, cp.stdout + cp.stderr)


class SendmailServerDown(lib.IntegTestCase):

    def test_queued_while_down_then_delivered(self):
        srv = self.server(start=False)
        cp = sendmail(["-t", "-v"], b"To: down@example.test\nSubject: t36 down\n\nwhile down\n",
                      env={"POSTINO_CONFIG": srv.conf})
        self.assertEqual(cp.returncode, 0, cp.stderr)
        drops = os.listdir(os.path.join(srv.data, "maildrop"))
        self.assertEqual(len(drops), 1, drops)
        self.assertEqual(lib.maildir_messages(srv.data, "example.test", "down"), [])
        srv.start()
        raw = messages_with(srv.data, "example.test", "down", b"t36 down")[0]
        self.assertTrue(raw.endswith(b"\n\nwhile down\n"))
        lib.wait_for(lambda: not os.listdir(os.path.join(srv.data, "maildrop")),
                     what="the drop directory emptied")
        # and while it runs, a new submission is taken at once (inotify), not at the next rescan
        t0 = time.monotonic()
        cp = sendmail(["up@example.test"], b"Subject: t36 up\n\nup\n", env={"POSTINO_CONFIG": srv.conf})
        self.assertEqual(cp.returncode, 0, cp.stderr)
        messages_with(srv.data, "example.test", "up", b"t36 up")
        self.assertLess(time.monotonic() - t0, 5)

    def test_drop_already_queued_is_not_queued_twice(self):
        srv = self.server(start=False, relayhost="[127.0.0.1]:%d" % lib.free_port())
        cp = sendmail(["-v", "twice@remote.test"], b"Subject: t36 twice\n\nx\n",
                      env={"POSTINO_CONFIG": srv.conf})
        self.assertEqual(cp.returncode, 0, cp.stderr)
        qid = cp.stderr.split("queued as ")[1].split()[0]
        dropdir = os.path.join(srv.data, "maildrop")
        name = os.listdir(dropdir)[0]
        saved = open(os.path.join(dropdir, name), "rb").read()
        srv.start()
        lib.wait_for(lambda: not os.listdir(dropdir), what="pickup")
        srv.stop()
        # a crash after the queue commit and before the drop file's removal leaves both
        with open(os.path.join(dropdir, name), "wb") as f:
            f.write(saved)
        srv.start()
        lib.wait_for(lambda: not os.listdir(dropdir), what="the duplicate drop removed")
        ids = [m["id"] for m in lib.queue_json(srv.conf)]
        self.assertEqual(ids, [qid])
        self.assertIn("already queued as %s" % qid, srv.log())

    def test_corrupt_drop_file_is_kept_aside(self):
        srv = self.server()
        dropdir = os.path.join(srv.data, "maildrop")
        for name, content in (("6B0000000000AA01.0123456789abcdef", b"garbage\n"),
                              ("6B0000000000AA02.0123456789abcdef",
                               b"postino-queue 1\nid X\nsender -\n")):
            with open(os.path.join(dropdir, name + ".tmp"), "wb") as f:
                f.write(content)
            os.rename(os.path.join(dropdir, name + ".tmp"), os.path.join(dropdir, name))
        lib.wait_for(lambda: len(glob.glob(os.path.join(dropdir, "*.bad"))) == 2,
                     what="both drop files renamed .bad")
        # the rename is the worker's, the log line the loop's, just after it
        lib.wait_for(lambda: srv.log().count("rejected") >= 2, what="both rejections logged")
        self.assertEqual(lib.queue_json(srv.conf), [])

    def test_stale_tmp_removed_by_pickup(self):
        """A sendmail killed mid-message leaves NAME.tmp: pickup removes it after an hour
        (by mtime), leaves a younger one (still being written) and anything not a regular file."""
        srv = self.server()
        dropdir = os.path.join(srv.data, "maildrop")
        old = os.path.join(dropdir, "6B0000000000BB01.0123456789abcdef.tmp")
        fresh = os.path.join(dropdir, "6B0000000000BB02.0123456789abcdef.tmp")
        target = os.path.join(srv.tmp, "link-target")
        link = os.path.join(dropdir, "6B0000000000BB03.0123456789abcdef.tmp")
        for path in (old, fresh, target):
            open(path, "wb").close()
        os.symlink(target, link)
        two_hours_ago = time.time() - 7200
        os.utime(old, (two_hours_ago, two_hours_ago))
        os.utime(link, (two_hours_ago, two_hours_ago), follow_symlinks=False)
        os.utime(target, (two_hours_ago, two_hours_ago))
        # a submission makes pickup scan the directory at once (inotify)
        cp = sendmail(["stale@example.test"], b"Subject: t36 stale\n\nx\n",
                      env={"POSTINO_CONFIG": srv.conf})
        self.assertEqual(cp.returncode, 0, cp.stderr)
        messages_with(srv.data, "example.test", "stale", b"t36 stale")
        lib.wait_for(lambda: not os.path.exists(old), what="the stale .tmp removed")
        self.assertTrue(os.path.exists(fresh))
        self.assertTrue(os.path.islink(link))
        self.assertTrue(os.path.exists(target))
        self.assertIn("6B0000000000BB01.0123456789abcdef.tmp: removed", srv.log())

    def test_unprivileged_user_submits(self):
        """Any local user may submit: the drop directory is 1733, the users file (hashes)
        need not be readable, and the directory fsync falls back to syncfs."""
        if os.geteuid() != 0:
            self.skipTest("needs root to run sendmail as another user")
        srv = self.server(users=["bob@example.test:{PLAIN}pw"])
        os.chmod(srv.tmp, 0o711)
        os.chmod(srv.users_file, 0o600)
        binary = os.path.join(srv.tmp, "postino")
        shutil.copy(lib.BIN, binary)
        os.chmod(binary, 0o755)
        os.chmod(srv.conf, 0o644)

        def as_nobody():
            os.setgid(65534)
            os.setuid(65534)
        cp = subprocess.run([binary, "sendmail", "-C", srv.conf, "bob@example.test"],
                            input=b"Subject: t36 nobody\n\nfrom nobody\n", stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, timeout=30, preexec_fn=as_nobody)
        self.assertEqual(cp.returncode, 0, cp.stderr)
        raw = messages_with(srv.data, "example.test", "bob", b"t36 nobody")[0]
        self.assertIn(b"from userid 65534", raw)
        self.assertEqual(os.stat(os.path.join(srv.data, "maildrop")).st_mode & 0o7777, 0o1733)

    def test_cannot_store_is_tempfail(self):
        tmp = tempfile.mkdtemp(prefix="postino-nostore-")
        self.addCleanup(shutil.rmtree, tmp, True)
        blocker = os.path.join(tmp, "file")
        open(blocker, "w").close()
        conf = os.path.join(tmp, "postino.conf")
        with open(conf, "w") as f:
            f.write("data_dir %s/data\n" % blocker)
        cp = sendmail(["-C", conf, "a@localhost"], b"Subject: x\n\nx\n")
        self.assertEqual(cp.returncode, EX_TEMPFAIL, cp.stderr)
        self.assertIn("cannot store", cp.stderr)

    def test_bad_config_is_ex_config(self):
        tmp = tempfile.mkdtemp(prefix="postino-badconf-")
        self.addCleanup(shutil.rmtree, tmp, True)
        conf = os.path.join(tmp, "postino.conf")
        with open(conf, "w") as f:
            f.write("hostname ok.test\nno_such_key 1\n")
        cp = sendmail(["-C", conf, "a@localhost"], b"x\n")
        self.assertEqual(cp.returncode, EX_CONFIG, cp.stderr)
        self.assertIn("%s:2:" % conf, cp.stderr)
        cp = sendmail(["-bp"], env={"POSTINO_CONFIG": conf})
        self.assertEqual(cp.returncode, EX_CONFIG, cp.stderr)


if __name__ == "__main__":
    unittest.main()
