"""
t_31_imap_dovecot: IMAP interoperability. Messages that postino delivered
to its Maildirs (DATA/mail/DOMAIN/LOCAL/{tmp,new,cur}) are read by a private
Dovecot (Debian's dovecot-imapd, installed with apt-get when missing) with
Python's imaplib: the content is equal to the stored file (modulo LF/CRLF),
RFC822.SIZE is the CRLF size, a new message is \\Recent and not \\Seen, a
FETCH BODY[] sets \\Seen, and Dovecot renames the file into cur/ with the
standard ":2,S" info suffix. This proves the Maildirs are standard.

The Dovecot runs from a config in the test's temp dir (base_dir, state_dir,
log there), on a free loopback port only (imaps disabled), so a system
Dovecot on 143/993, if any, does not matter. Dovecot refuses to access mail
as root, so when the test runs as root the delivered mailbox is chowned to
`nobody` and the mail processes run with that uid.
The test is skipped only if dovecot is missing and cannot be installed.
"""
import imaplib
import os
import pwd
import re

import lib
from lib_dovecot import (DovecotProcess, ensure_dovecot, flags_of, imap_connect, imap_login,
                         imap_logout)

PASSWORD = "imap-secret"
DOMAIN = "example.test"
USERS = ["bob@example.test", "carol@example.test"]


class Dovecot(DovecotProcess):
    """A private `dovecot -F -c CONF` on 127.0.0.1:port serving data/mail with
    a passwd file of its own."""

    def __init__(self, mail_root, users, uid, gid):
        super().__init__()
        passwd = os.path.join(self.tmp, "passwd")
        with open(passwd, "w") as f:
            f.write("".join("%s:{PLAIN}%s\n" % (u, PASSWORD) for u in users))
        os.chmod(passwd, 0o644)
        home = "%s/%%d/%%n" % mail_root
        self.write_config(self.private_lines() + [
            "mail_location = maildir:%s" % home,
            "passdb {",
            "  driver = passwd-file",
            "  args = scheme=PLAIN username_format=%%u %s" % passwd,
            "}",
            "userdb {",
            "  driver = static",
            "  args = uid=%d gid=%d home=%s" % (uid, gid, home),
            "}",
        ])


def chown_tree(path, uid, gid):
    os.chown(path, uid, gid)
    for root, dirs, files in os.walk(path):
        for n in dirs + files:
            os.chown(os.path.join(root, n), uid, gid)


def make_traversable(top, path):
    """chmod o+x on every directory from top down to path (inclusive)."""
    top = os.path.abspath(top)
    p = os.path.abspath(path)
    while True:
        st = os.stat(p)
        os.chmod(p, st.st_mode | 0o011)
        if p == top or p == "/":
            break
        p = os.path.dirname(p)


