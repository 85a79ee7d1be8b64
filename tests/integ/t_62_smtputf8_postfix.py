"""
t_62_smtputf8_postfix: SMTPUTF8 interoperability with a real Postfix
(smtputf8_enable = yes), the private instance of t_27_dsn_postfix with its
virtual domain dsn.test holding the UTF-8 mailbox jürgen@dsn.test.
Postfix -> postino: a message Postfix received with SMTPUTF8 for
jürgen@example.test is passed to postino with SMTPUTF8 (no "SMTPUTF8 is
required, but was not offered" bounce) and lands in postino's UTF-8
Maildir with its UTF-8 header. postino -> Postfix: a UTF-8 message for
jürgen@dsn.test (route dsn.test to Postfix) goes with SMTPUTF8 and Postfix
delivers it. Skipped only when Postfix is not installed or cannot start.
"""
import email
import email.policy
import os
import smtplib
import unittest

import lib
import peers
import t_27_dsn_postfix as pfx

JU = "j\u00fcrgen"


class Utf8PostfixInstance(pfx.PostfixInstance):
    """t_27's private Postfix with SMTPUTF8 on and a UTF-8 virtual mailbox."""

    def __init__(self, port, postino_port):
        super().__init__(port, postino_port)
        main_cf = os.path.join(self.etc, "main.cf")
        with open(main_cf) as f:
            text = f.read()
        with open(main_cf, "w") as f:
            f.write(text.replace("smtputf8_enable = no", "smtputf8_enable = yes"))
        with open(os.path.join(self.etc, "vmailbox"), "w", encoding="utf-8") as f:
            f.write("%s@dsn.test dsn.test/juergen/\n" % JU)


def utf8_message(to, subject):
    return lib.utf8_message("\u00c5sa <\u00e5sa@example.test>", to, subject, "Gr\u00fc\u00dfe.\n")


class PostfixUtf8(peers.DsnTestCase):

    def start_postfix(self, postino_port):
        pf = Utf8PostfixInstance(self.port, postino_port)
        self.addCleanup(pf.stop)
        why = pf.start()
        if why:
            self.skipTest("Postfix unavailable: " + why)
        return pf

    def test_both_ways(self):
        srv = self.dsn_server(start=False, route="dsn.test [%s]:%d" % (pfx.PF_IP, self.port))
        pf = self.start_postfix(srv.port)
        srv.start()
        # Postfix -> postino
        with smtplib.SMTP(pfx.PF_IP, self.port, timeout=20) as s:
            s.ehlo("client.test")
            self.assertTrue(s.has_extn("smtputf8"))
            self.assertEqual(s.send_message(utf8_message(JU + "@example.test", "t51 in \u00fcber"),
                                            "\u00e5sa@example.test", [JU + "@example.test"]), {})
        raws = lib.wait_for(lambda: lib.maildir_messages(srv.data, "example.test", JU), 30,
                            what=lambda: "the message from Postfix; Postfix log:\n%s\npostino "
                            "log:\n%s" % (pf.log()[-3000:], srv.log_tail(30)))
        msg = email.message_from_string(raws[0].decode("utf-8"), policy=email.policy.SMTPUTF8)
        self.assertEqual(msg["Subject"], "t51 in \u00fcber")
        self.assertNotIn("SMTPUTF8 is required", pf.log())
        # postino -> Postfix
        lib.send_message(srv.port, "\u00e5sa@example.test", [JU + "@dsn.test"],
                         utf8_message(JU + "@dsn.test", "t51 out \u00fcber").as_bytes(),
                         mail_options=["SMTPUTF8"])
        lib.wait_for(lambda: len(pf.maildir("juergen")) == 1, 30,
                     what=lambda: "delivery at Postfix; its log:\n%s\npostino log:\n%s"
                     % (pf.log()[-3000:], srv.log_tail(30)))
        with open(pf.maildir("juergen")[0], "rb") as f:
            got = email.message_from_string(f.read().decode("utf-8"), policy=email.policy.SMTPUTF8)
        self.assertEqual(got["Subject"], "t51 out \u00fcber")
        self.assertTrue(self.log_lines(srv, "to=<%s@dsn.test>" % JU, "status=sent"), srv.log_tail(30))


if __name__ == "__main__":
    unittest.main()
