"""
lib_notice: Delivery Status Notifications as a mail reader sees them
(re-exported by lib).

What it owns: parse_notice(), which checks one notice from postino (RFC 3464
in an RFC 6522 multipart/report, RFC 5322, DSN.md 4) as stored in a Maildir
or as a next hop received it, and returns a Notice for the field-by-field
checks; dsn_addr, dsn_date; notices_in (the notices in a Maildir).
"""
import email
import email.policy
import email.utils
import re

from lib_base import HOSTNAME
from lib_maildir import header_value, maildir_files


# --------------------------------------------------------------------------
# Delivery Status Notifications (RFC 3464 in an RFC 6522 multipart/report):
# parse_notice() checks one notice as stored (Maildir copy, or the bytes a
# peer received) and returns a Notice for the field-by-field checks.
DSN_ACTIONS = ("failed", "delayed", "delivered", "relayed", "expanded")
DSN_STATUS_RE = re.compile(r"^([245])\.(\d{1,3})\.(\d{1,3})$")
# RFC 3464 2.2 / 2.3 grammar order (extension fields come after these)
DSN_MSG_ORDER = ("original-envelope-id", "reporting-mta", "dsn-gateway", "received-from-mta",
                 "arrival-date")
DSN_RCPT_ORDER = ("original-recipient", "final-recipient", "action", "status", "remote-mta",
                  "diagnostic-code", "last-attempt-date", "final-log-id", "will-retry-until")
MSGID_RE = re.compile(r"^<[^<>@\s]+@[^<>@\s]+>$")
DATE_RE = re.compile(r"^(?:(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun), )?\d{1,2} "
                     r"(?:Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) \d{4} "
                     r"\d\d:\d\d(?::\d\d)? [+-]\d{4}(?: \([^()]*\))?$")


class Notice:
    """One parsed notice. raw: the bytes as given; msg: the email package's
    message; text: part 1 (str); fields: per-message fields {lower name: value};
    rcpts: per-recipient dicts {lower name: value}; fields_order/rcpt_orders:
    the field names in order; original_type; original: part 3's body (bytes,
    LF line ends); original_headers: part 3's header section (bytes, LF)."""

    def rcpt(self, addr):
        """The per-recipient fields whose Final-Recipient is addr (exactly one)."""
        found = [r for r in self.rcpts if dsn_addr(r.get("final-recipient", "")) == addr.lower()]
        if len(found) != 1:
            raise AssertionError("notice lists Final-Recipient %s %d time(s): %r"
                                 % (addr, len(found), self.rcpts))
        return found[0]

    def final_recipients(self):
        return sorted(dsn_addr(r["final-recipient"]) for r in self.rcpts)

    def actions(self):
        return sorted(set(r["action"].lower() for r in self.rcpts))


def dsn_addr(value):
    """"rfc822; bob@x" -> "bob@x" (lower case)."""
    t, semi, a = value.partition(";")
    if not semi or t.strip().lower() != "rfc822":
        raise AssertionError("not an rfc822-typed address: %r" % value)
    return a.strip().lower()


def dsn_date(value, what):
    """Parses an RFC 5322 date (a notice's Date, Arrival-Date, ...): aware datetime."""
    if not DATE_RE.match(value.strip()):
        raise AssertionError("%s: not an RFC 5322 date-time: %r" % (what, value))
    try:
        d = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError) as e:
        raise AssertionError("%s: not an RFC 5322 date: %r (%s)" % (what, value, e))
    if d is None or d.tzinfo is None:
        raise AssertionError("%s: date without a zone: %r" % (what, value))
    return d


def _check_order(names, order, what):
    pos = [order.index(n) for n in names if n in order]
    if pos != sorted(pos):
        raise AssertionError("%s: fields not in RFC 3464 order: %r" % (what, names))
    known = [i for i, n in enumerate(names) if n in order]
    ext = [i for i, n in enumerate(names) if n not in order]
    if known and ext and min(ext) < max(known):
        raise AssertionError("%s: an extension field before an RFC 3464 field: %r" % (what, names))
    if len(set(names)) != len(names):
        raise AssertionError("%s: a field is repeated: %r" % (what, names))