class ImapDovecot(lib.IntegTestCase):

    @classmethod
    def setUpClass(cls):
        reason = ensure_dovecot()
        if reason:
            raise lib.unittest.SkipTest(reason)

    def setUp(self):
        self.srv = self.server(users=["%s:{PLAIN}x" % u for u in USERS])

    def deliver(self, user, subjects):
        local = user.split("@")[0]
        for i, subject in enumerate(subjects):
            body = ("Line one.\r\n.dotted line\r\n\r\nFrom the start\r\n"
                    "caf\u00e9 8bit %d\r\nlast\r\n" % i)
            msg = lib.make_message(subject, body=body, to=user)
            lib.send_message(self.srv.port, "alice@sender.test", [user], msg)
            lib.wait_maildir_count(self.srv.data, DOMAIN, local, i + 1)
        return lib.maildir_messages(self.srv.data, DOMAIN, local)

    def dovecot(self, users):
        """Hands the delivered mailboxes to an unprivileged uid and starts Dovecot."""
        mail_root = os.path.join(self.srv.data, "mail")
        if os.getuid() == 0:
            pw = pwd.getpwnam("nobody")
            uid, gid = pw.pw_uid, pw.pw_gid
            for u in users:
                local, domain = u.split("@")
                box = lib.maildir_path(self.srv.data, domain, local)
                chown_tree(box, uid, gid)
                make_traversable(self.srv.tmp, os.path.dirname(box))
        else:
            uid, gid = os.getuid(), os.getgid()
        dv = Dovecot(mail_root, USERS, uid, gid)
        self.addCleanup(dv.close)
        dv.start()
        self.dv = dv
        return dv

    def imap(self, user):
        return imap_login(self, self.dv, user, PASSWORD)

    def test_read_delivered_messages(self):
        user = USERS[0]
        stored = self.deliver(user, ["imap one", "imap two"])
        self.assertTrue(all(b"\r" not in m for m in stored))
        dv = self.dovecot([user])
        c = self.imap(user)
        typ, data = c.select("INBOX")
        self.assertEqual(typ, "OK", data)
        self.assertEqual(int(data[0]), 2)

        # Before any fetch: new messages are \Recent, not \Seen.
        typ, data = c.fetch("1:2", "(FLAGS RFC822.SIZE UID)")
        self.assertEqual(typ, "OK", data)
        self.assertEqual(len(data), 2, data)
        for i, item in enumerate(data):
            flags = flags_of([item])
            self.assertNotIn("\\Seen", flags)
            self.assertTrue(flags <= {"\\Recent"}, flags)
            size = int(re.search(rb"RFC822\.SIZE (\d+)", item).group(1))
            self.assertEqual(size, len(stored[i]) + stored[i].count(b"\n"))

        # BODY.PEEK[] returns the stored bytes (CRLF) and sets nothing.
        for i in (1, 2):
            typ, data = c.fetch(str(i), "(BODY.PEEK[])")
            self.assertEqual(typ, "OK", data)
            content = data[0][1]
            self.assertEqual(content, stored[i - 1].replace(b"\n", b"\r\n"))
            self.assertTrue(content.startswith(b"Return-Path: <alice@sender.test>\r\n"))
            self.assertIn(b"\r\nReceived: ", content)
            self.assertIn(b"\r\nSubject: imap %s\r\n" % (b"one" if i == 1 else b"two"),
                          content)
            self.assertIn(b"\r\n.dotted line\r\n", content)
        typ, data = c.fetch("1", "(FLAGS)")
        self.assertNotIn("\\Seen", flags_of(data))

        # Header and text parts split where postino's file does.
        typ, data = c.fetch("2", "(BODY.PEEK[HEADER] BODY.PEEK[TEXT])")
        self.assertEqual(typ, "OK", data)
        head, body = stored[1].split(b"\n\n", 1)
        parts = [x[1] for x in data if isinstance(x, tuple)]
        self.assertEqual(parts[0], head.replace(b"\n", b"\r\n") + b"\r\n\r\n")
        self.assertEqual(parts[1], body.replace(b"\n", b"\r\n"))

        # SEARCH sees the headers.
        typ, data = c.search(None, "SUBJECT", '"imap two"')
        self.assertEqual((typ, data[0].split()), ("OK", [b"2"]))

        # FETCH BODY[] sets \Seen.
        typ, data = c.fetch("1", "(BODY[])")
        self.assertEqual(typ, "OK", data)
        self.assertEqual(data[0][1], stored[0].replace(b"\n", b"\r\n"))
        typ, data = c.fetch("1", "(FLAGS)")
        self.assertIn("\\Seen", flags_of(data))
        typ, data = c.fetch("2", "(FLAGS)")
        self.assertNotIn("\\Seen", flags_of(data))
        c.close()
        imap_logout(c)

        # Dovecot moved the files to cur/ with the standard info suffix.
        local = user.split("@")[0]
        lib.wait_for(lambda: not lib.maildir_files(self.srv.data, DOMAIN, local),
                     what="new/ emptied by dovecot")
        cur = lib.maildir_files(self.srv.data, DOMAIN, local, "cur")
        self.assertEqual(len(cur), 2, cur)
        names = sorted(os.path.basename(p) for p in cur)
        seen = [n for n in names if n.endswith(":2,S")]
        self.assertEqual(len(seen), 1, names)
        for n in names:
            self.assertRegex(n, r"^\d+\.[^/:]+:2,S?$")
        with open(os.path.join(os.path.dirname(cur[0]), seen[0]), "rb") as f:
            self.assertEqual(f.read(), stored[0])

        # A second session: same UIDs, flags kept.
        c = self.imap(user)
        typ, data = c.select("INBOX", readonly=True)
        self.assertEqual(int(data[0]), 2)
        typ, data = c.fetch("1:2", "(FLAGS)")
        self.assertIn("\\Seen", flags_of([data[0]]))
        self.assertNotIn("\\Seen", flags_of([data[1]]))
        self.assertNotIn("\\Recent", flags_of([data[0]]) | flags_of([data[1]]))
        self.assertNotIn("Error", lib.read_text(dv.log), dv.output())

    def test_wrong_password_and_other_user(self):
        stored = self.deliver(USERS[1], ["for carol"])
        self.dovecot([USERS[1]])
        c = imap_connect(self, self.dv)
        with self.assertRaises(imaplib.IMAP4.error):
            c.login(USERS[1], "wrong")
        c = self.imap(USERS[1])
        typ, data = c.select("INBOX")
        self.assertEqual(int(data[0]), 1)
        typ, data = c.fetch("1", "(BODY.PEEK[])")
        self.assertEqual(data[0][1], stored[0].replace(b"\n", b"\r\n"))


if __name__ == "__main__":
    lib.unittest.main()
