"""
t_49_chunking: CHUNKING and BINARYMIME (RFC 3030), server and client.

Server (raw sockets; the submission listener too): EHLO offers CHUNKING and
BINARYMIME; BDAT n [LAST] takes exactly n octets, however they arrive (split at every size, byte by
byte, pipelined with the next BDAT or QUIT), and nothing inside a chunk is
read as a command; non-LAST chunks get "250 2.0.0 ... n octets received",
LAST gets "250 2.0.0 Ok: queued as ID" (the same commit and log line as
DATA); the delivered Maildir file is the octets sent (LF line ends, as for
DATA) after the server's Return-Path and Received headers. BDAT 0 LAST
ends a message. Refusals keep the session in step (the chunk is still
read): BDAT without MAIL/RCPT 503 5.5.1; over max_message_size 552 5.3.4;
after a failed BDAT 503 5.5.1 until RSET; a malformed BDAT 501 5.5.4, and
421 plus close when its size cannot be read. DATA after BDAT, DATA in a
BODY=BINARYMIME transaction and RCPT after BDAT get 503 5.5.1. The smuggling
cases of t_05 sent by BDAT: the bare CR / LF rule of DATA holds (550 5.5.2,
nothing delivered, nothing read as a command); BINARYMIME content may hold
any octet.

Client (scripted peers): a next hop offering CHUNKING gets one "BDAT n LAST"
with the queue file's content as it is (no dot-stuffing); one without it gets
DATA as before; a BINARYMIME message to a hop without BINARYMIME (or without
CHUNKING) is not sent and its failure notice has Status 5.6.3.
"""
import base64
import re
import unittest
import urllib.request

import lib
import peers
from lib import expect
from peers import LOCAL_SENDER

SENDER = "alice@sender.test"
# dots at line starts, a CRLF.CRLF inside and a command look-alike: all content for BDAT
TRICKY = (b"Subject: t49 %s\r\nFrom: <alice@sender.test>\r\n\r\n"
          b".leading dot\r\n..two dots\r\n.\r\nMAIL FROM:<evil@attacker.test>\r\n"
          b"after\r\n")


def server_headers_end(raw):
    """The offset after Return-Path, the Received header and the Delivered-To line the
    server added."""
    lines = raw.split(b"\n")
    assert lines[0].startswith(b"Return-Path: "), raw[:200]
    assert lines[1].startswith(b"Received: "), raw[:200]
    i = 2
    while lines[i].startswith((b"\t", b" ")):
        i += 1
    assert lines[i].startswith(b"Delivered-To: "), raw[:300]
    return sum(len(l) + 1 for l in lines[:i + 1])


def content_of(raw):
    """The delivered message without the server's two headers."""
    return raw[server_headers_end(raw):]


def bdat(c, data, last=False, extra=b""):
    """Sends "BDAT len(data) [LAST]", the octets and extra (pipelined); returns the reply."""
    c.send(b"BDAT %d%s\r\n" % (len(data), b" LAST" if last else b"") + data + extra)
    return c.reply()


def bdat_stream(msg, size, last=True):
    """msg as BDAT chunks of size octets (the last one marked LAST)."""
    out = b""
    chunks = [msg[i:i + size] for i in range(0, len(msg), size)] or [b""]
    for k, c in enumerate(chunks):
        tail = b" LAST" if last and k == len(chunks) - 1 else b""
        out += b"BDAT %d%s\r\n" % (len(c), tail) + c
    return out


