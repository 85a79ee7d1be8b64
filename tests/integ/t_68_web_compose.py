"""
t_68_web_compose: writing mail on the Web reader and each sent message's
delivery story (INTERFACE.md "Web"), at the HTTP level with lib_web.

One server for the module, a scripted SMTP peer on 127.0.0.2 reached by a
route for peer.test that answers each recipient at once: ok@ 250,
nouser@ 550 5.1.1, later@ 451 4.3.0.
- Compose to a local user (multipart, a binary attachment with a non-ASCII
  name): delivered with From = the login, Date, Message-ID, the attachment
  intact; a seen copy in the sender's .Sent folder; the story says delivered;
  the Sent list links to it.
- To the peer (urlencoded): relayed, host and reply shown; with "notify me"
  the peer saw NOTIFY=SUCCESS,FAILURE,DELAY, RET=HDRS and ENVID = the queue
  id; a later hop's notice for that ENVID shows in the story.
- 550 5.1.1: failed, the code in words, the failure notice in the inbox.
- 451: deferred with the next attempt.
- No CSRF token: 403, nothing queued. A bad address or an unknown local user:
  p#error with the fields kept, nothing queued. Another user's story: 404.
"""
import email
import email.policy
import os
import re
import uuid

import lib
import lib_web
import peers

PW = "pw68"
ALICE, BOB = "alice@example.test", "bob@example.test"
PEER_IP = "127.0.0.2"


def multipart(fields, files=()):
    """A multipart/form-data body as a browser sends it: (content type, bytes)."""
    b = "----postino68" + uuid.uuid4().hex
    out = b""
    for name, value in fields.items():
        out += ("--%s\r\nContent-Disposition: form-data; name=\"%s\"\r\n\r\n" % (b, name)).encode()
        out += value.encode() + b"\r\n"
    for name, filename, ctype, data in files:
        out += ("--%s\r\nContent-Disposition: form-data; name=\"%s\"; filename=\"%s\"\r\n"
                "Content-Type: %s\r\n\r\n" % (b, name, filename, ctype)).encode()
        out += data + b"\r\n"
    out += ("--%s--\r\n" % b).encode()
    return "multipart/form-data; boundary=" + b, out


def later_hop_notice(envid, rcpt):
    """A success notice from a later hop (far.test) about envid."""
    return ("From: MAILER-DAEMON@far.test\r\nTo: %s\r\nSubject: Delivered\r\n"
            "Message-ID: <n68-%s@far.test>\r\nMIME-Version: 1.0\r\n"
            "Content-Type: multipart/report; report-type=delivery-status; boundary=\"B68\"\r\n"
            "\r\n--B68\r\nContent-Type: text/plain\r\n\r\nDelivered.\r\n"
            "--B68\r\nContent-Type: message/delivery-status\r\n\r\n"
            "Reporting-MTA: dns; far.test\r\nOriginal-Envelope-Id: %s\r\n\r\n"
            "Final-Recipient: rfc822; %s\r\nAction: delivered\r\nStatus: 2.0.0\r\n\r\n"
            "--B68--\r\n" % (ALICE, envid, envid, rcpt)).encode()


def cell(html, cls, rcpt):
    """The text of td.CLS in the story row of rcpt."""
    for row in re.findall(r'<tr class="rcpt">(.*?)</tr>', html, re.S):
        if '<td class="rcpt">%s</td>' % rcpt in row:
            m = re.search(r'<td class="%s[^"]*">(.*?)</td>' % cls, row, re.S)
            return m.group(1) if m else None
    return None