def _raw_parts(raw, boundary):
    """The raw body parts (header + body, LF line ends) of a multipart between
    its boundaries: [bytes]."""
    data = raw.replace(b"\r\n", b"\n")
    delim = b"\n--" + boundary.encode("ascii")
    pieces = data.split(delim)
    if len(pieces) < 3:
        raise AssertionError("boundary %r not found" % boundary)
    out = []
    for p in pieces[1:]:
        if p.startswith(b"--"):
            break
        nl = p.find(b"\n")
        if nl < 0 or p[:nl].strip(b" \t"):
            raise AssertionError("junk after a boundary: %r" % p[:80])
        out.append(p[nl + 1:])
    else:
        raise AssertionError("no closing boundary")
    return out


def parse_notice(raw, sender, hostname=HOSTNAME, stored=True):
    """Checks raw as one notice from postino to sender (RFC 3464 / RFC 6522 /
    RFC 5322 / DSN.md 4) and returns a Notice. stored: raw is a Maildir copy
    (Return-Path: <> first, then postino's Received line); else the bytes a
    next hop received (Received line first, CRLF). Raises AssertionError."""
    lines = raw.split(b"\n")
    for n, l in enumerate(lines):
        if len(l.rstrip(b"\r")) > 998:
            raise AssertionError("notice line %d is %d octets (over 998)" % (n + 1, len(l)))
    if not stored and raw.replace(b"\r\n", b"").find(b"\n") >= 0:
        raise AssertionError("bare LF in a notice on the wire")
    text_lines = raw.replace(b"\r\n", b"\n").decode("utf-8", "replace").split("\n")
    first = 0
    if stored:
        if text_lines[0] != "Return-Path: <>":
            raise AssertionError("stored notice does not start with Return-Path: <>: %r"
                                 % text_lines[0])
        first = 1
    if not re.match(r"^Received: by %s \(postino\) id [A-Za-z0-9]+;" % re.escape(hostname),
                    text_lines[first]):
        raise AssertionError("no 'Received: by %s (postino) id NID' line: %r"
                             % (hostname, text_lines[first]))
    msg = email.message_from_bytes(raw, policy=email.policy.default)
    for part in msg.walk():
        if part.defects:
            raise AssertionError("defects in %s: %r" % (part.get_content_type(), part.defects))
    nt = Notice()
    nt.raw, nt.msg = raw, msg
    if msg.get_content_type() != "multipart/report":
        raise AssertionError("Content-Type %r" % msg.get("Content-Type"))
    if msg.get_param("report-type") != "delivery-status":
        raise AssertionError("report-type %r" % msg.get_param("report-type"))
    if msg.get("MIME-Version", "").strip() != "1.0":
        raise AssertionError("MIME-Version %r" % msg.get("MIME-Version"))
    for name in ("Date", "From", "To", "Subject", "Message-ID", "Auto-Submitted",
                 "MIME-Version", "Content-Type"):
        if len(msg.get_all(name) or []) != 1:
            raise AssertionError("header %s appears %d times" % (name, len(msg.get_all(name) or [])))
    nt.date = dsn_date(header_value(raw.replace(b"\r\n", b"\n"), "Date") or "", "Date")
    froms = email.utils.getaddresses([str(msg["From"])])
    if [a.lower() for _, a in froms] != [("MAILER-DAEMON@%s" % hostname).lower()]:
        raise AssertionError("From %r" % str(msg["From"]))
    tos = email.utils.getaddresses([str(msg["To"])])
    if [a.lower() for _, a in tos] != [sender.lower()]:
        raise AssertionError("To %r, expected <%s>" % (str(msg["To"]), sender))
    if str(msg["Auto-Submitted"]).strip().lower() != "auto-replied":
        raise AssertionError("Auto-Submitted %r" % str(msg["Auto-Submitted"]))
    if not MSGID_RE.match(str(msg["Message-ID"]).strip()):
        raise AssertionError("Message-ID %r" % str(msg["Message-ID"]))
    nt.subject = str(msg["Subject"])
    parts = msg.get_payload()
    if not isinstance(parts, list) or len(parts) != 3:
        raise AssertionError("%s part(s), expected 3" % (len(parts) if isinstance(parts, list) else "no"))
    types = [p.get_content_type() for p in parts]
    if types[:2] != ["text/plain", "message/delivery-status"] or \
            types[2] not in ("message/rfc822", "text/rfc822-headers"):
        raise AssertionError("part types %r" % types)
    nt.original_type = types[2]
    nt.text = parts[0].get_payload(decode=True).decode("ascii")
    # part 2: the blocks as the email package split them, and the raw text
    raws = _raw_parts(raw, msg.get_boundary())
    if len(raws) != 3:
        raise AssertionError("%d raw parts" % len(raws))
    ds_raw = raws[1].split(b"\n\n", 1)[1]
    if any(b >= 0x80 for b in ds_raw):
        raise AssertionError("8-bit octets in message/delivery-status")
    blocks = parts[1].get_payload()
    if not isinstance(blocks, list) or len(blocks) < 2:
        raise AssertionError("delivery-status: %r blocks" % blocks)
    for b in blocks:
        if b.defects:
            raise AssertionError("delivery-status block defects %r" % b.defects)

    def fields(block, what):
        names = [k.lower() for k in block.keys()]
        _check_order(names, DSN_MSG_ORDER if what == "per-message" else DSN_RCPT_ORDER, what)
        return {k.lower(): " ".join(str(v).split()) for k, v in block.items()}, names
    nt.fields, nt.fields_order = fields(blocks[0], "per-message")
    if nt.fields.get("reporting-mta", "").replace(" ", "").lower() != "dns;" + hostname:
        raise AssertionError("Reporting-MTA %r" % nt.fields.get("reporting-mta"))
    for k in ("final-recipient", "action", "status"):
        if k in nt.fields:
            raise AssertionError("per-recipient field %s in the per-message block" % k)
    if "arrival-date" in nt.fields:
        nt.arrival = dsn_date(nt.fields["arrival-date"], "Arrival-Date")
    nt.rcpts, nt.rcpt_orders = [], []
    for i, b in enumerate(blocks[1:]):
        f, order = fields(b, "recipient block %d" % (i + 1))
        for k in ("final-recipient", "action", "status"):
            if k not in f:
                raise AssertionError("recipient block %d lacks %s: %r" % (i + 1, k, f))
        dsn_addr(f["final-recipient"])
        action = f["action"].lower()
        if action not in DSN_ACTIONS:
            raise AssertionError("Action %r" % f["action"])
        m = DSN_STATUS_RE.match(f["status"])
        if not m:
            raise AssertionError("Status %r" % f["status"])
        want = {"failed": "45", "delayed": "4"}.get(action, "2")
        if m.group(1) not in want:
            raise AssertionError("Status %s does not fit Action %s" % (f["status"], action))
        if "will-retry-until" in f and action != "delayed":
            raise AssertionError("Will-Retry-Until in a %s block" % action)
        for k in ("last-attempt-date", "will-retry-until"):
            if k in f:
                dsn_date(f[k], k)
        if "diagnostic-code" in f:
            dtype, semi, dtext = f["diagnostic-code"].partition(";")
            if not semi or not dtype.strip() or not dtext.strip():
                raise AssertionError("Diagnostic-Code %r" % f["diagnostic-code"])
            if dtype.strip().lower() == "smtp" and not re.match(r"^\s*[245]\d\d\b", dtext):
                raise AssertionError("smtp Diagnostic-Code without a reply code: %r"
                                     % f["diagnostic-code"])
        for k in ("remote-mta", "original-recipient"):
            if k in f and ";" not in f[k]:
                raise AssertionError("%s without a type: %r" % (k, f[k]))
        nt.rcpts.append(f)
        nt.rcpt_orders.append(order)
    for r in nt.rcpts:
        if "<%s>" % dsn_addr(r["final-recipient"]) not in nt.text.lower():
            raise AssertionError("text part does not name %s:\n%s" % (r["final-recipient"], nt.text))
    # part 3
    head3, _, body3 = raws[2].partition(b"\n\n")
    if body3.endswith(b"\n"):
        body3 = body3[:-1]     # the line end before the closing delimiter
    nt.original = body3
    nt.original_headers = body3.split(b"\n\n", 1)[0] + b"\n"
    if nt.original_type == "text/rfc822-headers" and b"\n\n" in body3.rstrip(b"\n"):
        raise AssertionError("text/rfc822-headers holds more than a header section")
    cte = (parts[2].get("Content-Transfer-Encoding") or "7bit").strip().lower()
    if any(b >= 0x80 for b in body3) and cte != "8bit":
        raise AssertionError("8-bit third part with Content-Transfer-Encoding %s" % cte)
    return nt


def notices_in(data_dir, domain, local):
    """The messages in DATA/mail/DOMAIN/LOCAL/new that are multipart/report."""
    out = []
    for p in maildir_files(data_dir, domain, local):
        with open(p, "rb") as f:
            raw = f.read()
        if re.search(rb"(?im)^content-type:\s*multipart/report", raw.split(b"\n\n", 1)[0]):
            out.append(raw)
    return out