class ChunkingServer(lib.SharedServerTestCase):

    def open_tx(self, rcpt, body=None):
        c = self.raw(self.srv)
        c.ehlo()
        expect(c.cmd("MAIL FROM:<%s>%s" % (SENDER, " BODY=" + body if body else "")), 250, "2.1.0")
        expect(c.cmd("RCPT TO:<%s>" % rcpt), 250, "2.1.5")
        return c

    def assert_delivered(self, local, msg):
        [raw] = self.srv.wait_mail(local)
        self.assertEqual(content_of(raw), msg.replace(b"\r\n", b"\n"))
        return raw

    def barrier(self, *locals_):
        """Good messages to each mailbox, awaited; then each must hold only that one."""
        lib.mailbox_barrier(self.srv, "t49", locals_)

    # -- EHLO, one chunk, many chunks

    def test_ehlo_keywords(self):
        c = self.raw(self.srv)
        r = c.ehlo()
        keywords = [l.split(" ")[0] for l in r.lines[1:]]
        self.assertIn("CHUNKING", keywords)
        self.assertIn("BINARYMIME", keywords)
        self.assertIn("PIPELINING", keywords)

    def test_one_chunk(self):
        msg = TRICKY % b"one"
        c = self.open_tx("one@example.test")
        r = expect(bdat(c, msg, True), 250, "2.0.0")
        qid = lib.queue_id_of(r.text)
        expect(c.cmd("NOOP"), 250, "2.0.0")
        raw = self.assert_delivered("one", msg)
        self.assertIn(("id %s" % qid).encode(), raw[:server_headers_end(raw)])
        # the same "queued" log line as DATA
        lib.wait_for(lambda: [l for l in self.srv.log().splitlines()
                              if qid in l and "queued" in l and "size=" in l],
                     what="the queued log line of " + qid)

    def test_many_chunks(self):
        msg = TRICKY % b"many"
        c = self.open_tx("many@example.test")
        for i in range(0, len(msg), 7):
            part = msg[i:i + 7]
            if i + 7 >= len(msg):
                break
            r = expect(bdat(c, part), 250, "2.0.0")
            self.assertIn("%d octets" % len(part), r.text)
        expect(bdat(c, msg[i:], True), 250, "2.0.0")
        self.assert_delivered("many", msg)

    def test_bdat_zero_last(self):
        msg = TRICKY % b"zero"
        c = self.open_tx("zero@example.test")
        expect(bdat(c, msg), 250, "2.0.0")
        expect(c.cmd("BDAT 0 LAST"), 250, "2.0.0")
        self.assert_delivered("zero", msg)

    def split_all(self, local, bytewise):
        """For every chunk size 1..len+1: a transaction of that many chunks, all
        transactions and the QUIT pipelined on one connection (or byte by byte)."""
        msg = b"Subject: t49 split\r\n\r\n.a\r\n\r\n.\r\nBDAT 3\r\nxyz\r\n"
        stream = b"EHLO client.test\r\n"
        sizes = range(1, len(msg) + 2)
        for size in sizes:
            stream += b"MAIL FROM:<%s>\r\nRCPT TO:<%s@example.test>\r\n" % (
                SENDER.encode(), local.encode())
            stream += bdat_stream(msg, size)
        stream += b"QUIT\r\n"
        c = self.raw(self.srv)
        if bytewise:
            for b in stream:
                c.send(bytes([b]))
        else:
            c.send(stream)
        expect(c.reply(), 250, enhanced=False)
        for size in sizes:
            expect(c.reply(), 250, "2.1.0")
            expect(c.reply(), 250, "2.1.5")
            n = (len(msg) + size - 1) // size
            for k in range(n - 1):
                expect(c.reply(), 250, "2.0.0", text_re=r"%d octets" % size)
            expect(c.reply(), 250, "2.0.0", text_re="queued")
        expect(c.reply(), 221)
        raws = self.srv.wait_mail(local, count=len(sizes))
        for raw in raws:
            self.assertEqual(content_of(raw), msg.replace(b"\r\n", b"\n"))

    def test_split_every_size_pipelined(self):
        self.split_all("split", bytewise=False)

    def test_split_every_size_byte_by_byte(self):
        self.split_all("splitb", bytewise=True)

    # -- limits and sequence

    def test_size_limit(self):
        c = self.open_tx("big@example.test")
        big = b"x" * 120 * 1024   # max_message_size is 100K
        # the octets are read although the size is known to be too big
        expect(bdat(c, big, True), 552, "5.3.4")
        expect(c.cmd("NOOP"), 250, "2.0.0")
        # over the limit in several chunks: the chunk that passes it fails
        expect(c.cmd("MAIL FROM:<%s>" % SENDER), 250, "2.1.0")
        expect(c.cmd("RCPT TO:<big@example.test>"), 250, "2.1.5")
        half = b"y" * 60 * 1024
        expect(bdat(c, half), 250, "2.0.0")
        expect(bdat(c, half), 552, "5.3.4")
        # a pipelined chunk after the failure is read and refused until RSET
        expect(bdat(c, b"hello", True), 503, "5.5.1")
        expect(c.cmd("RSET"), 250, "2.0.0")
        self.barrier("big")

    def test_bdat_without_mail_or_rcpt(self):
        c = self.raw(self.srv)
        expect(bdat(c, b"NOOP"), 503, "5.5.1")                  # before EHLO
        c.ehlo()
        expect(bdat(c, b"QUIT\r\nQUIT\r\n", True), 503, "5.5.1")
        expect(c.cmd("MAIL FROM:<%s>" % SENDER), 250, "2.1.0")
        expect(bdat(c, b"RSET\r\n", True), 503, "5.5.1")       # MAIL but no RCPT
        expect(c.cmd("NOOP"), 250, "2.0.0")                     # still in step
        expect(c.cmd("MAIL FROM:<%s>" % SENDER), 250, "2.1.0")  # the transaction ended
        expect(c.cmd("RCPT TO:<norcpt@example.test>"), 250, "2.1.5")
        msg = TRICKY % b"norcpt"
        expect(bdat(c, msg, True), 250, "2.0.0")
        self.assert_delivered("norcpt", msg)

    def test_data_after_bdat_refused(self):
        msg = TRICKY % b"mixed"
        c = self.open_tx("mixed@example.test")
        expect(bdat(c, msg[:10]), 250, "2.0.0")
        expect(c.cmd("DATA"), 503, "5.5.1")
        expect(c.cmd("RCPT TO:<other@example.test>"), 503, "5.5.1")
        # RFC 3030 2: the transaction is not affected by the refused DATA
        expect(bdat(c, msg[10:], True), 250, "2.0.0")
        self.assert_delivered("mixed", msg)

    def test_binarymime_with_data_refused(self):
        c = self.open_tx("bindata@example.test", body="BINARYMIME")
        expect(c.cmd("DATA"), 503, "5.5.1")
        # binary content (NUL, bare CR and LF, 8-bit) by BDAT is taken as it is
        msg = (b"Subject: t49 binary\r\nContent-Type: application/octet-stream\r\n"
               b"Content-Transfer-Encoding: binary\r\n\r\n\x00\x01\xff\nbare lf\rbare cr\r\n.\r\nend")
        expect(bdat(c, msg, True), 250, "2.0.0")
        self.assert_delivered("bindata", msg)

    def test_malformed_bdat(self):
        c = self.open_tx("badbdat@example.test")
        # the size is readable: the chunk is skipped, the session goes on
        c.send(b"BDAT 5 FIRST\r\nNOOP\r")
        expect(c.reply(), 501, "5.5.4")
        expect(c.cmd("NOOP"), 250, "2.0.0")
        # no readable size: the server cannot find the next command and closes
        c.send(b"BDAT 1x LAST\r\nRSET\r\n")
        expect(c.reply(), 501, "5.5.4")
        expect(c.reply(), 421)
        c.expect_closed()
        self.barrier("badbdat")

    # -- smuggling: t_05's endings inside BDAT content

    def smuggle(self, tag, ending, bytewise):
        rcpt, victim = "o_%s@example.test" % tag, "v_%s@example.test" % tag
        c = self.open_tx(rcpt)
        content = (("From: <alice@sender.test>\r\nTo: <%s>\r\nSubject: t49 outer %s\r\n\r\n"
                    "outer body\r\nline1" % (rcpt, tag)).encode() + ending
                   + ("MAIL FROM:<evil@attacker.test>\r\nRCPT TO:<%s>\r\nDATA\r\n"
                      "Subject: t49 smuggled %s\r\n\r\nsmuggled\r\n.\r\n" % (victim, tag)).encode())
        stream = b"BDAT %d LAST\r\n" % len(content) + content + b"NOOP\r\n"
        if bytewise:
            for b in stream:
                c.send(bytes([b]))
        else:
            c.send(stream)
        expect(c.reply(), 550, "5.5.2")
        expect(c.reply(), 250, "2.0.0")   # the NOOP: nothing of the content was a command
        expect(c.cmd("NOOP"), 250, "2.0.0")
        self.barrier("o_" + tag, "v_" + tag)

    def test_crlf_dot_crlf_is_content(self):
        msg = TRICKY % b"dotcontent" + b"\r\n.\r\nRCPT TO:<v_dot@example.test>\r\nDATA\r\n"
        c = self.open_tx("o_dot@example.test")
        expect(bdat(c, msg, True), 250, "2.0.0")
        expect(c.cmd("NOOP"), 250, "2.0.0")
        self.assert_delivered("o_dot", msg)
        self.barrier("v_dot")


