#!/usr/bin/python3
"""dsn_check: validates the sample notices test_dsn writes (DSN_SAMPLES_DIR) with
Python's own mail parser (email, policy=email.policy.default), independently of
postino's code.

Usage: /usr/bin/python3 tests/unit/dsn_check.py DIR
Each DIR/NAME--KIND.eml is one notice; KIND is the expected type of the third
part: "rfc822" (message/rfc822) or "headers" (text/rfc822-headers). Checks:
CRLF line ends and lines within 998 octets; no defect in any part or header;
multipart/report; report-type=delivery-status with exactly three parts;
text/plain, then message/delivery-status whose blocks parse (per-message
fields, then one block per recipient, in RFC 3464 order, Status class
agreeing with Action), then the original of the expected type.
Exit status 0 if every sample passes.
"""
import email
import email.policy
import os
import re
import sys

PER_MESSAGE = ["original-envelope-id", "reporting-mta", "dsn-gateway",
               "received-from-mta", "arrival-date"]
PER_RCPT = ["original-recipient", "final-recipient", "action", "status",
            "remote-mta", "diagnostic-code", "last-attempt-date", "final-log-id",
            "will-retry-until"]
CLASSES = {"failed": "45", "delayed": "4", "delivered": "2", "relayed": "2", "expanded": "2"}


def check_lines(raw):
    body = raw
    assert raw.endswith(b"\r\n"), "does not end with CRLF"
    for i, line in enumerate(body.split(b"\r\n")[:-1]):
        assert b"\r" not in line and b"\n" not in line, f"bare CR/LF in line {i + 1}"
        assert len(line) <= 998, f"line {i + 1} is {len(line)} octets"


def check_defects(msg):
    for part in msg.walk():
        assert not part.defects, f"{part.get_content_type()}: {part.defects}"
        for name, value in part.items():
            defects = getattr(value, "defects", ())
            assert not defects, f"header {name}: {defects}"


def check_order(fields, order, what):
    names = [k.lower() for k in fields.keys()]
    known = [n for n in names if n in order]
    assert known == sorted(known, key=order.index), f"{what} order: {names}"
    assert len(set(known)) == len(known), f"{what} repeats a field: {names}"


def check_status_part(part):
    blocks = part.get_payload()
    assert isinstance(blocks, list) and len(blocks) >= 2, "delivery-status blocks"
    first, rcpts = blocks[0], blocks[1:]
    check_order(first, PER_MESSAGE, "per-message")
    assert re.fullmatch(r"dns; \S+", str(first["Reporting-MTA"])), first["Reporting-MTA"]
    for r in rcpts:
        check_order(r, PER_RCPT, "per-recipient")
        for req in ("Final-Recipient", "Action", "Status"):
            assert r[req] is not None, f"missing {req}"
        assert str(r["Final-Recipient"]).startswith("rfc822;"), r["Final-Recipient"]
        action = str(r["Action"])
        status = str(r["Status"])
        assert action in CLASSES, action
        assert re.fullmatch(r"[245]\.\d{1,3}\.\d{1,3}", status), status
        assert status[0] in CLASSES[action], f"{action} with {status}"
        if r["Will-Retry-Until"] is not None:
            assert action == "delayed"
    return len(rcpts)


def check_sample(path):
    kind = os.path.basename(path).rsplit("--", 1)[1].split(".")[0]
    expect = {"rfc822": "message/rfc822", "headers": "text/rfc822-headers"}[kind]
    with open(path, "rb") as f:
        raw = f.read()
    check_lines(raw)
    msg = email.message_from_bytes(raw, policy=email.policy.default)
    check_defects(msg)
    for h in ("Date", "From", "To", "Subject", "Message-ID", "MIME-Version", "Auto-Submitted"):
        assert msg[h] is not None, f"missing {h}"
        assert len(msg.get_all(h)) == 1, f"{h} repeated"
    assert msg["Date"].datetime is not None
    assert msg["From"].addresses[0].username == "MAILER-DAEMON"
    assert str(msg["Auto-Submitted"]) == "auto-replied"
    assert msg.is_multipart(), "not multipart"
    assert msg.get_content_type() == "multipart/report"
    assert msg.get_param("report-type") == "delivery-status"
    parts = msg.get_payload()
    assert len(parts) == 3, f"{len(parts)} parts"
    assert parts[0].get_content_type() == "text/plain"
    assert parts[0].get_content_charset() == "us-ascii"
    assert parts[1].get_content_type() == "message/delivery-status"
    n = check_status_part(parts[1])
    assert parts[2].get_content_type() == expect, parts[2].get_content_type()
    if expect == "message/rfc822":
        inner = parts[2].get_payload()
        assert isinstance(inner, list) and len(inner) == 1
    boundary = msg.get_boundary().encode()
    assert raw.count(boundary) == 5, "boundary occurs inside a part"  # header + 3 + close
    if msg["In-Reply-To"] is not None:
        assert str(msg["In-Reply-To"]) == str(msg["References"])
    return n


def main():
    d = sys.argv[1] if len(sys.argv) > 1 else os.environ.get("DSN_SAMPLES_DIR", "")
    names = sorted(n for n in os.listdir(d) if n.endswith(".eml"))
    assert names, f"no samples in {d}"
    failed = 0
    for name in names:
        try:
            n = check_sample(os.path.join(d, name))
            print(f"ok   {name} ({n} recipient{'s' if n != 1 else ''})")
        except AssertionError as e:
            failed += 1
            print(f"FAIL {name}: {e}")
    print(f"dsn_check: {len(names) - failed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
