"""
t_66_web_inbox: the Web reader's login, inbox and delete at the HTTP level
(lib_web.WebClient over `listen web` and `listen webs`), against mail sent
over SMTP and read over POP3 on the same server.

Login: the form's fields; a wrong password answered only after 1 s, then
2 s (lower bounds); the right one gives a 303 to /inbox and a session cookie
that is HttpOnly and SameSite=Strict, Secure over HTTPS only. The security
headers (CSP without inline scripts, X-Frame-Options, Referrer-Policy
no-referrer) on every answer, errors and redirects too. Inbox: 120 messages
with RFC 2047 subjects (UTF-8 and ISO-8859-1, Q and B) shown decoded, newest
first, 50/50/20 a page with a#prev/a#next; a message RETR'd over POP3 shows
as seen. Delete: with the token the file moves to .Trash/cur/ (name and
flags kept) and leaves the inbox and POP3's listing; without the token, with
a wrong one or from another Origin: 403 and nothing moved; ids that are
paths or another user's names: 404. Not logged in: 303 to /. Logout ends the
session. A second server: timeout_web 2s ends an idle session, and web
connections count toward max_connections_per_ip.
"""
import base64
import html.parser
import http.client
import os
import poplib
import re
import shutil
import socket
import tempfile
import time

import lib
import lib_web
import peers

PASSWORD = "secret"
USERS = ["w%d@example.test" % i for i in range(1, 8)]


class WebClientFrom(lib_web.WebClient):
    """A WebClient whose connections leave from a given loopback address: login
    failures and connection limits are counted per client address."""

    def __init__(self, port, source, **kw):
        super().__init__(port, **kw)
        self.source = source

    def _conn(self):
        if self.https:
            return super()._conn()
        return http.client.HTTPConnection(self.host, self.port, timeout=self.timeout,
                                          source_address=(self.source, 0))


class InboxPage(html.parser.HTMLParser):
    """The inbox's rows (class, sender, title, subject, link, date, size), paging links,
    count and empty notice."""

    def __init__(self, text):
        super().__init__()
        self.rows, self.ids, self.cell = [], {}, None
        self.feed(text)

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if a.get("id"):
            self.ids[a["id"]] = a
            if tag == "p":
                self.cell = ("p", a["id"])
        if tag == "tr" and "msg" in (a.get("class") or "").split():
            self.rows.append({"class": a["class"].split(), "from": "", "subject": "",
                              "date": "", "size": ""})
        elif tag == "td" and self.rows:
            self.cell = ("td", a.get("class"))
            if a.get("class") == "from":
                self.rows[-1]["title"] = a.get("title")
        elif tag == "a" and a.get("class") == "subject":
            self.rows[-1]["href"] = a.get("href")

    def handle_endtag(self, tag):
        if tag in ("td", "p"):
            self.cell = None

    def handle_data(self, data):
        if not self.cell:
            return
        kind, name = self.cell
        if kind == "td" and name in ("from", "subject", "date", "size"):
            self.rows[-1][name] += data
        elif kind == "p":
            self.ids[name]["text"] = self.ids[name].get("text", "") + data


def encoded_word(text, charset, enc):
    """text as one RFC 2047 encoded word."""
    raw = text.encode(charset)
    if enc == "B":
        return "=?%s?B?%s?=" % (charset, base64.b64encode(raw).decode())
    q = "".join(chr(b) if chr(b).isalnum() and b < 128 else ("_" if b == 32 else "=%02X" % b)
                for b in raw)
    return "=?%s?Q?%s?=" % (charset, q)


def subject_of(i):
    """Message i's subject: its words, and how they are encoded in the header
    (UTF-8 and ISO-8859-1, B and Q, in turn; with plain words around some)."""
    charset, enc = [("UTF-8", "B"), ("UTF-8", "Q"), ("ISO-8859-1", "B"), ("ISO-8859-1", "Q")][i % 4]
    text = ["Grüße Nr. %d", "Café crème %d", "Ça coûte %d £", "Ølstue %d"][i % 4] % i
    if i % 5 == 0:
        return "Re: " + text, "Re: " + encoded_word(text, charset, enc)
    return text, encoded_word(text, charset, enc)


