"""
lib_queuegen: writes N valid queue files straight into DATA_DIR/queue/XX/ID
(docs/queue-format.md, as mail/envelope.c's envelope_format_head writes
them), for the big-queue tests and the benchmarks: a queue of 100,000
messages in a few seconds, with no server and no SMTP.

    ids = lib_queuegen.generate(srv.data, 100000, state="deferred", attempts=3,
                                next_attempt_ms=now_ms + 3600000,
                                last_reply="451 4.4.1 peer down",
                                rcpts=lambda i: ["u%d@d%d.test" % (i, i % 100)])

Each message has the same head fields but its id and recipients; its
content is a small RFC 5322 message (or the bytes given). Files are written
with plain open/write (no fsync: tests only), mode 0600 in directories of
mode 0700, owned like DATA_DIR/queue (the server runs as its run_as user:
start it once before, so that it made DATA_DIR; else the owner of DATA_DIR
is taken). Ids are 16 upper-case hex digits: TAG (8 digits) then the
message number, so their last two digits spread over the 256 directories
as the server's own ids do, and a TAG far from the clock's seconds never
meets an id the server makes.
"""
import os
import re
import time

STATUSES = ("pending", "deferred")
DEFAULT_TAG = 0x0000B16C
UNSAFE = re.compile(r"[^!-$&-~]")   # what a token must escape: outside '!'..'~', and '%'


def token(value):
    """One field as the queue file holds it: '-' for None or empty, '%2D' for
    '-', bytes outside '!'..'~' and '%' itself as %XX (upper-case hex)."""
    if value is None or value == "":
        return "-"
    if value == "-":
        return "%2D"
    if not UNSAFE.search(value):
        return value
    out = []
    for b in value.encode("utf-8"):
        if 0x20 < b < 0x7f and b != 0x25:
            out.append(chr(b))
        else:
            out.append("%%%02X" % b)
    return "".join(out)


def rcpt_line(addr, status="pending", attempts=0, next_attempt_ms=0, last_reply=None,
              notify=0, orcpt=None):
    """rcpt ADDR NOTIFY ORCPT PARENT STATUS ATTEMPTS NEXT DSN_SENT REMOTE_MTA LAST_REPLY TLS"""
    if status not in STATUSES:
        raise ValueError("status must be one of %s" % (STATUSES,))
    return "rcpt %s %d %s -1 %s %d %d 0 - %s -\n" % (
        token(addr), notify, token(orcpt), status, attempts, max(0, next_attempt_ms),
        token(last_reply))


def default_content(qid, sender, rcpts):
    return ("Received: from generator (localhost [127.0.0.1])\r\n"
            "\tby postino.test with ESMTP id %s\r\n"
            "From: <%s>\r\nTo: <%s>\r\nSubject: queued %s\r\n"
            "Message-ID: <%s@generator.test>\r\n\r\n"
            "A generated message.\r\n" % (qid, sender, rcpts[0], qid, qid)).encode()


def file_bytes(qid, sender, rcpts, arrival_ms, content, status="pending", attempts=0,
               next_attempt_ms=0, last_reply=None, hold=False):
    """The bytes of one queue file (head, content, end; no records after it)."""
    head = ["postino-queue 1\n", "id %s\n" % qid, "arrival %d\n" % arrival_ms,
            "sender %s\n" % token(sender), "ret -\n", "envid -\n", "body -\n",
            "helo generator.test\n", "client 127.0.0.1\n", "auth -\n",
            "hold %d\n" % (1 if hold else 0)]
    for addr in rcpts:
        head.append(rcpt_line(addr, status, attempts, next_attempt_ms, last_reply))
    head.append("size %020d\ndata\n" % len(content))
    return "".join(head).encode() + content + b"end\n"


def queue_owner(data_dir):
    """(uid, gid) the queue belongs to: DATA_DIR/queue's, else DATA_DIR's."""
    for path in (os.path.join(data_dir, "queue"), data_dir):
        if os.path.isdir(path):
            st = os.stat(path)
            return st.st_uid, st.st_gid
    raise FileNotFoundError("no data_dir %s: start the server once first" % data_dir)


def make_dirs(data_dir, owner):
    """DATA_DIR/queue and its 256 subdirectories, mode 0700, owned by owner."""
    qdir = os.path.join(data_dir, "queue")
    dirs = [qdir] + [os.path.join(qdir, "%02X" % i) for i in range(256)]
    chown = os.geteuid() == 0
    for d in dirs:
        if not os.path.isdir(d):
            os.mkdir(d, 0o700)
            if chown:
                os.chown(d, *owner)
    return qdir


def make_id(tag, i):
    return "%08X%08X" % (tag & 0xFFFFFFFF, i & 0xFFFFFFFF)


def generate(data_dir, n, sender="gen@sender.test", rcpts=None, state="pending", attempts=0,
             next_attempt_ms=0, last_reply=None, arrival_ms=None, content=None,
             tag=DEFAULT_TAG, first=0):
    """Writes n queue files; returns their ids in order. rcpts(i) gives message i's
    recipients (default one at domain d<i % 100>.test); arrival_ms the arrival (default
    now, minus one ms per message so that they differ); content bytes (CRLF) or None."""
    if rcpts is None:
        rcpts = lambda i: ["user%d@d%d.test" % (i, i % 100)]  # noqa: E731
    if state != "deferred":
        attempts, next_attempt_ms, last_reply = 0, 0, None
    now_ms = int(time.time() * 1000)
    owner = queue_owner(data_dir)
    qdir = make_dirs(data_dir, owner)
    chown = os.geteuid() == 0 and (owner[0] != os.geteuid() or owner[1] != os.getegid())
    ids = []
    for i in range(first, first + n):
        qid = make_id(tag, i)
        to = rcpts(i)
        body = content if content is not None else default_content(qid, sender, to)
        arrival = arrival_ms if arrival_ms is not None else now_ms - (first + n - i)
        data = file_bytes(qid, sender, to, arrival, body, state, attempts, next_attempt_ms,
                          last_reply)
        path = os.path.join(qdir, qid[-2:], qid)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            os.write(fd, data)
            if chown:
                os.fchown(fd, *owner)
        finally:
            os.close(fd)
        ids.append(qid)
    return ids
