"""
t_38_forbidden_commands: a line that is no SMTP at all, an HTTP request
(GET, POST, CONNECT ...) or a header line (Host:, User-Agent:, Received:,
From:), sent where a command is expected ends the session at once, as
Postfix does: one reply (421 4.7.0), then the connection closes and nothing
pipelined after it is answered or acted on. The same text is harmless where
it is no command: inside DATA, and as a SASL response inside AUTH. The
session is logged once, naming the client and the command.
"""
import base64
import unittest

import lib
from lib import expect

USER, PASSWORD = "sub@example.test", "s3cret"


class ForbiddenCommands(lib.SharedServerTestCase):

    @classmethod
    def server_options(cls):
        cls.sub_port = lib.free_port()
        return dict(users=["%s:{PLAIN}%s" % (USER, PASSWORD), "bob@example.test:{PLAIN}x",
                           "datauser@example.test:{PLAIN}x"],
                    extra=["listen submission 127.0.0.1:%d" % cls.sub_port])

    def ends_session(self, c, data):
        """Sends data in one write: the first line must get 421 4.7.0, then the
        connection must close with nothing else said."""
        c.send(data)
        expect(c.reply(), 421, "4.7.0")
        c.expect_closed()

    def test_each_example_before_helo(self):
        for line in ("GET / HTTP/1.1", "POST /cgi-bin/x HTTP/1.0", "CONNECT mx.test:25 HTTP/1.1",
                     "get /", "PUT /x", "HEAD /", "OPTIONS *", "DELETE /x", "PATCH /x",
                     "Host: mx.test", "User-Agent: curl/8.5.0", "Received: from x by y",
                     "From: <alice@sender.test>", "MAILFROM:<alice@sender.test>"):
            with self.subTest(line=line):
                c = self.raw(self.srv)
                self.ends_session(c, line + "\r\nNOOP\r\n")

    def test_http_request_closes(self):
        before = self.srv.log().count("forbidden command")
        c = self.raw(self.srv)
        self.ends_session(c, b"GET / HTTP/1.1\r\nHost: mx.test\r\nUser-Agent: x\r\n\r\n")
        # logged when the reply was made: once, for GET, not for the lines after it
        log = self.srv.log()
        self.assertEqual(log.count("forbidden command"), before + 1, self.srv.log_tail())
        self.assertRegex(log, r"smtp: 127\.0\.0\.1[^ ]*: forbidden command GET, closing")

    def test_pipelined_commands_after_it_not_processed(self):
        c = self.raw(self.srv)
        c.ehlo()
        expect(c.cmd("MAIL FROM:<alice@sender.test>"), 250, "2.1.0")
        expect(c.cmd("RCPT TO:<bob@example.test>"), 250, "2.1.5")
        self.ends_session(c, "From: <alice@sender.test>\r\nRSET\r\nMAIL FROM:<alice@sender.test>\r\n"
                             "RCPT TO:<bob@example.test>\r\nDATA\r\nSubject: t37 smuggled\r\n\r\n"
                             "x\r\n.\r\nQUIT\r\n")
        lib.wait_for(lambda: "forbidden command From:" in self.srv.log(),
                     what="the forbidden command to be logged")
        # nothing was queued: a later message to bob is the only one there
        self.srv.send("alice@sender.test", ["bob@example.test"], lib.make_message("t37 barrier"))
        msgs = lib.wait_maildir_count(self.srv.data, "example.test", "bob", 1)
        self.assertEqual([lib.header_value(m, "Subject") for m in
                          lib.maildir_messages(self.srv.data, "example.test", "bob")],
                         ["t37 barrier"], msgs)

    def test_header_lines_inside_data_are_content(self):
        c = self.raw(self.srv)
        c.ehlo()
        expect(c.cmd("MAIL FROM:<alice@sender.test>"), 250, "2.1.0")
        expect(c.cmd("RCPT TO:<datauser@example.test>"), 250, "2.1.5")
        expect(c.cmd("DATA"), 354)
        c.send(b"From: <alice@sender.test>\r\nHost: x\r\nSubject: t37 data\r\n\r\n"
               b"GET / HTTP/1.1\r\nCONNECT x\r\n.\r\n")
        expect(c.reply(), 250, "2.0.0")
        expect(c.cmd("NOOP"), 250, "2.0.0")
        [raw] = self.srv.wait_mail("datauser")
        self.assertIn(b"\nGET / HTTP/1.1\nCONNECT x\n", raw)

    def test_commands_that_look_alike_are_not_forbidden(self):
        c = self.raw(self.srv)
        expect(c.cmd("GETX /"), 500, "5.5.2")
        expect(c.cmd("HELO host:25"), 250, enhanced=False)
        expect(c.cmd("mail from:<alice@sender.test>"), 250, "2.1.0")
        expect(c.cmd("NOOP Host: x"), 250, "2.0.0")

    def test_sasl_response_inside_auth_is_not_a_command(self):
        c = lib.Raw(self.sub_port)
        self.addCleanup(c.close)
        c.ehlo()
        expect(c.cmd("AUTH PLAIN"), 334)
        expect(c.cmd("Host: x"), 501, "5.5.2")          # a malformed response, not a close
        creds = base64.b64encode(("\0%s\0%s" % (USER, PASSWORD)).encode()).decode()
        expect(c.cmd("AUTH PLAIN " + creds), 235, "2.7.0")
        # after AUTH, commands are checked again
        self.ends_session(c, "User-Agent: x\r\nNOOP\r\n")


if __name__ == "__main__":
    unittest.main()
