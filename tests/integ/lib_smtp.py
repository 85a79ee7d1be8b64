"""
lib_smtp: the SMTP client side of the integration tests (re-exported by lib).

What it owns: Reply (one SMTP reply, multi-line included) and the reply
checks (expect, expect_smtplib, check_esc: an RFC 3463 code whose class
matches; queue_id_of, padded_command); Raw, a raw-socket SMTP dialogue (send
bytes, read one full reply) for the tests where smtplib would hide the bytes;
and the smtplib conveniences smtp_client, make_message, send_message.
"""
import email.message
import email.policy
import re
import smtplib
import socket


# --------------------------------------------------------------------------
# Replies

ESC_RE = re.compile(r"^([245])\.(\d{1,3})\.(\d{1,3})$")
QUEUED_RE = re.compile(r"^250 2\.0\.0 Ok: queued as ([A-Za-z0-9]+)$")


class Reply:
    """One SMTP reply: code (int), lines (text after "NNN-"/"NNN "), raw lines."""

    def __init__(self, raw_lines):
        self.raw_lines = raw_lines
        self.code = int(raw_lines[0][:3])
        self.lines = [l[4:] for l in raw_lines]

    @property
    def text(self):
        return self.lines[-1]

    @property
    def esc(self):
        """The enhanced status code of the last line, or None."""
        word = self.text.split(" ", 1)[0]
        return word if ESC_RE.match(word) else None

    def __str__(self):
        return " | ".join(self.raw_lines)

    __repr__ = __str__


def check_esc(code, text, where=""):
    """Asserts text starts with an RFC 3463 code whose class matches code."""
    word = text.split(" ", 1)[0]
    m = ESC_RE.match(word)
    if not m:
        raise AssertionError("%sreply %d %r has no enhanced status code" % (where, code, text))
    if m.group(1) != str(code)[0]:
        raise AssertionError("%sreply %d %r: enhanced code class differs" % (where, code, text))


def expect(reply, code, esc=None, text_re=None, enhanced=True):
    """Asserts a Reply has this code, an enhanced status code (for 2xx/4xx/5xx;
    equal to esc when given), and its last line matches text_re when given.
    enhanced=False: the reply may lack enhanced codes (greeting, HELO/EHLO 250)."""
    if reply is None:
        raise AssertionError("expected %d, connection closed" % code)
    if reply.code != code:
        raise AssertionError("expected %d%s, got %s" % (code, " " + esc if esc else "", reply))
    if enhanced and str(code)[0] in "245":
        for l in reply.lines:
            check_esc(reply.code, l)
    if esc is not None and reply.esc != esc:
        raise AssertionError("expected %d %s, got %s" % (code, esc, reply))
    if text_re is not None and not re.search(text_re, reply.text):
        raise AssertionError("reply %s does not match %r" % (reply, text_re))
    return reply


def expect_smtplib(result, code, esc=None):
    """Same as expect() for an smtplib (code, bytes) pair."""
    got_code, msg = result
    text = msg.decode("utf-8", "replace") if isinstance(msg, bytes) else msg
    if got_code != code:
        raise AssertionError("expected %d %s, got %d %s" % (code, esc or "", got_code, text))
    lines = text.split("\n")
    check_esc(got_code, lines[-1])
    if esc is not None and lines[-1].split(" ", 1)[0] != esc:
        raise AssertionError("expected %d %s, got %d %s" % (code, esc, got_code, text))
    return text


def queue_id_of(reply_text):
    """The ID of "250 2.0.0 Ok: queued as ID" (a Reply or the smtplib text)."""
    line = reply_text if isinstance(reply_text, str) else reply_text.raw_lines[-1]
    if not line.startswith("250 "):
        line = "250 " + line
    m = QUEUED_RE.match(line)
    if not m:
        raise AssertionError("not a 'queued as' reply: %r" % line)
    return m.group(1)


def padded_command(head, tail, octets):
    """head, spaces, tail: a command line of exactly octets octets once the
    CRLF is added (RFC 5321 and RFC 3461 4 count the CRLF in a line's length)."""
    pad = octets - 2 - len(head) - len(tail)
    assert pad >= 1, (head, tail, octets)
    return head + " " * pad + tail


# --------------------------------------------------------------------------
# Raw-socket dialogue