class ChunkingSubmission(lib.SharedServerTestCase):
    """On the submission listener a BDAT message gets the headers DATA gets (RFC 6409 8)."""

    @classmethod
    def server_options(cls):
        cls.sub_port = lib.free_port()
        return dict(users=["sub@example.test:{PLAIN}s3cret", "rcpt@example.test:{PLAIN}x"],
                    extra=["listen submission 127.0.0.1:%d" % cls.sub_port])

    def test_date_and_message_id_added(self):
        c = lib.Raw(self.sub_port)
        self.addCleanup(c.close)
        c.ehlo()
        auth = base64.b64encode(b"\0sub@example.test\0s3cret").decode()
        expect(c.cmd("AUTH PLAIN " + auth), 235, "2.7.0")
        expect(c.cmd("MAIL FROM:<sub@example.test>"), 250, "2.1.0")
        expect(c.cmd("RCPT TO:<rcpt@example.test>"), 250, "2.1.5")
        msg = b"Subject: t49 submission\r\nFrom: <sub@example.test>\r\n\r\nbody\r\n"
        expect(bdat(c, msg[:20]), 250, "2.0.0")
        r = expect(bdat(c, msg[20:], True), 250, "2.0.0")
        qid = lib.queue_id_of(r.text)
        [raw] = self.srv.wait_mail("rcpt")
        head, _, body = raw.partition(b"\n\n")
        self.assertEqual(body, b"body\n")
        self.assertEqual(head.count(b"\nDate: "), 1, head)
        self.assertIn(b"\nMessage-ID: <%s@%s>" % (qid.encode(), lib.HOSTNAME.encode()), head)
        self.assertIn(b"Subject: t49 submission\nFrom: <sub@example.test>\n", head)


