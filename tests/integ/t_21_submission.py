"""
t_21_submission: RFC 6409 section 8 on the submission listener: a message
without Date or Message-ID gets them (once, in the header section); one that
has them keeps its own; mail received on the smtp listener is not rewritten
beyond the Received header.
"""
import base64
import unittest

import lib

USER, PASSWORD = "sub@example.test", "s3cret"


def plain(user, password):
    return base64.b64encode(("\0%s\0%s" % (user, password)).encode()).decode()


class Submission(lib.SharedServerTestCase):

    @classmethod
    def server_options(cls):
        cls.sub_port = lib.free_port()
        return dict(users=["%s:{PLAIN}%s" % (USER, PASSWORD), "rcpt@example.test:{PLAIN}x"],
                    extra=["listen submission 127.0.0.1:%d" % cls.sub_port])

    def submit(self, raw_message, port=None):
        with lib.smtp_client(port or self.sub_port) as s:
            s.ehlo()
            if port is None:
                lib.expect_smtplib(s.docmd("AUTH", "PLAIN " + plain(USER, PASSWORD)), 235, "2.7.0")
            lib.expect_smtplib(s.mail(USER), 250, "2.1.0")
            lib.expect_smtplib(s.rcpt("rcpt@example.test"), 250, "2.1.5")
            return lib.queue_id_of(lib.expect_smtplib(s.data(raw_message), 250, "2.0.0"))

    def delivered(self, count):
        return lib.wait_maildir_count(self.srv.data, "example.test", "rcpt", count)

    def test_date_and_message_id_added(self):
        before = len(lib.maildir_files(self.srv.data, "example.test", "rcpt"))
        qid = self.submit(b"Subject: bare submission\r\nFrom: <sub@example.test>\r\n\r\nbody\r\n")
        raw = [m for m in self.delivered(before + 1) if b"bare submission" in m][0]
        head, _, body = raw.partition(b"\n\n")
        self.assertEqual(body, b"body\n")
        self.assertEqual(head.count(b"\nDate: "), 1, head)
        self.assertIn(b"\nMessage-ID: <%s@%s>" % (qid.encode(), lib.HOSTNAME.encode()), head)

    def test_existing_headers_kept(self):
        before = len(lib.maildir_files(self.srv.data, "example.test", "rcpt"))
        self.submit(b"Subject: dressed\r\nDate: Mon, 24 Nov 2025 08:00:00 +0000\r\n"
                    b"Message-ID: <own@client.test>\r\n\r\nbody\r\n")
        raw = [m for m in self.delivered(before + 1) if b"dressed" in m][0]
        self.assertEqual(raw.count(b"\nDate: "), 1)
        self.assertEqual(raw.count(b"\nMessage-ID: "), 1)
        self.assertIn(b"Message-ID: <own@client.test>", raw)

    def test_smtp_listener_not_rewritten(self):
        before = len(lib.maildir_files(self.srv.data, "example.test", "rcpt"))
        self.submit(b"Subject: relayed as is\r\n\r\nbody\r\n", port=self.srv.port)
        raw = [m for m in self.delivered(before + 1) if b"relayed as is" in m][0]
        self.assertNotIn(b"\nDate: ", raw)
        self.assertNotIn(b"\nMessage-ID: ", raw)


if __name__ == "__main__":
    unittest.main()
