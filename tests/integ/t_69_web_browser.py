"""
t_69_web_browser: the Web reader in a real browser (headless Chromium through
lib_browser), one server and one browser for the module.

Login (a wrong password first: the error is shown, and only after the
failure delay of at least 1 s); the inbox; a plain, an HTML and a multipart
message with an attachment opened; the attachment downloaded (its bytes
equal); a message composed (with an attachment and "notify me of delivery")
to a local address and two remote ones at a scripted peer, whose story at
/sent/QID goes from queued/deferred (the peer is not started yet) to
delivered / relayed / failed once the peer answers (the page reloaded in a
bounded wait); an HTML message with an inline script and a remote image
served by a local HTTP server: the script does not run (the DOM is unchanged
and its beacon URL gets no request), and the image server gets no request
until a#load-remote is clicked, then the image request; CSRF: the compose and
delete forms POSTed without their token are refused (403); logout (the inbox
then goes to the login page). Screenshots of the inbox, a message and a
delivery story are written to build/test-output/web/.
"""
import email.message
import email.policy
import http.server
import os
import re
import socket
import threading
import time
import uuid

import lib
import lib_browser
import peers
from lib_web import WebClient

PASSWORD = "browser-secret"
USER, BOB = "alice@example.test", "bob@example.test"
REMOTE_OK, REMOTE_BAD = "ok@far.test", "nobody@far.test"
ATTACHMENT = bytes(range(256)) * 8 + b"end of the attachment\n"
ATTACHMENT_NAME = "donn\u00e9es.bin"
PIXEL = bytes.fromhex("89504e470d0a1a0a0000000d4948445200000001000000010806000000"
                      "1f15c4890000000d49444154789c6360000002000001e221bc330000"
                      "000049454e44ae426082")


class _Remote(http.server.BaseHTTPRequestHandler):
    """The 'remote' host of the HTML message: records every request's path."""

    def do_GET(self):
        with self.server.lock:
            self.server.paths.append(self.path)
        body, ctype = (PIXEL, "image/png") if self.path.startswith("/pixel") else (b"", "text/plain")
        self.send_response(200)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_POST = do_GET

    def log_message(self, *args):
        pass


class RemoteHost:
    def __init__(self):
        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Remote)
        self.httpd.lock = threading.Lock()
        self.httpd.paths = []
        self.port = self.httpd.server_address[1]
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def paths(self):
        with self.httpd.lock:
            return list(self.httpd.paths)

    def stop(self):
        self.httpd.shutdown()
        self.httpd.server_close()
        self.thread.join(10)


def build(subject, to=USER, text=None, html=None, attachment=None):
    m = email.message.EmailMessage(policy=email.policy.SMTP)
    m["From"] = "Sender <sender@example.test>"
    m["To"] = to
    m["Subject"] = subject
    m["Date"] = "Mon, 24 Nov 2025 08:00:00 +0000"
    m["Message-ID"] = "<%s@client.test>" % uuid.uuid4().hex
    if text is not None:
        m.set_content(text)
    if html is not None:
        if text is None:
            m.set_content(html, subtype="html")
        else:
            m.add_alternative(html, subtype="html")
    if attachment is not None:
        m.add_attachment(attachment[1], maintype="application", subtype="octet-stream",
                         filename=attachment[0])
    return m.as_bytes()


