"""
t_30_pop3: the POP3 server (RFC 1939, RFC 2449 CAPA, RFC 2595 STLS, RFC 5034
AUTH PLAIN, RFC 8314 pop3s) with Python's poplib: mail sent over SMTP,
delivered to the Maildir, fetched over POP3. Login, STAT, LIST, UIDL stable
across sessions, RETR with CRLF ends and the added Return-Path/Received,
TOP n 0 (leaves the message unseen, RETR marks it seen), DELE+QUIT deletes, DELE+dropped connection deletes nothing, RSET,
wrong password (-ERR [AUTH]), a second session (-ERR [IN-USE]), AUTH PLAIN,
STLS and pop3s with a throwaway certificate; nothing sent in the clear
(a USER, a pipelined injection) counts under TLS.
"""
import base64
import poplib
import shutil
import socket
import ssl
import tempfile

import lib
import peers

PASSWORD = "secret"
USERS = ["u%d@example.test" % i for i in range(1, 10)]


def make_cert(folder):
    """The server's certificate: for HOSTNAME and 127.0.0.1."""
    return peers.make_cert(folder, cn=lib.HOSTNAME, ip="127.0.0.1")


class Pop3(lib.SharedServerTestCase):

    @classmethod
    def server_options(cls):
        cls.certdir = tempfile.mkdtemp(prefix="postino-pop3-cert-")
        cls.cert, key = make_cert(cls.certdir)
        cls.pop_port, cls.pops_port = lib.free_port(), lib.free_port()
        return dict(users=["%s:{PLAIN}%s" % (u, PASSWORD) for u in USERS],
                    tls_cert=cls.cert, tls_key=key,
                    extra=["listen pop3 127.0.0.1:%d" % cls.pop_port,
                           "listen pop3s 127.0.0.1:%d" % cls.pops_port])

    @classmethod
    def tearDownClass(cls):
        super().tearDownClass()
        shutil.rmtree(cls.certdir, ignore_errors=True)

    def deliver(self, user, n):
        """Sends n messages to user; returns the stored files' bytes."""
        local = user.split("@")[0]
        for i in range(n):
            msg = lib.make_message("pop %s %d" % (local, i),
                                   body="Line one.\r\n.dotted line\r\n\r\nlast %d\r\n" % i,
                                   to=user)
            lib.send_message(self.srv.port, "alice@sender.test", [user], msg)
            lib.wait_maildir_count(self.srv.data, "example.test", local, i + 1)
        return lib.maildir_messages(self.srv.data, "example.test", local)

    def login(self, user):
        p = poplib.POP3("127.0.0.1", self.pop_port, timeout=10)
        p.user(user)
        p.pass_(PASSWORD)
        return p

    def files(self, user):
        local = user.split("@")[0]
        return (lib.maildir_files(self.srv.data, "example.test", local) +
                lib.maildir_files(self.srv.data, "example.test", local, "cur"))

    def test_stat_list_uidl_retr(self):
        user = USERS[0]
        stored = self.deliver(user, 3)
        p = self.login(user)
        count, octets = p.stat()
        self.assertEqual(count, 3)
        sizes = [len(m) + m.count(b"\n") for m in stored]
        self.assertEqual(octets, sum(sizes))
        _, listing, _ = p.list()
        self.assertEqual([int(l.split()[1]) for l in listing], sizes)
        uidl1 = p.uidl()[1]
        self.assertEqual(len(set(uidl1)), 3)
        _, lines, size = p.retr(2)
        text = b"\r\n".join(lines) + b"\r\n"
        self.assertEqual(text, stored[1].replace(b"\n", b"\r\n"))
        self.assertTrue(text.startswith(b"Return-Path: <alice@sender.test>\r\n"))
        self.assertIn(b"\r\nReceived: ", text)
        self.assertIn(b".dotted line", lines)
        p.quit()
        self.assertEqual(len(lib.maildir_files(self.srv.data, "example.test", "u1", "cur")), 1)
        p = self.login(user)
        self.assertEqual(p.uidl()[1], uidl1)
        self.assertEqual(p.uidl(2).split()[-1], uidl1[1].split()[-1])
        p.quit()

    def test_top(self):
        user = USERS[1]
        stored = self.deliver(user, 1)
        p = self.login(user)
        _, lines, _ = p.top(1, 0)
        head = stored[0].split(b"\n\n")[0].split(b"\n")
        self.assertEqual(lines, head + [b""])
        _, lines, _ = p.top(1, 2)
        self.assertEqual(lines[-2:], [b"Line one.", b".dotted line"])
        p.quit()
        # TOP leaves the message unseen (fetchmail's keep mode reads with TOP): still in new/
        local = user.split("@")[0]
        self.assertEqual(len(lib.maildir_files(self.srv.data, "example.test", local)), 1)
        self.assertEqual(lib.maildir_files(self.srv.data, "example.test", local, "cur"), [])
        # RETR marks it seen: cur/NAME:2,S
        p = self.login(user)
        p.retr(1)
        p.quit()
        self.assertEqual(lib.maildir_files(self.srv.data, "example.test", local), [])
        cur = lib.maildir_files(self.srv.data, "example.test", local, "cur")
        self.assertEqual(len(cur), 1)
        self.assertTrue(cur[0].endswith(":2,S"), cur)

    def test_dele_quit_and_drop(self):
        user = USERS[2]
        self.deliver(user, 2)
        p = self.login(user)
        p.dele(1)
        p.sock.shutdown(socket.SHUT_RDWR)  # dropped: nothing deleted
        p.close()
        lib.wait_for(lambda: self._can_login(user), what="session released")
        self.assertEqual(len(self.files(user)), 2)
        p = self.login(user)
        p.dele(1)
        p.rset()
        self.assertEqual(p.stat()[0], 2)
        p.dele(2)
        self.assertEqual(p.stat()[0], 1)
        with self.assertRaises(poplib.error_proto):
            p.retr(2)
        p.quit()
        self.assertEqual(len(self.files(user)), 1)

    def _can_login(self, user):
        try:
            p = self.login(user)
        except poplib.error_proto:
            return False
        p.quit()
        return True

    def test_wrong_password_and_in_use(self):
        user = USERS[3]
        p = poplib.POP3("127.0.0.1", self.pop_port, timeout=10)
        p.user(user)
        with self.assertRaises(poplib.error_proto) as cm:
            p.pass_("wrong")
        self.assertIn(b"[AUTH]", cm.exception.args[0])
        p.quit()
        first = self.login(user)
        second = poplib.POP3("127.0.0.1", self.pop_port, timeout=10)
        second.user(user)
        with self.assertRaises(poplib.error_proto) as cm:
            second.pass_(PASSWORD)
        self.assertIn(b"[IN-USE]", cm.exception.args[0])
        second.quit()
        first.quit()

    def test_capa_and_auth_plain(self):
        user = USERS[4]
        self.deliver(user, 1)
        p = poplib.POP3("127.0.0.1", self.pop_port, timeout=10)
        capa = p.capa()
        for c in ("USER", "UIDL", "TOP", "PIPELINING", "RESP-CODES", "AUTH-RESP-CODE", "STLS"):
            self.assertIn(c, capa)
        self.assertEqual(capa["SASL"], ["PLAIN"])
        token = base64.b64encode(b"\0" + user.encode() + b"\0" + PASSWORD.encode()).decode()
        self.assertTrue(p._shortcmd("AUTH PLAIN " + token).startswith(b"+OK"))
        self.assertEqual(p.stat()[0], 1)
        p.quit()
        p = poplib.POP3("127.0.0.1", self.pop_port, timeout=10)
        self.assertTrue(p._shortcmd("AUTH PLAIN").startswith(b"+"))
        self.assertTrue(p._shortcmd(token).startswith(b"+OK"))
        p.quit()

    def test_stls_and_pop3s(self):
        user = USERS[5]
        self.deliver(user, 1)
        ctx = ssl.create_default_context(cafile=self.cert)
        p = poplib.POP3("127.0.0.1", self.pop_port, timeout=10)
        p.stls(ctx)
        self.assertNotIn("STLS", p.capa())
        p.user(user)
        p.pass_(PASSWORD)
        self.assertEqual(p.stat()[0], 1)
        p.quit()
        p = poplib.POP3_SSL("127.0.0.1", self.pops_port, timeout=10, context=ctx)
        p.user(user)
        p.pass_(PASSWORD)
        _, lines, _ = p.retr(1)
        self.assertIn(b"last 0", lines)
        p.quit()

    def test_stls_forgets_the_clear(self):
        # RFC 2595 4 / CVE-2011-0411: a USER given or injected in the clear does not
        # count under TLS, and what follows STLS in the same write is discarded
        user = USERS[7]
        ctx = ssl.create_default_context(cafile=self.cert)
        p = poplib.POP3("127.0.0.1", self.pop_port, timeout=10)
        p.user(user)
        p.stls(ctx)
        with self.assertRaises(poplib.error_proto):
            p.pass_(PASSWORD)               # no USER under TLS yet
        p.quit()
        sock = socket.create_connection(("127.0.0.1", self.pop_port), timeout=10)
        f = sock.makefile("rb")
        self.assertTrue(f.readline().startswith(b"+OK"))
        sock.sendall(b"STLS\r\nUSER " + user.encode() + b"\r\n")
        self.assertTrue(f.readline().startswith(b"+OK"))
        tls = ctx.wrap_socket(sock, server_hostname="127.0.0.1")
        tf = tls.makefile("rb")
        tls.sendall(b"PASS " + PASSWORD.encode() + b"\r\n")
        self.assertTrue(tf.readline().startswith(b"-ERR"))
        tls.sendall(b"QUIT\r\n")
        self.assertTrue(tf.readline().startswith(b"+OK"))
        tls.close()
        lib.wait_for(lambda: "discarded %d octets sent after STLS" % (len(user) + 7)
                     in self.srv.log(), what="the discard to be logged")

    def test_large_message_streamed(self):
        user = USERS[6]
        body = "".join(".%05d %s\r\n" % (i, "x" * 60) for i in range(1200))
        msg = lib.make_message("big", body=body, to=user)
        lib.send_message(self.srv.port, "alice@sender.test", [user], msg)
        stored = lib.wait_maildir_count(self.srv.data, "example.test", "u7", 1)
        p = self.login(user)
        _, lines, _ = p.retr(1)
        self.assertEqual(b"\r\n".join(lines) + b"\r\n", stored[0].replace(b"\n", b"\r\n"))
        p.quit()