def _make(tag, ending, bytewise):
    def test(self):
        self.smuggle("b" + tag + ("_bytewise" if bytewise else ""), ending, bytewise)
    test.__doc__ = "BDAT content with fake ending %r%s" % (ending, " byte by byte" if bytewise else "")
    return test


FAKE_ENDINGS = {
    "lf_dot_lf": b"\n.\n", "lf_dot_crlf": b"\n.\r\n", "cr_dot_lf": b"\r.\n",
    "cr_dot_cr": b"\r.\r", "cr_dot_crlf": b"\r.\r\n", "crlf_dot_lf": b"\r\n.\n",
    "crlf_dot_cr": b"\r\n.\r", "lf_lf_dot_lf": b"\n\n.\n", "crlf_lf_dot_crlf": b"\r\n\n.\r\n",
}
for _tag, _ending in FAKE_ENDINGS.items():
    setattr(ChunkingServer, "test_smuggle_" + _tag, _make(_tag, _ending, False))
    setattr(ChunkingServer, "test_smuggle_" + _tag + "_bytewise", _make(_tag, _ending, True))


EHLO_CHUNKING = ["PIPELINING", "SIZE 10000000", "8BITMIME", "ENHANCEDSTATUSCODES", "DSN",
                 "CHUNKING"]
BINARY = (b"Subject: t49 relay binary\r\nContent-Type: application/octet-stream\r\n"
          b"Content-Transfer-Encoding: binary\r\n\r\n\x00\x01\xfe\xff\nbare lf\rbare cr\r\n"
          b".\r\nend\r\n")


