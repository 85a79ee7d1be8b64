"""
t_70_imap_contrib: IMAP through Dovecot with the configuration postino ships
(contrib/dovecot/postino.conf). The private Dovecot loads that fragment as it
is, with only its two paths (the users file, data_dir) and, when the test does
not run as root, the uid replaced, plus what a private instance needs (port,
base_dir, log: lib_dovecot.private_lines), over the Maildirs of a running
postino that also serves POP3 and the Web.

Login with postino's own users file: a {PLAIN} password and a crypt hash made
by `postino passwd` (and a wrong password refused); LIST shows INBOX, Trash
(\\Trash) and Sent (\\Sent); FETCH returns a message postino delivered;
STORE +FLAGS \\Seen is what POP3 and the Web inbox see (no "unseen" class on
its tr.msg), and a POP3 RETR is what IMAP sees; a message deleted on the Web
(POST /msg/ID/delete with the CSRF token) is in IMAP's Trash; a message moved to
Trash over IMAP (COPY, \\Deleted, EXPUNGE) is in .Trash/cur and gone from POP3.
"""
import html.parser
import imaplib
import os
import poplib
import re
import subprocess

import lib
from lib_dovecot import (DovecotProcess, ensure_dovecot, flags_of, imap_connect, imap_login,
                         imap_logout)
from lib_web import WebClient

FRAGMENT = os.path.join(lib.ROOT, "contrib", "dovecot", "postino.conf")
SHIPPED_USERS, SHIPPED_DATA = "/etc/postino/users", "/var/lib/postino"
DOMAIN = "example.test"
PLAIN_PW, CRYPT_PW = "plain-secret", "crypt-secret"
PLAIN_USERS = ["bob", "dave", "erin", "frank"]


def crypt_hash(password):
    """`postino passwd`'s hash of password (read on stdin)."""
    cp = subprocess.run([lib.BIN, "passwd"], input=password.encode() + b"\n",
                        stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=30)
    if cp.returncode != 0:
        raise AssertionError("postino passwd exited %d: %s" % (cp.returncode, cp.stderr))
    h = cp.stdout.decode().strip()
    if not h.startswith("$"):
        raise AssertionError("postino passwd printed %r, not a crypt hash" % h)
    return h


def shipped_config(users_file, data_dir):
    """The shipped fragment's lines, its paths (and uid when not root) replaced."""
    with open(FRAGMENT) as f:
        text = f.read()
    for shipped in (SHIPPED_USERS, SHIPPED_DATA):
        if shipped not in text:
            raise AssertionError("%s no longer names %s" % (FRAGMENT, shipped))
    text = text.replace(SHIPPED_USERS, users_file).replace(SHIPPED_DATA, data_dir)
    if os.getuid() != 0:   # the server does not drop to run_as: the mail is ours
        text = text.replace("uid=postino gid=postino",
                            "uid=%d gid=%d" % (os.getuid(), os.getgid()))
        text = re.sub(r"(?m)^first_valid_uid = \d+$", "first_valid_uid = %d" % os.getuid(),
                      text)
    return text.splitlines()


class _InboxRows(html.parser.HTMLParser):
    """The inbox page's rows: [(subject, unseen?)] of each tr.msg."""

    def __init__(self):
        super().__init__()
        self.rows, self.row, self.text = [], None, None

    def handle_starttag(self, tag, attrs):
        classes = (dict(attrs).get("class") or "").split()
        if tag == "tr":
            self.row = "unseen" in classes if "msg" in classes else None
        elif tag == "a" and "subject" in classes and self.row is not None:
            self.text = []

    def handle_data(self, data):
        if self.text is not None:
            self.text.append(data)

    def handle_endtag(self, tag):
        if tag == "a" and self.text is not None:
            self.rows.append(("".join(self.text).strip(), self.row))
            self.text = None