def message(i, subject=None, date="Mon, 24 Nov 2025 08:00:00 +0000", sender=None):
    lines = ["From: %s" % (sender or "=?UTF-8?Q?J=C3=BCrgen_M=C3=BCller?= <juergen@sender.test>"),
             "To: <w@example.test>", "Message-ID: <web-%d-%f@client.test>" % (i, time.time())]
    if subject is not None:
        lines.append("Subject: " + subject)
    if date:
        lines.append("Date: " + date)
    return ("\r\n".join(lines) + "\r\n\r\nBody %d.\r\n" % i).encode()


def assert_security_headers(test, r, what):
    csp = r.header("Content-Security-Policy") or ""
    test.assertTrue(csp, what)
    test.assertNotIn("unsafe-inline", csp.split("script-src")[1] if "script-src" in csp else "",
                     what)
    test.assertIn("default-src 'none'", csp, what)
    test.assertIn(r.header("X-Frame-Options"), ("DENY", "SAMEORIGIN"), what)
    test.assertEqual(r.header("Referrer-Policy"), "no-referrer", what)


class WebInbox(lib.SharedServerTestCase):

    @classmethod
    def server_options(cls):
        cls.certdir = tempfile.mkdtemp(prefix="postino-web-cert-")
        cert, key = peers.make_cert(cls.certdir, cn=lib.HOSTNAME, ip="127.0.0.1")
        cls.web, cls.webs, cls.pop = lib.free_port(), lib.free_port(), lib.free_port()
        return dict(users=["%s:{PLAIN}%s" % (u, PASSWORD) for u in USERS],
                    tls_cert=cert, tls_key=key, max_message_size="1M",
                    extra=["listen web 127.0.0.1:%d" % cls.web,
                           "listen webs 127.0.0.1:%d" % cls.webs,
                           "listen pop3 127.0.0.1:%d" % cls.pop])

    @classmethod
    def tearDownClass(cls):
        super().tearDownClass()
        shutil.rmtree(cls.certdir, ignore_errors=True)

    # ---- helpers ----

    def client(self, user=None):
        c = lib_web.WebClient(self.web)
        if user:
            r = c.login(user, PASSWORD)
            self.assertEqual(r.status, 303, r.text)
        return c

    def deliver(self, user, msgs):
        """Sends msgs to user in one SMTP session, in order; waits until all are stored."""
        local = user.split("@")[0]
        before = len(self.files(local))
        with lib.smtp_client(self.srv.port) as s:
            s.ehlo()
            for m in msgs:
                self.assertEqual(s.sendmail("alice@sender.test", [user], m), {})
        lib.wait_for(lambda: len(self.files(local)) >= before + len(msgs),
                     what="%d messages for %s" % (len(msgs), user))

    def files(self, local, folder=""):
        d = os.path.join(lib.maildir_path(self.srv.data, "example.test", local), folder)
        out = []
        for sub in ("new", "cur"):
            try:
                out += [os.path.join(d, sub, n) for n in os.listdir(os.path.join(d, sub))]
            except FileNotFoundError:
                pass
        return out

    def inbox(self, c, page=None):
        r = c.get("/inbox" + ("?page=%s" % page if page is not None else ""))
        self.assertEqual(r.status, 200, r.text)
        return InboxPage(r.text)

    def pop3(self, user):
        p = poplib.POP3("127.0.0.1", self.pop, timeout=10)
        p.user(user)
        p.pass_(PASSWORD)
        return p

    # ---- login ----

    def test_login_page(self):
        r = self.client().get("/")
        self.assertEqual(r.status, 200)
        for pat in (r'<input[^>]*id="user"[^>]*name="user"', r'<input[^>]*id="password"',
                    r'type="password"[^>]*name="password"|name="password"[^>]*type="password"',
                    r'<button[^>]*id="login"'):
            self.assertRegex(r.text, pat)

    def test_login_delays_and_cookie(self):
        c = WebClientFrom(self.web, "127.0.0.3")
        c.get("/")
        for want in (1.0, 2.0):
            t0 = time.monotonic()
            r = c.post("/login", {"user": USERS[0], "password": "wrong"}, csrf=False)
            took = time.monotonic() - t0
            self.assertEqual(r.status, 403)
            self.assertIn('id="error"', r.text)
            self.assertGreaterEqual(took, want, "a failure must be answered after %gs" % want)
        r = c.post("/login", {"user": USERS[0], "password": PASSWORD}, csrf=False)
        self.assertEqual(r.status, 303)
        self.assertEqual(r.header("Location"), "/inbox")
        cookie = r.header("Set-Cookie")
        self.assertIn("HttpOnly", cookie)
        self.assertIn("SameSite=Strict", cookie)
        self.assertNotIn("Secure", cookie)
        assert_security_headers(self, r, "login redirect")

    def test_https_cookie_secure(self):
        c = lib_web.WebClient(self.webs, https=True)
        r = c.login(USERS[0], PASSWORD)
        self.assertEqual(r.status, 303)
        cookie = r.header("Set-Cookie")
        for part in ("HttpOnly", "SameSite=Strict", "Secure"):
            self.assertIn(part, cookie)
        self.assertEqual(c.get("/inbox").status, 200)

    def test_security_headers_everywhere(self):
        anon = self.client()
        c = self.client(USERS[0])
        answers = {"login page": anon.get("/"), "to login": anon.get("/inbox"),
                   "style": anon.get("/style.css"), "404": anon.get("/nowhere"),
                   "inbox": c.get("/inbox"), "403": c.post("/msg/x/delete", {}, csrf=False),
                   "404 id": c.post("/msg/x/delete", {}), "405": c.request("PUT", "/inbox")}
        self.assertEqual(answers["to login"].status, 303)
        self.assertEqual(answers["403"].status, 403)
        self.assertEqual(answers["404"].status, 404)
        self.assertEqual(answers["404 id"].status, 404)
        for what, r in answers.items():
            assert_security_headers(self, r, what)

    def test_not_logged_in(self):
        c = self.client()
        for path in ("/inbox", "/inbox?page=2"):
            r = c.get(path)
            self.assertEqual(r.status, 303)
            self.assertEqual(r.header("Location"), "/")

    def test_logout_ends_session(self):
        c = self.client(USERS[0])
        old = dict(c.cookies)
        r = c.post("/logout", {})
        self.assertEqual(r.status, 303)
        self.assertEqual(r.header("Location"), "/")
        c.cookies = old
        r = c.get("/inbox")
        self.assertEqual(r.status, 303)
        self.assertEqual(r.header("Location"), "/")

    # ---- the inbox ----

    def test_inbox_pages_decoded_newest_first(self):
        user = USERS[1]
        msgs = [message(0, subject=None, date=None)]   # no subject, no date: arrival time
        msgs += [message(i, subject_of(i)[1]) for i in range(1, 120)]
        t0 = time.time()
        self.deliver(user, msgs)
        c = self.client(user)
        pages = [self.inbox(c, p) for p in (1, 2, 3)]
        self.assertEqual([len(p.rows) for p in pages], [50, 50, 20])
        self.assertNotIn("prev", pages[0].ids)
        self.assertIn("next", pages[0].ids)
        self.assertIn("prev", pages[1].ids)
        self.assertIn("next", pages[1].ids)
        self.assertIn("prev", pages[2].ids)
        self.assertNotIn("next", pages[2].ids)
        self.assertEqual(pages[0].ids["next"]["href"], "/inbox?page=2")
        self.assertEqual(pages[2].ids["prev"]["href"], "/inbox?page=2")
        self.assertEqual(pages[0].ids["count"]["text"], "Messages 1-50 of 120")
        self.assertEqual(pages[2].ids["count"]["text"], "Messages 101-120 of 120")
        rows = [row for p in pages for row in p.rows]
        want = ["(no subject)" if i == 0 else subject_of(i)[0] for i in range(119, -1, -1)]
        self.assertEqual([row["subject"] for row in rows], want)
        self.assertEqual(len({row["href"] for row in rows}), 120)
        for row in rows:
            self.assertIn("unseen", row["class"])
            self.assertEqual(row["from"], "Jürgen Müller")
            self.assertEqual(row["title"], "juergen@sender.test")
            self.assertRegex(row["size"], r"^\d+ B$")
            self.assertTrue(row["href"].startswith("/msg/"))
        self.assertEqual(rows[0]["date"], time.strftime("%Y-%m-%d %H:%M",
                                                        time.localtime(1763971200)))
        arrival = time.strftime("%Y-%m-%d", time.localtime(t0))
        self.assertTrue(rows[-1]["date"].startswith(arrival), rows[-1]["date"])
        # past the end: the last page; not a number: the first
        self.assertEqual(self.inbox(c, 99).ids["count"]["text"], "Messages 101-120 of 120")
        self.assertEqual(self.inbox(c, "x").ids["count"]["text"], "Messages 1-50 of 120")

    def test_empty_and_html_escaped(self):
        user = USERS[2]
        c = self.client(user)
        page = self.inbox(c)
        self.assertIn("empty", page.ids)
        self.assertNotIn("inbox", page.ids)
        self.deliver(user, [message(1, "<script>alert(1)</script> &amp;",
                                    sender='"<b>Eve</b>" <eve@sender.test>')])
        r = c.get("/inbox")
        self.assertNotIn("<script>", r.text)
        self.assertNotIn("<b>", r.text)
        row = InboxPage(r.text).rows[0]
        self.assertEqual(row["subject"], "<script>alert(1)</script> &amp;")
        self.assertEqual(row["from"], "<b>Eve</b>")

    def test_pop3_retr_shows_seen(self):
        user = USERS[3]
        self.deliver(user, [message(1, "first"), message(2, "second")])
        p = self.pop3(user)
        p.retr(1)
        p.quit()
        rows = self.inbox(self.client(user)).rows
        self.assertEqual([r["subject"] for r in rows], ["second", "first"])
        self.assertIn("unseen", rows[0]["class"])
        self.assertNotIn("unseen", rows[1]["class"])

    # ---- delete ----

    def test_delete_to_trash(self):
        user, local = USERS[4], USERS[4].split("@")[0]
        self.deliver(user, [message(i, "del %d" % i) for i in range(3)])
        p = self.pop3(user)
        p.retr(2)          # "del 1" is seen: cur/NAME:2,S
        p.quit()
        c = self.client(user)
        rows = self.inbox(c).rows
        self.assertEqual([r["subject"] for r in rows], ["del 2", "del 1", "del 0"])
        target = rows[1]["href"]
        before = sorted(self.files(local))
        refused = {"no token": c.post(target + "/delete", {}, csrf=False),
                   "wrong token": c.post(target + "/delete", {"csrf": "x" * 43}),
                   "foreign origin": c.post(target + "/delete", {},
                                            headers={"Origin": "http://evil.test"})}
        for what, r in refused.items():
            self.assertEqual(r.status, 403, what)
        self.assertEqual(sorted(self.files(local)), before)
        r = c.post(target + "/delete", {"page": "1"})
        self.assertEqual(r.status, 303, r.text)
        self.assertEqual(r.header("Location"), "/inbox")
        trash = os.path.join(lib.maildir_path(self.srv.data, "example.test", local), ".Trash")
        moved = os.listdir(os.path.join(trash, "cur"))
        self.assertEqual(len(moved), 1)
        self.assertTrue(moved[0].endswith(":2,S"), moved)
        self.assertEqual(moved[0].split(":2,")[0], target[len("/msg/"):].replace("%5C", "\\"))
        self.assertTrue(os.path.isfile(os.path.join(trash, "maildirfolder")))
        for sub in ("new", "tmp"):
            self.assertTrue(os.path.isdir(os.path.join(trash, sub)))
        self.assertEqual(len(self.files(local)), 2)
        self.assertEqual([r["subject"] for r in self.inbox(c).rows], ["del 2", "del 0"])
        p = self.pop3(user)
        self.assertEqual(len(p.list()[1]), 2)
        p.quit()
        # gone: a 404 in words; the page field chooses where to go back
        r = c.post(target + "/delete", {})
        self.assertEqual(r.status, 404)
        self.assertIn("no such message", r.text)
        r = c.post(rows[0]["href"] + "/delete", {"page": "3"})
        self.assertEqual(r.status, 303)
        self.assertEqual(r.header("Location"), "/inbox?page=3")

    def test_delete_bad_ids(self):
        owner, other = USERS[5], USERS[6]
        self.deliver(owner, [message(1, "not yours")])
        theirs = self.inbox(self.client(owner)).rows[0]["href"]
        c = self.client(other)
        c.get("/inbox")
        for path in ("/msg/../x/delete", "/msg/%2e%2e/delete", "/msg/%2e%2e%2fx/delete",
                     "/msg/..%2F..%2Fetc%2Fpasswd/delete", theirs + "/delete",
                     theirs, theirs + "/remove", "/msg//delete"):
            r = c.post(path, {})
            self.assertEqual(r.status, 404, path)
        self.assertEqual(len(self.files(owner.split("@")[0])), 1)