class WebCompose(lib.IntegTestCase):

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        port = peers.free_shared_port(("127.0.0.1", PEER_IP))
        cls.peer = peers.ScriptedPeer(PEER_IP, port, {"rcpt": {
            "default": "250 2.1.5 ok", "nouser@peer.test": "550 5.1.1 <nouser@peer.test>: no such user",
            "later@peer.test": "451 4.3.0 try later"}})
        cls.addClassCleanup(cls.peer.stop)
        cls.peer.start()
        cls.web = lib.free_port()
        settings = dict(peers.DSN_DEFAULTS, smtp_port=str(port),
                        route="peer.test [%s]:%d" % (PEER_IP, port))
        cls.srv = lib.Server(users=["%s:{PLAIN}%s" % (u, PW) for u in (ALICE, BOB)],
                             extra=["listen web 127.0.0.1:%d" % cls.web], **settings)
        cls.addClassCleanup(cls.srv.close)
        cls.srv.start()

    def client(self, user=ALICE):
        w = lib_web.WebClient(self.web)
        self.assertEqual(w.login(user, PW).status, 303)
        self.assertEqual(w.get("/compose").status, 200)
        return w

    def queued(self):
        return self.srv.log().count("queued (web submission)")

    def compose(self, w, fields):
        """An urlencoded compose; returns the queue id from the 303."""
        r = w.post("/compose", fields)
        self.assertEqual(r.status, 303, r.text)
        loc = r.header("Location")
        self.assertRegex(loc, r"^/sent/[0-9A-F]+$")
        return loc.split("/")[-1]

    def story(self, w, qid, rcpt, state, timeout=10):
        """Waits until the story shows state for rcpt; returns the page's text."""
        got = {}

        def ready():
            r = w.get("/sent/" + qid)
            self.assertEqual(r.status, 200)
            got["t"] = r.text
            return cell(r.text, "state", rcpt) == state
        lib.wait_for(ready, timeout, interval=0.1, what=lambda: "%s %s in the story:\n%s\nlog:\n%s"
                     % (rcpt, state, got.get("t"), self.srv.log_tail(20)))
        self.assertIn('class="state state-%s"' % state, got["t"])
        return got["t"]

    def compose_story(self, rcpt, state, **fields):
        """Composes a message to rcpt (body "x" unless given) and waits until its story
        shows state for rcpt; returns (client, queue id, story text, rcpt's detail cell)."""
        w = self.client()
        qid = self.compose(w, dict({"to": rcpt, "body": "x"}, **fields))
        t = self.story(w, qid, rcpt, state)
        return w, qid, t, cell(t, "detail", rcpt)

    def test_local_multipart_with_attachment(self):
        w = self.client()
        data = bytes(range(256)) * 3 + b"\r\n.\r\nend\n"
        ctype, body = multipart(
            {"csrf": w.csrf, "to": "Bob <%s>" % BOB, "cc": "", "subject": "Grüße 68",
             "body": "Hello Bob,\r\nsee the file.\r\n"},
            [("attachment", "résumé.bin", "application/octet-stream", data),
             ("attachment", "", "application/octet-stream", b"")])
        r = w.request("POST", "/compose?csrf=" + w.csrf, body, {"Content-Type": ctype})
        self.assertEqual(r.status, 303, r.text)
        qid = r.header("Location").split("/")[-1]
        raw = lib.wait_for(lambda: lib.maildir_messages(self.srv.data, "example.test", "bob"),
                           10, what="bob's message")[0]
        msg = email.message_from_bytes(raw, policy=email.policy.default)
        self.assertEqual(msg["From"], ALICE)
        self.assertEqual(msg["To"], "Bob <%s>" % BOB)
        self.assertEqual(str(msg["Subject"]), "Grüße 68")
        self.assertIsNotNone(msg["Date"])
        self.assertRegex(msg["Message-ID"], r"^<[0-9a-f]+@[^>]+>$")
        self.assertEqual(msg["MIME-Version"], "1.0")
        self.assertEqual(msg.get_content_type(), "multipart/mixed")
        parts = list(msg.iter_parts())
        self.assertEqual(len(parts), 2)  # the empty file input sent nothing
        self.assertEqual(parts[0].get_content_type(), "text/plain")
        self.assertEqual(parts[0].get_content_charset(), "utf-8")
        self.assertEqual(parts[0].get_content(), "Hello Bob,\nsee the file.\n")
        self.assertEqual(parts[1].get_filename(), "résumé.bin")
        self.assertEqual(parts[1]["Content-Transfer-Encoding"], "base64")
        self.assertEqual(parts[1].get_content(), data)
        # the seen copy in alice's Sent folder
        sent = os.path.join(self.srv.data, "mail", "example.test", "alice", ".Sent")
        self.assertTrue(os.path.exists(os.path.join(sent, "maildirfolder")))
        copies = [n for n in os.listdir(os.path.join(sent, "cur")) if qid in n]
        self.assertEqual(len(copies), 1, copies)
        self.assertTrue(copies[0].endswith(":2,S"), copies)
        with open(os.path.join(sent, "cur", copies[0]), "rb") as f:
            self.assertIn(msg["Message-ID"].encode(), f.read())
        self.story(w, qid, BOB, "delivered")
        r = w.get("/sent")
        self.assertIn('<table id="sent">', r.text)
        self.assertRegex(r.text, r'<tr class="sent">.*<a class="story" href="/sent/%s">Grüße 68</a>'
                         % qid)
        self.assertTrue([l for l in self.srv.log().splitlines()
                         if "%s: from=<%s>" % (qid, ALICE) in l and "queued (web submission)" in l])

    def test_relayed_notify_and_later_hop_notice(self):
        w, qid, _, detail = self.compose_story("ok@peer.test", "relayed", subject="relay 68",
                                               body="hi", notify="1")
        self.assertIn(PEER_IP, detail)
        self.assertIn("250", detail)
        txn = [x for x in self.peer.messages() if ("id %s" % qid).encode() in x.data][0]
        self.assertEqual(txn.sender, ALICE)
        self.assertEqual(txn.mail_params.get("ENVID"), qid)
        self.assertEqual(txn.mail_params.get("RET"), "HDRS")
        self.assertEqual(txn.rcpt_params("ok@peer.test").get("NOTIFY"), "SUCCESS,FAILURE,DELAY")
        # a later hop reports delivery for this ENVID
        with lib.smtp_client(self.srv.port) as s:
            s.ehlo()
            lib.expect_smtplib(s.mail("<>"), 250, "2.1.0")
            lib.expect_smtplib(s.rcpt(ALICE), 250, "2.1.5")
            lib.expect_smtplib(s.data(later_hop_notice(qid, "ok@peer.test")), 250, "2.0.0")
        t = self.story(w, qid, "ok@peer.test", "delivered")
        self.assertIn("reported by far.test", cell(t, "detail", "ok@peer.test"))
        notices = t.split('<section id="notices">', 1)[1]
        self.assertIn("a report from far.test about ok@peer.test: delivered", notices)
        lib.wait_for(lambda: any(("n68-%s@far.test" % qid).encode() in m for m in
                                 lib.maildir_messages(self.srv.data, "example.test", "alice")),
                     10, what="the later hop's notice in alice's inbox")

    def test_failed_with_code_in_words_and_notice(self):
        w, qid, _, detail = self.compose_story("nouser@peer.test", "failed", subject="fail 68")
        self.assertIn("550 5.1.1", detail)
        self.assertIn("5.1.1: the mailbox does not exist", detail)

        def notice():
            for raw in lib.maildir_messages(self.srv.data, "example.test", "alice"):
                if b"multipart/report" in raw and qid.encode() in raw and b"nouser@peer.test" in raw:
                    return raw
        lib.wait_for(notice, 10, what="the failure notice in alice's inbox")
        t = self.story(w, qid, "nouser@peer.test", "failed")
        self.assertIn("a notice (failed) was sent to you about nouser@peer.test", t)

    def test_deferred_with_next_attempt(self):
        _, _, _, detail = self.compose_story("later@peer.test", "deferred", subject="later 68")
        self.assertIn("451 4.3.0 try later", detail)
        self.assertIn("next attempt:", detail)

    def test_refused_forms_queue_nothing(self):
        w = self.client()
        n = self.queued()
        # no token: refused before anything is read
        ctype, body = multipart({"to": BOB, "subject": "no token", "body": "x"})
        r = w.request("POST", "/compose", body, {"Content-Type": ctype})
        self.assertEqual(r.status, 403)
        r = w.post("/compose", {"to": BOB, "subject": "no token", "body": "x"}, csrf=False)
        self.assertEqual(r.status, 403)
        # a bad address, an unknown local user, no recipient: the form comes back
        for to, words in (("bob@@example.test, ", "To:"),
                          ("nosuch@example.test", "nosuch@example.test: there is no such user"),
                          ("", "at least one recipient")):
            w.get("/compose")
            r = w.post("/compose", {"to": to, "cc": "", "subject": "kept 68", "body": "kept body"})
            self.assertEqual(r.status, 400, r.text)
            m = re.search(r'<p id="error" class="error">(.*?)</p>', r.text)
            self.assertIsNotNone(m, r.text)
            self.assertIn(words, m.group(1))
            self.assertIn('value="kept 68"', r.text)
            self.assertIn("kept body</textarea>", r.text)
        self.assertEqual(self.queued(), n)

    def test_other_users_story_is_404(self):
        w = self.client()
        qid = self.compose(w, {"to": BOB, "subject": "private 68", "body": "x"})
        self.assertEqual(w.get("/sent/" + qid).status, 200)
        other = self.client(BOB)
        self.assertEqual(other.get("/sent/" + qid).status, 404)
        self.assertEqual(other.get("/sent/NOSUCHID").status, 404)
        self.assertNotIn(qid, other.get("/sent").text)


if __name__ == "__main__":
    lib.main()
