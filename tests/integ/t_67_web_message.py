"""
t_67_web_message: the Web reader's message view over HTTP (lib_web.WebClient).
Messages are put straight into the Maildir (exact bytes). A plain message
(ISO-8859-1 body, RFC 2047 subject) is shown decoded and escaped; an HTML
message is framed sandboxed, its /html answer carries the frame's own CSP
and has no script, no event handler and no remote image until ?remote=1
(then the image stays and the CSP allows it), and the page offers
a#load-remote; a multipart/mixed message lists its attachments with their
decoded names (RFC 2231, RFC 2047) and /part/N gives the exact bytes as a
download; the source equals the file; the view marks the message seen
(new/ -> cur/ with :2,S) and /raw, /html, /part do not; IDs not in the user's
own Maildir are 404; a 5 MB message with a 4 MB attachment is shown.
"""
import base64
import os
import re

import lib
import lib_web

PASSWORD = "secret"
USERS = ["reader@example.test", "other@example.test"]
BOUNDARY = "=-=b0undary=-="
HTML_CSP = ("default-src 'none'; style-src 'unsafe-inline'; img-src data:; "
            "frame-ancestors 'self'; sandbox")


class WebMessage(lib.SharedServerTestCase):
    n = 0

    @classmethod
    def server_options(cls):
        cls.web_port = lib.free_port()
        return dict(users=["%s:{PLAIN}%s" % (u, PASSWORD) for u in USERS],
                    extra=["listen web 127.0.0.1:%d" % cls.web_port])

    def setUp(self):
        self.web = lib_web.WebClient(self.web_port)
        self.assertEqual(self.web.login(USERS[0], PASSWORD).status, 303)

    def put(self, data, local="reader"):
        """Stores data as a new message of local; returns its ID (unique name)."""
        WebMessage.n += 1
        uid = "1764950000.M%dP%d.web.test" % (WebMessage.n, os.getpid())
        st = os.stat(self.srv.data)
        box = lib.maildir_path(self.srv.data, "example.test", local)
        for sub in ("", "tmp", "new", "cur"):
            os.makedirs(os.path.join(box, sub), exist_ok=True)
            os.chown(os.path.join(box, sub), st.st_uid, st.st_gid)
        tmp = os.path.join(box, "tmp", uid)
        with open(tmp, "wb") as f:
            f.write(data)
        os.chown(tmp, st.st_uid, st.st_gid)
        os.rename(tmp, os.path.join(box, "new", uid))
        self.box = box
        return uid

    def where(self, uid, local="reader"):
        box = lib.maildir_path(self.srv.data, "example.test", local)
        return sorted(os.path.join(sub, n) for sub in ("new", "cur")
                      for n in os.listdir(os.path.join(box, sub)) if n.startswith(uid))

    def html_checks(self, text):
        self.assertNotIn("<script", text.lower())
        self.assertIsNone(re.search(r"<[^>]*\son\w+\s*=", text, re.I), text)
        self.assertNotIn("javascript:", text.lower())

    def test_plain_decoded_and_escaped(self):
        body = "Caf\u00e9 cr\u00e8me.\n<script>alert(1)</script> & more\n"
        msg = ("From: =?UTF-8?Q?J=C3=BCrgen_M=C3=BCller?= <jm@sender.test>\n"
               "To: reader@example.test\nDate: Sat, 05 Dec 2026 10:00:00 +0000\n"
               "Subject: =?UTF-8?B?R3LDvMOfZSBhdXMgS8O2bG4=?=\nMIME-Version: 1.0\n"
               "Content-Type: text/plain; charset=ISO-8859-1\n"
               "Content-Transfer-Encoding: 8bit\n\n").encode() + body.encode("latin-1")
        uid = self.put(msg)
        r = self.web.get("/msg/%s/raw" % uid)
        self.assertEqual(r.status, 200)
        self.assertEqual(r.header("Content-Type"), "text/plain; charset=utf-8")
        self.assertEqual(r.body, msg)
        self.assertEqual(self.where(uid), ["new/" + uid])      # the source does not mark seen
        r = self.web.get("/msg/" + uid)
        self.assertEqual(r.status, 200)
        t = r.text
        self.assertIn("<h1>Gr\u00fc\u00dfe aus K\u00f6ln</h1>", t)
        self.assertIn("J\u00fcrgen M\u00fcller", t)
        m = re.search(r'<pre class="text-body">(.*?)</pre>', t, re.S)
        self.assertIsNotNone(m, t)
        self.assertIn("Caf\u00e9 cr\u00e8me.", m.group(1))
        self.assertIn("&lt;script&gt;alert(1)&lt;/script&gt; &amp; more", m.group(1))
        self.assertNotIn("<script", t)
        self.assertIn('<dl id="headers">', t)
        self.assertIn('id="raw" href="/msg/%s/raw"' % uid, t)
        self.assertIn('<form id="delete" method="post" action="/msg/%s/delete">' % uid, t)
        self.assertIn('id="delete-button"', t)
        self.assertEqual(self.where(uid), ["cur/%s:2,S" % uid])  # seen, as POP3 does
        self.assertEqual(self.web.get("/msg/%s/raw" % uid).body, msg)

    def html_message(self, remote_url):
        html = ("<html><head><script>alert(1)</script><style>body{background:url(%s)}"
                "</style></head><body onload=\"alert(2)\"><p>Hello <b>there</b></p>"
                "<img src=\"%s\" alt=\"pic\" onerror=\"alert(3)\">"
                "<a href=\"javascript:alert(4)\">x</a> <a href=\"https://example.org/\" "
                "target=\"_blank\">site</a><iframe src=\"https://example.org/\"></iframe>"
                "</body></html>" % (remote_url, remote_url))
        return ("From: a@sender.test\nTo: reader@example.test\nSubject: html\n"
                "MIME-Version: 1.0\nContent-Type: multipart/alternative; boundary=\"%s\"\n\n"
                "--%s\nContent-Type: text/plain; charset=utf-8\n\nplain version\n"
                "--%s\nContent-Type: text/html; charset=utf-8\n"
                "Content-Transfer-Encoding: quoted-printable\n\n%s\n--%s--\n"
                % (BOUNDARY, BOUNDARY, BOUNDARY, html.replace("=", "=3D"), BOUNDARY)).encode()

    def test_html_sandboxed_and_remote_blocked(self):
        url = "http://127.0.0.1:9/track.png?u=reader"
        uid = self.put(self.html_message(url))
        t = self.web.get("/msg/" + uid).text
        self.assertRegex(t, r'<iframe id="html-body" sandbox="" [^>]*src="/msg/%s/html"' % uid)
        self.assertIn('<a id="load-remote" href="/msg/%s?remote=1">' % uid, t)
        self.assertNotIn("plain version", t)                  # the HTML alternative is shown
        r = self.web.get("/msg/%s/html" % uid)
        self.assertEqual(r.status, 200)
        self.assertEqual(r.header("Content-Type"), "text/html; charset=utf-8")
        self.assertEqual(r.header("Content-Security-Policy"), HTML_CSP)
        self.assertEqual(r.header("X-Frame-Options"), "SAMEORIGIN")
        self.html_checks(r.text)
        self.assertNotIn("track.png", r.text)
        self.assertNotIn("<iframe", r.text)
        self.assertNotIn("target=", r.text)
        self.assertIn("<p>Hello <b>there</b></p>", r.text)
        self.assertIn('<a href="https://example.org/">site</a>', r.text)
        r = self.web.get("/msg/%s/html?remote=1" % uid)
        self.html_checks(r.text)
        self.assertIn('src="%s"' % url.replace("&", "&amp;"), r.text)
        self.assertEqual(r.header("Content-Security-Policy"),
                         HTML_CSP.replace("img-src data:", "img-src data: https: http:"))
        t = self.web.get("/msg/%s?remote=1" % uid).text
        self.assertIn('src="/msg/%s/html?remote=1"' % uid, t)
        self.assertNotIn('id="load-remote"', t)
        # the main page keeps the strict policy and cannot be framed
        r = self.web.get("/msg/" + uid)
        self.assertEqual(r.header("X-Frame-Options"), "DENY")
        self.assertIn("frame-ancestors 'none'", r.header("Content-Security-Policy"))

    def test_cid_image_inlined(self):
        png = b"\x89PNG\r\n\x1a\n" + bytes(range(64))
        msg = ("From: a@sender.test\nTo: reader@example.test\nSubject: logo\n"
               "Date: Sat, 05 Dec 2026 10:00:00 +0000\nMIME-Version: 1.0\n"
               "Content-Type: multipart/related; boundary=\"%s\"\n\n"
               "--%s\nContent-Type: text/html; charset=utf-8\n\n"
               "<p>Logo: <img src=\"cid:logo@x.test\" alt=\"logo\"></p>\n"
               "--%s\nContent-Type: image/png\nContent-ID: <logo@x.test>\n"
               "Content-Transfer-Encoding: base64\n\n%s--%s--\n"
               % (BOUNDARY, BOUNDARY, BOUNDARY, base64.encodebytes(png).decode(),
                  BOUNDARY)).encode()
        uid = self.put(msg)
        t = self.web.get("/msg/" + uid).text
        self.assertIn("<dt>Date</dt><dd>Sat, 05 Dec 2026 10:00:00 +0000</dd>", t)
        self.assertNotIn('id="load-remote"', t)
        r = self.web.get("/msg/%s/html" % uid)
        self.assertIn('<img src="data:image/png;base64,%s" alt="logo">'
                      % base64.b64encode(png).decode(), r.text)
        self.assertEqual(r.header("Content-Security-Policy"), HTML_CSP)

    def test_attachments(self):
        pdf = b"%PDF-1.4\n" + bytes(range(256)) * 40 + b"\n%%EOF\n"
        b64 = base64.encodebytes(pdf).decode()
        msg = ("From: a@sender.test\nTo: reader@example.test\nSubject: files\n"
               "MIME-Version: 1.0\nContent-Type: multipart/mixed; boundary=\"%s\"\n\n"
               "--%s\nContent-Type: text/plain; charset=utf-8\n\nSee the attachments.\n"
               "--%s\nContent-Type: application/pdf\nContent-Transfer-Encoding: base64\n"
               "Content-Disposition: attachment;\n filename*=UTF-8''r%%C3%%A9sum%%C3%%A9%%20"
               "%%E2%%82%%AC.pdf\n\n%s"
               "--%s\nContent-Type: text/plain; name=\"=?UTF-8?Q?n=C3=B6tes?=.txt\"\n"
               "Content-Disposition: attachment\n\nnotes\n--%s--\n"
               % (BOUNDARY, BOUNDARY, BOUNDARY, b64, BOUNDARY, BOUNDARY)).encode()
        uid = self.put(msg)
        t = self.web.get("/msg/" + uid).text
        self.assertIn("See the attachments.", t)
        self.assertIn('<ul id="attachments">', t)
        self.assertIn('<a class="attachment" href="/msg/%s/part/0">r\u00e9sum\u00e9 \u20ac.pdf</a>'
                      % uid, t)
        self.assertIn('<a class="attachment" href="/msg/%s/part/1">n\u00f6tes.txt</a>' % uid, t)
        self.assertIn("(%.1f KB)" % (len(pdf) / 1024), t)
        r = self.web.get("/msg/%s/part/0" % uid)
        self.assertEqual(r.status, 200)
        self.assertEqual(r.body, pdf)
        self.assertEqual(r.header("Content-Type"), "application/octet-stream")
        self.assertEqual(r.header("Content-Disposition"),
                         "attachment; filename=\"r_sum_ _.pdf\"; "
                         "filename*=UTF-8''r%C3%A9sum%C3%A9%20%E2%82%AC.pdf")
        self.assertEqual(r.header("X-Content-Type-Options"), "nosniff")
        # the line end before a boundary belongs to the boundary (RFC 2046 5.1.1)
        self.assertEqual(self.web.get("/msg/%s/part/1" % uid).body, b"notes")
        for bad in ("part/2", "part/-1", "part/x", "part/", "part/0/x", "other"):
            self.assertEqual(self.web.get("/msg/%s/%s" % (uid, bad)).status, 404, bad)
        self.assertEqual(self.where(uid), ["cur/%s:2,S" % uid])

    def test_ids_outside_the_mailbox(self):
        theirs = self.put(b"Subject: theirs\n\nsecret\n", local="other")
        mine = self.put(b"Subject: mine\n\nhello\n")
        for path in ("/msg/" + theirs, "/msg/%s/raw" % theirs, "/msg/..", "/msg/../raw",
                     "/msg/%2e%2e/raw", "/msg/%2E%2E%2Fother%2Fnew%2F" + theirs,
                     "/msg/..%2f..%2f..%2fpostino.conf/raw", "/msg/" + "a" * 300,
                     "/msg/" + "a" * 5000 + "/raw", "/msg/%s%%00/raw" % mine,
                     "/msg/new%%2F%s/raw" % mine):
            r = self.web.get(path)
            self.assertIn(r.status, (400, 404), path)
            self.assertNotIn(b"secret", r.body, path)
            if r.status == 404:
                self.assertIn("no such", r.text.lower(), path)
        self.assertEqual(self.where(theirs, "other"), ["new/" + theirs])
        anon = lib_web.WebClient(self.web_port)
        self.assertEqual(anon.get("/msg/%s/raw" % mine).status, 303)
        self.assertEqual(self.web.get("/msg/%s/raw" % mine).status, 200)

    def test_big_message(self):
        blob = os.urandom(4 * 1024 * 1024)
        msg = ("From: a@sender.test\nTo: reader@example.test\nSubject: big\n"
               "MIME-Version: 1.0\nContent-Type: multipart/mixed; boundary=\"%s\"\n\n"
               "--%s\nContent-Type: text/plain\n\n%s\n--%s\nContent-Type: application/zip; "
               "name=big.zip\nContent-Transfer-Encoding: base64\n\n%s--%s--\n"
               % (BOUNDARY, BOUNDARY, "long line of text " * 80000, BOUNDARY,
                  base64.encodebytes(blob).decode(), BOUNDARY)).encode()
        self.assertGreater(len(msg), 5 * 1000 * 1000)
        uid = self.put(msg)
        r = self.web.get("/msg/" + uid)
        self.assertEqual(r.status, 200)
        self.assertIn("shown in part", r.text)
        self.assertIn('href="/msg/%s/part/0">big.zip</a> <span class="size">(4.0 MB)' % uid,
                      r.text)
        self.assertLess(len(r.body), 8 * 1024 * 1024)
        r = self.web.get("/msg/%s/part/0" % uid)
        self.assertEqual(r.body, blob)
        self.assertEqual(self.web.get("/msg/%s/raw" % uid).body, msg)