class WebLimits(lib.SharedServerTestCase):
    """timeout_web and the connection limits, on a server of their own."""

    @classmethod
    def server_options(cls):
        cls.web = lib.free_port()
        return dict(users=["%s:{PLAIN}%s" % (USERS[0], PASSWORD)],
                    timeout_web="2s", max_connections_per_ip="2",
                    extra=["listen web 127.0.0.1:%d" % cls.web])

    def test_idle_session_expires(self):
        c = WebClientFrom(self.web, "127.0.0.4")
        self.assertEqual(c.login(USERS[0], PASSWORD).status, 303)
        self.assertEqual(c.get("/inbox").status, 200)
        # every request touches the session: each probe waits until it has been idle
        # past timeout_web since the last answer (bounded number of probes)
        for _ in range(5):
            idle_from = time.monotonic()
            lib.wait_for(lambda: time.monotonic() - idle_from > 2.1, timeout=5, interval=0.05,
                         what="2 s of idleness")
            r = c.get("/inbox")
            if r.status == 303:
                break
        self.assertEqual(r.status, 303)
        self.assertEqual(r.header("Location"), "/")

    def test_web_counts_toward_connection_limit(self):
        held = []
        try:
            for _ in range(2):
                s = socket.create_connection(("127.0.0.1", self.web), timeout=10,
                                             source_address=("127.0.0.5", 0))
                held.append(s)
                self.assertEqual(self.raw_get(s), 200)
            s = socket.create_connection(("127.0.0.1", self.web), timeout=10,
                                         source_address=("127.0.0.5", 0))
            held.append(s)
            self.assertEqual(self.raw_get(s), 503)
        finally:
            for s in held:
                s.close()
        # the slots come back once the connections are closed
        lib.wait_for(lambda: self.fresh_get() == 200, what="a web connection admitted again")

    @staticmethod
    def raw_get(s):
        """GET / over the kept-alive socket s; the status (the answer read whole)."""
        s.sendall(b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        data = b""
        while b"\r\n\r\n" not in data:
            chunk = s.recv(65536)
            if not chunk:
                break
            data += chunk
        head, _, body = data.partition(b"\r\n\r\n")
        m = re.search(rb"(?im)^content-length:\s*(\d+)", head)
        want = int(m.group(1)) if m else 0
        while len(body) < want:
            chunk = s.recv(65536)
            if not chunk:
                break
            body += chunk
        return int(head.split(b" ", 2)[1])

    def fresh_get(self):
        with socket.create_connection(("127.0.0.1", self.web), timeout=10,
                                      source_address=("127.0.0.5", 0)) as s:
            return self.raw_get(s)


if __name__ == "__main__":
    lib.unittest.main()