class WebBrowser(lib.SharedServerTestCase):

    @classmethod
    def server_options(cls):
        cls.web_port = lib.free_port()
        # The peer's port is held, bound but not listening (a connection to it
        # is refused), until the peer starts: no other test can take it.
        cls.peer_hold = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        cls.addClassCleanup(cls.peer_hold.close)
        cls.peer_hold.bind(("127.0.0.2", 0))
        cls.peer_port = cls.peer_hold.getsockname()[1]
        return dict(users=["%s:{PLAIN}%s" % (u, PASSWORD) for u in (USER, BOB)],
                    retry_min="1s", retry_max="2s", delay_warning="0", queue_lifetime="1h",
                    timeout_greeting="5s", timeout_mail="5s", timeout_rcpt="5s",
                    timeout_data_init="5s", timeout_data_block="5s", timeout_data_end="5s",
                    route="far.test [127.0.0.2]:%d" % cls.peer_port,
                    extra=["listen web 127.0.0.1:%d" % cls.web_port])

    @classmethod
    def setUpClass(cls):
        reason = lib_browser.require_browser()
        if reason:
            raise lib.unittest.SkipTest(reason)
        super().setUpClass()
        cls.remote = RemoteHost()
        cls.addClassCleanup(cls.remote.stop)
        cls.browser = lib_browser.Browser()
        cls.addClassCleanup(cls.browser.close)
        cls.browser.start()
        cls.deliver_all()

    @classmethod
    def deliver_all(cls):
        base = "http://127.0.0.1:%d" % cls.remote.port
        cls.script_html = (
            "<html><body><p id=\"greeting\">Hello from HTML</p>\n"
            "<script>document.body.setAttribute('data-pwned', '1');"
            "document.getElementById('greeting').textContent = 'SCRIPT RAN';"
            "try { parent.document.title = 'pwned'; } catch (e) {}"
            "new Image().src = '%s/beacon?script';</script>\n"
            "<img id=\"bad\" src=\"/nothing\" onerror=\"new Image().src='%s/beacon?onerror'\">\n"
            "<p>An image: <img alt=\"remote pixel\" src=\"%s/pixel.png\"></p>\n"
            "</body></html>\n" % (base, base, base))
        msgs = [
            build("plain one", text="A plain message.\nSecond line <b>not bold</b>.\n"),
            build("html two", html=cls.script_html),
            build("multipart three", text="See the attachment.\n",
                  attachment=(ATTACHMENT_NAME, ATTACHMENT)),
        ]
        for i, m in enumerate(msgs):
            lib.send_message(cls.srv.port, "sender@example.test", [USER], m)
            lib.wait_maildir_count(cls.srv.data, "example.test", "alice", i + 1)

    # helpers

    def url(self, path):
        return "http://127.0.0.1:%d%s" % (self.web_port, path)

    def login(self):
        b = self.browser
        b.get(self.url("/"))
        if "/inbox" in b.driver.current_url:
            return
        b.wait_css("input#user").clear()
        b.find("input#user").send_keys(USER)
        b.find("input#password").send_keys(PASSWORD)
        b.find("button#login").click()
        b.wait_url("/inbox")

    def open_message(self, subject):
        """Opens the inbox, clicks the subject; returns the message's ID."""
        b = self.browser
        b.get(self.url("/inbox"))
        b.wait_css("table#inbox")
        for a in b.find_all("tr.msg td.subject a.subject"):
            if a.text.strip() == subject:
                href = a.get_attribute("href")
                a.click()
                b.wait_url(href)
                b.wait_loaded()
                return re.search(r"/msg/([^/?#]+)$", href).group(1)
        self.fail("no message %r in the inbox" % subject)

    def client(self):
        c = WebClient(self.web_port)
        r = c.login(USER, PASSWORD)
        self.assertEqual(r.status, 303, r.text)
        return c

    # the tests, in order (unittest sorts them by name)

    def test_1_login(self):
        b = self.browser
        b.get(self.url("/"))
        b.wait_css("input#user").send_keys(USER)
        b.find("input#password").send_keys("wrong")
        start = time.monotonic()
        b.find("button#login").click()
        err = b.wait_css("p#error")
        took = time.monotonic() - start
        self.assertGreaterEqual(took, 1.0, "a wrong password was answered at once")
        self.assertIn("wrong", err.text.lower())
        self.assertNotIn("/inbox", b.driver.current_url)
        self.login()

    def test_2_inbox(self):
        self.login()
        b = self.browser
        b.wait_css("table#inbox")
        rows = b.find_all("tr.msg")
        subjects = [r.find_element("css selector", "td.subject").text.strip() for r in rows]
        self.assertEqual(subjects[:3], ["multipart three", "html two", "plain one"], subjects)
        self.assertTrue(all("unseen" in r.get_attribute("class").split() for r in rows[:3]))
        self.assertIn("Messages 1-", b.find("p#count").text)
        self.assertFalse(b.find_all("a#next"))
        b.screenshot("inbox")

    def test_3_plain_message(self):
        self.login()
        self.open_message("plain one")
        b = self.browser
        self.assertEqual(b.find("h1").text.strip(), "plain one")
        self.assertIn("Sender", b.find("dl#headers").text)
        body = b.find("pre.text-body")
        self.assertIn("Second line <b>not bold</b>.", body.text)
        self.assertFalse(body.find_elements("css selector", "b"))
        self.assertTrue(b.find("a#raw").get_attribute("href").endswith("/raw"))
        b.get(self.url("/inbox"))
        row = [r for r in b.find_all("tr.msg") if "plain one" in r.text][0]
        self.assertNotIn("unseen", row.get_attribute("class").split())

    def test_4_attachment(self):
        self.login()
        mid = self.open_message("multipart three")
        b = self.browser
        b.screenshot("message")
        self.assertIn("See the attachment.", b.find("pre.text-body").text)
        link = b.find("ul#attachments li a.attachment")
        self.assertEqual(link.text.strip(), ATTACHMENT_NAME)
        self.assertRegex(link.get_attribute("href"), r"/msg/%s/part/\d+$" % re.escape(mid))
        link.click()
        path = b.wait_download()
        with open(path, "rb") as f:
            self.assertEqual(f.read(), ATTACHMENT)

    def test_5_html_script_and_remote_image(self):
        self.login()
        b, d = self.browser, self.browser.driver
        mid = self.open_message("html two")
        title = d.title
        frame = b.wait_css("iframe#html-body")
        self.assertIsNotNone(frame.get_attribute("sandbox"))
        self.assertNotIn("allow-scripts", frame.get_attribute("sandbox") or "")
        d.switch_to.frame(frame)
        try:
            b.wait_loaded()
            self.assertIn("Hello from HTML", d.find_element("css selector", "body").text)
            self.assertNotIn("SCRIPT RAN", d.find_element("css selector", "body").text)
            self.assertIsNone(d.find_element("css selector", "body").get_attribute("data-pwned"))
        finally:
            d.switch_to.default_content()
        b.screenshot("message-html")
        self.assertEqual(d.title, title)
        self.assertEqual(self.remote.paths(), [], "the remote host was reached before the click")
        load = b.find("a#load-remote")
        self.assertTrue(load.get_attribute("href").endswith("/msg/%s?remote=1" % mid))
        load.click()
        b.wait_url("remote=1")
        lib.wait_for(lambda: any(p.startswith("/pixel.png") for p in self.remote.paths()),
                     what="the remote image requested after the click")
        d.switch_to.frame(b.wait_css("iframe#html-body"))
        try:
            b.wait_loaded()
            self.assertNotIn("SCRIPT RAN", d.find_element("css selector", "body").text)
        finally:
            d.switch_to.default_content()
        self.assertFalse([p for p in self.remote.paths() if p.startswith("/beacon")],
                         self.remote.paths())

    def test_6_compose_and_story(self):
        self.login()
        b = self.browser
        b.get(self.url("/compose"))
        form = b.wait_css("form#compose")
        self.assertEqual(form.get_attribute("enctype"), "multipart/form-data")
        attach = os.path.join(b.tmp, "note.txt")
        with open(attach, "w") as f:
            f.write("attached from the browser\n")
        b.find("input#to").send_keys("%s, %s" % (BOB, REMOTE_OK))
        b.find("input#cc").send_keys(REMOTE_BAD)
        b.find("input#subject").send_keys("composed in a browser")
        b.find("textarea#body").send_keys("Hello Bob,\nfrom the Web.\n")
        b.find("input#attachments").send_keys(attach)
        notify = b.find("input#notify")
        if not notify.is_selected():
            notify.click()
        b.find("button#send").click()
        qid = re.search(r"/sent/([^/?#]+)$", b.wait_url("/sent/")).group(1)

        # The peer is not listening yet: the remote recipients cannot be past deferred.
        states = self.story()
        for r in (REMOTE_OK, REMOTE_BAD):
            self.assertIn(states.get(r), ("queued", "deferred"), states)
        self.assertIn(states.get(BOB), ("queued", "delivered"), states)

        self.peer_hold.close()
        peer = peers.ScriptedPeer("127.0.0.2", self.peer_port,
                                  {"rcpt": {"default": "250 2.1.5 ok",
                                            REMOTE_BAD: "550 5.1.1 no such user"}})
        peer.start()
        self.addCleanup(peer.stop)
        want = {BOB: "delivered", REMOTE_OK: "relayed", REMOTE_BAD: "failed"}
        b.wait(lambda _: self.story(reload=True) == want, "the story %r" % want,
               timeout=max(b.timeout, 20))
        for row in b.find_all("table#story tr.rcpt"):
            state = row.find_element("css selector", "td.state")
            self.assertIn("state-" + state.text.strip(), state.get_attribute("class").split())
        self.assertTrue(b.find_all("section#notices"))
        b.screenshot("story")

        # NOTIFY went out with the remote recipients; Bob has the message and its file.
        for rcpt in (REMOTE_OK, REMOTE_BAD):
            params = [t.rcpt_params(rcpt) for t in peer.transactions()
                      if t.rcpt_params(rcpt) is not None]
            self.assertTrue(params, (rcpt, peer.transactions()))
            self.assertEqual(set((params[-1].get("NOTIFY") or "").split(",")),
                             {"SUCCESS", "FAILURE", "DELAY"}, (rcpt, params))
        lib.wait_maildir_count(self.srv.data, "example.test", "bob", 1)
        self.assertIn(b"note.txt", lib.maildir_messages(self.srv.data, "example.test", "bob")[0])
        b.get(self.url("/sent"))
        links = [a.get_attribute("href") for a in b.find_all("table#sent tr.sent a.story")]
        self.assertTrue(any(h.endswith("/sent/" + qid) for h in links), links)

    def story(self, reload=False):
        """{recipient: state text} of the story page shown (reloaded first if asked)."""
        b = self.browser
        if reload:
            b.driver.refresh()
        b.wait_css("table#story")
        out = {}
        for row in b.find_all("table#story tr.rcpt"):
            out[row.find_element("css selector", "td.rcpt").text.strip()] = \
                row.find_element("css selector", "td.state").text.strip()
        return out

    def test_7_csrf(self):
        c = self.client()
        token = c.csrf or "t" * 43
        # compose: urlencoded and multipart, no token / a wrong one
        fields = {"to": BOB, "subject": "forged", "body": "forged"}
        self.assertEqual(c.post("/compose", fields, csrf=False).status, 403)
        self.assertEqual(c.post("/compose", dict(fields, csrf="x" * len(token))).status, 403)
        boundary = "b0und4ry"
        body = "".join("--%s\r\nContent-Disposition: form-data; name=\"%s\"\r\n\r\n%s\r\n"
                       % (boundary, k, v) for k, v in fields.items())
        body += "--%s--\r\n" % boundary
        r = c.request("POST", "/compose", body.encode(),
                      {"Content-Type": "multipart/form-data; boundary=" + boundary})
        self.assertEqual(r.status, 403)
        # delete: the message stays
        files = lib.maildir_files(self.srv.data, "example.test", "alice", "cur") + \
            lib.maildir_files(self.srv.data, "example.test", "alice")
        self.assertTrue(files)
        mid = os.path.basename(files[0]).split(":2,")[0]
        self.assertEqual(c.post("/msg/%s/delete" % mid, {}, csrf=False).status, 403)
        self.assertTrue(os.path.exists(files[0]), "a forged delete removed the message")
        self.assertFalse(lib.maildir_files(self.srv.data, "example.test", "alice/.Trash", "cur"))
        # no forged mail went out
        self.assertFalse([m for m in lib.maildir_messages(self.srv.data, "example.test", "bob")
                          if b"forged" in m])

    def test_8_origin(self):
        """A form from another site is refused; our own pages' forms, which a browser
        sends with "Origin: null" under Referrer-Policy no-referrer, are not."""
        c = WebClient(self.web_port)
        form = {"user": USER, "password": PASSWORD}
        host = "127.0.0.1:%d" % self.web_port
        for headers in ({"Origin": "http://evil.test"},
                        {"Origin": "http://127.0.0.1:1"},
                        {"Origin": "null", "Sec-Fetch-Site": "cross-site"},
                        {"Sec-Fetch-Site": "same-site"}):
            r = c.post("/login", form, csrf=False, headers=headers)
            self.assertEqual(r.status, 403, headers)
            self.assertIn("another site", r.text)
        for headers in ({"Origin": "http://" + host},
                        {"Origin": "null", "Sec-Fetch-Site": "same-origin"}):
            c = WebClient(self.web_port)
            r = c.post("/login", form, csrf=False, headers=headers)
            self.assertEqual((r.status, r.header("Location")), (303, "/inbox"), headers)

    def test_9_logout(self):
        self.login()
        b = self.browser
        b.get(self.url("/inbox"))
        b.wait_css("button#logout").click()
        b.wait_css("input#user")
        b.get(self.url("/inbox"))
        b.wait_css("input#user")
        self.assertEqual(b.driver.current_url, self.url("/"))
        self.assertFalse(b.find_all("table#inbox"))


if __name__ == "__main__":
    lib.unittest.main()