class ChunkingClient(peers.DsnTestCase):

    @classmethod
    def dns_records(cls, dns):
        dns.mx("r.test", "mx.r.test", 10).a("mx.r.test", "127.0.0.2")

    def send_bdat(self, srv, rcpt, msg, body=None, sender=LOCAL_SENDER):
        """Sends msg to postino by one BDAT (BODY=body on MAIL); returns the queue id."""
        with lib.Raw(srv.port) as c:
            c.ehlo()
            expect(c.cmd("MAIL FROM:<%s>%s" % (sender, " BODY=" + body if body else "")),
                   250, "2.1.0")
            expect(c.cmd("RCPT TO:<%s>" % rcpt), 250, "2.1.5")
            r = expect(bdat(c, msg, True), 250, "2.0.0")
            expect(c.cmd("QUIT"), 221)
        return lib.queue_id_of(r.text)

    def received_and_rest(self, data, qid):
        first, rest = peers.strip_first_received(data)
        self.assertTrue(first.startswith("Received:"), first)
        self.assertIn("id %s" % qid, first)
        return rest

    def test_relay_by_bdat_to_a_chunking_peer(self):
        p = self.peer("127.0.0.2", {"ehlo": EHLO_CHUNKING})
        srv = self.dsn_server()
        msg = TRICKY % b"relay bdat"
        qid, _ = self.send(srv, "bob@r.test", msg=msg)
        [t] = p.wait_messages(1)
        self.assertEqual(len(t.chunks), 1)
        self.assertEqual(self.received_and_rest(t.data, qid), msg)
        cmds = p.commands()
        self.assertIn("BDAT %d LAST" % len(t.data), cmds)
        self.assertFalse([x for x in cmds if x.upper() == "DATA"], cmds)
        self.settle(srv)

    def test_relay_by_data_to_a_peer_without_chunking(self):
        p = self.peer("127.0.0.2")
        srv = self.dsn_server()
        msg = TRICKY % b"relay data"
        qid, _ = self.send(srv, "bob@r.test", msg=msg)
        [t] = p.wait_messages(1)
        self.assertEqual(t.chunks, [])
        self.assertEqual(self.received_and_rest(t.data, qid), msg)
        self.assertIn("DATA", p.commands())
        self.assertFalse([x for x in p.commands() if x.upper().startswith("BDAT")])
        self.settle(srv)

    def test_binarymime_to_a_binarymime_peer(self):
        p = self.peer("127.0.0.2", {"ehlo": EHLO_CHUNKING + ["BINARYMIME"]})
        srv = self.dsn_server()
        qid = self.send_bdat(srv, "bob@r.test", BINARY, body="BINARYMIME")
        [t] = p.wait_messages(1)
        self.assertEqual(t.mail_params.get("BODY"), "BINARYMIME")
        self.assertEqual(self.received_and_rest(t.data, qid), BINARY)
        self.settle(srv)

    def test_metrics_and_log_as_for_data(self):
        """A BDAT message counts as received, in the commit histogram, like DATA."""
        mport = lib.free_port()
        srv = self.relay_server(extra=["listen metrics 127.0.0.1:%d" % mport])

        def scrape():
            with urllib.request.urlopen("http://127.0.0.1:%d/metrics" % mport, timeout=10) as r:
                body = r.read().decode()
            return {m.group(1): float(m.group(2)) for m in
                    re.finditer(r"^(postino_messages_received_total|postino_commit_seconds_count)"
                                r"(?:\{\})? (\S+)$", body, re.M)}
        before = scrape()
        msg = TRICKY % b"metrics"
        qid = self.send_bdat(srv, "m@example.test", msg)
        srv.wait_mail("m")
        after = scrape()
        for name in ("postino_messages_received_total", "postino_commit_seconds_count"):
            self.assertEqual(after[name] - before.get(name, 0), 1, (name, before, after))
        [line] = [l for l in srv.log().splitlines() if qid in l and " queued" in l]
        self.assertIn("size=", line)
        self.assertIn("nrcpt=1", line)

    def test_binarymime_kept_in_the_queue_file(self):
        """A deferred BINARYMIME message keeps its body type (queue show) and is
        sent with BODY=BINARYMIME on the retry."""
        p = self.peer("127.0.0.2", {"ehlo": EHLO_CHUNKING + ["BINARYMIME"],
                                    "first_mails": [1, {"rcpt": "451 4.3.0 later"}]})
        srv = self.dsn_server()
        qid = self.send_bdat(srv, "bob@r.test", BINARY, body="BINARYMIME")
        self.wait_status(srv, "bob@r.test", "deferred")
        cp = lib.run_cli(["queue", "-c", srv.conf, "show", qid])
        self.assertEqual(cp.returncode, 0, cp.stderr)
        self.assertIn("BINARYMIME", cp.stdout)
        [t] = p.wait_messages(1, timeout=15)
        self.assertEqual(t.mail_params.get("BODY"), "BINARYMIME")
        self.assertEqual(self.received_and_rest(t.data, qid), BINARY)
        self.settle(srv)

    def check_binary_refused(self, ehlo):
        p = self.peer("127.0.0.2", {"ehlo": ehlo})
        srv = self.dsn_server()
        qid = self.send_bdat(srv, "bob@r.test", BINARY, body="BINARYMIME")
        [n] = self.wait_notices(srv, 1)
        r = n.rcpt("bob@r.test")
        self.assertEqual(r["action"], "failed")
        self.assertEqual(r["status"], "5.6.3")
        self.assertNotIn("diagnostic-code", r, r)   # postino's decision, no server reply
        self.assertIn("BINARYMIME", " ".join(n.text.split()))
        self.assertFalse([c for c in p.commands() if c.upper().startswith("MAIL")], p.commands())
        self.assertTrue([l for l in srv.log().splitlines() if qid in l and "5.6.3" in l],
                        srv.log_tail(20))

    def test_binarymime_to_a_peer_without_binarymime(self):
        self.check_binary_refused(EHLO_CHUNKING)

    def test_binarymime_to_a_peer_without_chunking(self):
        self.check_binary_refused(["PIPELINING", "8BITMIME", "ENHANCEDSTATUSCODES", "DSN",
                                   "BINARYMIME"])


if __name__ == "__main__":
    unittest.main()