class Raw:
    """A raw SMTP connection. Use as a context manager or call close()."""

    def __init__(self, port, host="127.0.0.1", source=None, timeout=10.0, greeting=True):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.settimeout(timeout)
        self.buf = b""
        self.greeting = None
        try:
            if source:
                self.sock.bind((source, 0))
            self.sock.connect((host, port))
            self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            if greeting:
                self.greeting = self.reply()
        except BaseException:
            self.sock.close()
            raise

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass

    def send(self, data):
        if isinstance(data, str):
            data = data.encode("utf-8")
        self.sock.sendall(data)

    def _readline(self):
        """One line (without CRLF) or None at EOF."""
        while b"\n" not in self.buf:
            chunk = self.sock.recv(65536)
            if not chunk:
                if self.buf:
                    line, self.buf = self.buf, b""
                    return line.decode("utf-8", "replace")
                return None
            self.buf += chunk
        line, _, self.buf = self.buf.partition(b"\n")
        if not line.endswith(b"\r"):
            raise AssertionError("server line not ended by CRLF: %r" % line)
        return line[:-1].decode("utf-8", "replace")

    def reply(self):
        """Reads one full reply (multi-line included); None if the server closed."""
        raw = []
        while True:
            line = self._readline()
            if line is None:
                if raw:
                    raise AssertionError("connection closed inside a reply: %r" % raw)
                return None
            if len(line) < 3 or not line[:3].isdigit() or (len(line) > 3 and line[3] not in " -"):
                raise AssertionError("malformed reply line %r" % line)
            if raw and line[:3] != raw[0][:3]:
                raise AssertionError("reply code changes inside a reply: %r then %r" % (raw, line))
            raw.append(line)
            if len(line) == 3 or line[3] == " ":
                return Reply(raw)

    def cmd(self, line):
        """Sends line + CRLF, returns the reply."""
        if isinstance(line, str):
            line = line.encode("utf-8")
        self.send(line + b"\r\n")
        return self.reply()

    def expect_closed(self, timeout=5.0):
        """Asserts the server closes the connection (EOF, or a reset) within timeout
        without sending anything else."""
        self.sock.settimeout(timeout)
        try:
            data = self.buf + self.sock.recv(65536)
        except ConnectionResetError:
            return
        except socket.timeout:
            raise AssertionError("server did not close the connection within %.1fs" % timeout)
        if data:
            raise AssertionError("expected the connection to close, got %r" % data)

    def ehlo(self, name="client.test"):
        return expect(self.cmd("EHLO " + name), 250, enhanced=False)

    def transaction(self, sender, rcpts, body, esmtp=True):
        """EHLO (once) is the caller's job. MAIL, RCPTs, DATA, body (bytes,
        CRLF lines, dot-stuffed by the caller), final dot. Returns the final Reply."""
        expect(self.cmd("MAIL FROM:<%s>" % sender), 250, "2.1.0")
        for r in rcpts:
            expect(self.cmd("RCPT TO:<%s>" % r), 250, "2.1.5")
        expect(self.cmd("DATA"), 354)
        if isinstance(body, str):
            body = body.encode("utf-8")
        if not body.endswith(b"\r\n"):
            body += b"\r\n"
        self.send(body + b".\r\n")
        return self.reply()


def smtp_client(port, source=None, timeout=15.0):
    """An smtplib.SMTP connected to 127.0.0.1:port (greeting read), local name client.test."""
    return smtplib.SMTP("127.0.0.1", port, local_hostname="client.test", timeout=timeout,
                        source_address=(source, 0) if source else None)


def make_message(subject, body="Hello.\r\n", sender="alice@sender.test", to="bob@example.test",
                 extra_headers=(), message_id=None):
    """A small CRLF message (bytes, not dot-stuffed)."""
    lines = ["From: <%s>" % sender, "To: <%s>" % to, "Subject: %s" % subject,
             "Message-ID: <%s>" % (message_id or (subject.replace(" ", "-") + "@client.test")),
             "Date: Mon, 24 Nov 2025 08:00:00 +0000"]
    lines.extend(extra_headers)
    msg = "\r\n".join(lines).encode() + b"\r\n\r\n"
    if isinstance(body, str):
        body = body.encode("utf-8")
    return msg + body


def send_message(port, sender, rcpts, msg, source=None, mail_options=(), rcpt_options=()):
    """Sends one message with smtplib (EHLO, dot-stuffing done by smtplib).
    Returns the queue id of the 250 reply; fails on any other reply."""
    with smtp_client(port, source) as s:
        code, _ = s.ehlo()
        if code != 250:
            raise AssertionError("EHLO got %d" % code)
        expect_smtplib(s.mail(sender, list(mail_options)), 250, "2.1.0")
        for r in rcpts:
            expect_smtplib(s.rcpt(r, list(rcpt_options)), 250, "2.1.5")
        text = expect_smtplib(s.data(msg), 250, "2.0.0")
        return queue_id_of(text)


def utf8_message(from_, to, subject, body):
    """An email.message.EmailMessage with UTF-8 headers and body (RFC 6532), for smtplib's
    send_message with SMTPUTF8."""
    m = email.message.EmailMessage(policy=email.policy.SMTPUTF8)
    m["From"] = from_
    m["To"] = to
    m["Subject"] = subject
    m.set_content(body)
    return m