class ImapContrib(lib.SharedServerTestCase):

    @classmethod
    def server_options(cls):
        cls.pop_port, cls.web_port = lib.free_port(), lib.free_port()
        users = ["%s@%s:{PLAIN}%s" % (u, DOMAIN, PLAIN_PW) for u in PLAIN_USERS]
        users.append("carol@%s:%s" % (DOMAIN, crypt_hash(CRYPT_PW)))
        return dict(users=users, extra=["listen pop3 127.0.0.1:%d" % cls.pop_port,
                                        "listen web 127.0.0.1:%d" % cls.web_port])

    @classmethod
    def setUpClass(cls):
        reason = ensure_dovecot()
        if reason:
            raise lib.unittest.SkipTest(reason)
        super().setUpClass()
        # Every mailbox exists before Dovecot first looks.
        for u in PLAIN_USERS + ["carol"]:
            cls.deliver(u, "%s first" % u)
        cls.dv = DovecotProcess()
        cls.addClassCleanup(cls.dv.close)
        cls.dv.write_config(cls.dv.private_lines() +
                            shipped_config(cls.srv.users_file, cls.srv.data))
        cls.dv.start()

    @classmethod
    def deliver(cls, local, subject):
        """Sends one message to local@DOMAIN and waits for it in new/."""
        before = len(cls.files(local))
        msg = lib.make_message(subject, to="%s@%s" % (local, DOMAIN))
        lib.send_message(cls.srv.port, "alice@sender.test", ["%s@%s" % (local, DOMAIN)], msg)
        lib.wait_for(lambda: len(cls.files(local)) > before, what="delivery to " + local)
        return msg

    @classmethod
    def files(cls, local, folder=""):
        """The message files of local's INBOX (or of a Maildir++ folder such as .Trash)."""
        box = os.path.join(lib.maildir_path(cls.srv.data, DOMAIN, local), folder)
        out = []
        for sub in ("new", "cur"):
            try:
                out += [os.path.join(box, sub, n) for n in os.listdir(os.path.join(box, sub))
                        if not n.startswith(".")]
            except FileNotFoundError:
                pass
        return sorted(out)

    def imap(self, local, password=PLAIN_PW):
        return imap_login(self, self.dv, "%s@%s" % (local, DOMAIN), password)

    def web(self, local):
        w = WebClient(self.web_port)
        r = w.login("%s@%s" % (local, DOMAIN), PLAIN_PW)
        self.assertEqual(r.status, 303, r.text)
        return w

    def web_rows(self, w):
        """{subject: unseen?} of the Web inbox (tr.msg rows, a.subject links)."""
        r = w.get("/inbox")
        self.assertEqual(r.status, 200, r.text)
        p = _InboxRows()
        p.feed(r.text)
        return dict(p.rows)

    # the tests

    def test_login_plain_crypt_wrong(self):
        for local, pw in (("bob", PLAIN_PW), ("carol", CRYPT_PW)):
            c = self.imap(local, pw)
            typ, data = c.select("INBOX", readonly=True)
            self.assertEqual((typ, int(data[0])), ("OK", 1), data)
        c = imap_connect(self, self.dv)
        with self.assertRaises(imaplib.IMAP4.error):
            c.login("carol@%s" % DOMAIN, PLAIN_PW)

    def test_list_and_fetch(self):
        c = self.imap("bob")
        typ, data = c.list()
        self.assertEqual(typ, "OK", data)
        boxes = {}
        for line in data:
            m = re.match(rb'\(([^)]*)\) "(.)" "?([^"]*)"?$', line)
            self.assertTrue(m, line)
            boxes[m.group(3).decode()] = set(m.group(1).decode().split())
        self.assertIn("INBOX", boxes)
        self.assertIn("\\Trash", boxes.get("Trash", set()), boxes)
        self.assertIn("\\Sent", boxes.get("Sent", set()), boxes)
        self.assertEqual(c.select("Trash", readonly=True)[0], "OK")
        self.assertEqual(c.select("Sent", readonly=True)[0], "OK")
        typ, data = c.select("INBOX")
        with open(self.files("bob")[0], "rb") as f:
            stored = f.read()
        typ, data = c.fetch("1", "(BODY.PEEK[])")
        self.assertEqual(typ, "OK", data)
        self.assertEqual(data[0][1], stored.replace(b"\n", b"\r\n"))
        self.assertIn(b"Subject: bob first\r\n", data[0][1])

    def test_seen_agrees_with_pop3_and_web(self):
        self.deliver("dave", "dave second")
        c = self.imap("dave")
        c.select("INBOX")
        typ, data = c.store("1", "+FLAGS", "(\\Seen)")
        self.assertEqual(typ, "OK", data)
        imap_logout(c)
        lib.wait_for(lambda: any(p.endswith(":2,S") for p in self.files("dave")),
                     what="Dovecot's :2,S rename")
        # POP3 serves both, the seen one from cur/; the Web shows which is seen.
        p = poplib.POP3("127.0.0.1", self.pop_port, timeout=10)
        try:
            p.user("dave@" + DOMAIN)
            p.pass_(PLAIN_PW)
            self.assertEqual(p.stat()[0], 2)
            subjects = [b"\n".join(p.top(i, 0)[1]) for i in (1, 2)]
            self.assertTrue(any(b"Subject: dave first" in s for s in subjects), subjects)
            second = [i for i in (1, 2) if b"Subject: dave second" in subjects[i - 1]][0]
            p.retr(second)          # POP3 marks it seen
        finally:
            p.quit()
        c = self.imap("dave")
        c.select("INBOX", readonly=True)
        typ, data = c.fetch("1:2", "(FLAGS)")
        self.assertTrue(all("\\Seen" in flags_of([d]) for d in data), data)
        w = self.web("dave")
        self.assertEqual(self.web_rows(w), {"dave first": False, "dave second": False})

    def test_web_delete_shows_in_imap_trash(self):
        w = self.web("erin")
        rows = self.web_rows(w)
        self.assertEqual(rows, {"erin first": True})
        mid = os.path.basename(self.files("erin")[0]).split(":2,")[0]
        r = w.post("/msg/%s/delete" % mid, {})
        self.assertEqual(r.status, 303, r.text)
        self.assertEqual(self.files("erin"), [])
        self.assertEqual(len(self.files("erin", ".Trash")), 1)
        c = self.imap("erin")
        typ, data = c.select("Trash", readonly=True)
        self.assertEqual((typ, int(data[0])), ("OK", 1), data)
        typ, data = c.fetch("1", "(BODY.PEEK[HEADER.FIELDS (SUBJECT)])")
        self.assertIn(b"erin first", data[0][1])
        typ, data = c.select("INBOX", readonly=True)
        self.assertEqual(int(data[0]), 0)

    def test_imap_move_to_trash(self):
        self.deliver("frank", "frank second")
        c = self.imap("frank")
        c.select("INBOX")
        typ, data = c.search(None, "SUBJECT", '"frank second"')
        num = data[0].split()[0].decode()
        self.assertEqual(c.copy(num, "Trash")[0], "OK")
        self.assertEqual(c.store(num, "+FLAGS", "(\\Deleted)")[0], "OK")
        self.assertEqual(c.expunge()[0], "OK")
        # Dovecot saves the copy in .Trash/new and moves it to cur/ when a
        # session opens Trash, as any Maildir reader does.
        typ, data = c.select("Trash")
        self.assertEqual((typ, int(data[0])), ("OK", 1), data)
        imap_logout(c)
        trash = lib.wait_for(lambda: [p for p in self.files("frank", ".Trash") if "/cur/" in p],
                             what="the message in .Trash/cur")
        self.assertEqual(len(self.files("frank", ".Trash")), 1, self.files("frank", ".Trash"))
        self.assertIn(b"Subject: frank second", open(trash[0], "rb").read())
        p = poplib.POP3("127.0.0.1", self.pop_port, timeout=10)
        try:
            p.user("frank@" + DOMAIN)
            p.pass_(PLAIN_PW)
            self.assertEqual(p.stat()[0], 1)
            self.assertIn(b"Subject: frank first", b"\n".join(p.top(1, 0)[1]))
        finally:
            p.quit()
        self.assertNotIn("Error", lib.read_text(self.dv.log), self.dv.output())


if __name__ == "__main__":
    lib.unittest.main()
