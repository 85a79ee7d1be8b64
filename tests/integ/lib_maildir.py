"""
lib_maildir: reading what postino delivered (re-exported by lib).

What it owns: the Maildir layout DATA/mail/DOMAIN/LOCAL/{new,cur,tmp}
(maildir_path, maildir_files, maildir_messages, all_maildir_files), waiting
for deliveries (wait_maildir_count, wait_maildir_stable), and the header
section of a stored LF message (split_message, header_value: unfolded).
"""
import os

from lib_base import DELIVERY_TIMEOUT, wait_for


def maildir_path(data_dir, domain, local):
    return os.path.join(data_dir, "mail", domain, local)


def maildir_files(data_dir, domain, local, sub="new"):
    """Sorted paths of the messages in DATA/mail/DOMAIN/LOCAL/new (or sub)."""
    d = os.path.join(maildir_path(data_dir, domain, local), sub)
    try:
        names = os.listdir(d)
    except FileNotFoundError:
        return []
    return sorted(os.path.join(d, n) for n in names if not n.startswith("."))


def maildir_messages(data_dir, domain, local):
    """The bytes of every message in new/, in file-name order."""
    out = []
    for p in maildir_files(data_dir, domain, local):
        with open(p, "rb") as f:
            out.append(f.read())
    return out


def wait_maildir_count(data_dir, domain, local, count, timeout=DELIVERY_TIMEOUT):
    """Waits until new/ holds at least count messages; returns their bytes
    (fails if it then holds more than count)."""
    wait_for(lambda: len(maildir_files(data_dir, domain, local)) >= count, timeout,
             what=lambda: "%d message(s) in %s@%s (found %d)"
             % (count, local, domain, len(maildir_files(data_dir, domain, local))))
    msgs = maildir_messages(data_dir, domain, local)
    if len(msgs) != count:
        raise AssertionError("%s@%s: expected %d message(s), found %d"
                             % (local, domain, count, len(msgs)))
    return msgs


def wait_maildir_stable(srv, local, polls=10, timeout=30):
    """Waits until srv's Maildir of local holds the same number of files over polls polls."""
    history = []

    def stable():
        history.append(len(srv.maildir(local)))
        return len(history) >= polls and len(set(history[-polls:])) == 1
    wait_for(stable, timeout=timeout, interval=0.05, what="the Maildir to stop growing")


def all_maildir_files(data_dir):
    """Every message file under DATA/mail/*/*/new."""
    out = []
    root = os.path.join(data_dir, "mail")
    if not os.path.isdir(root):
        return out
    for domain in sorted(os.listdir(root)):
        ddir = os.path.join(root, domain)
        if not os.path.isdir(ddir):
            continue
        for local in sorted(os.listdir(ddir)):
            out.extend(maildir_files(data_dir, domain, local))
    return out


def split_message(raw):
    """(list of unfolded header lines as str, body bytes) of a stored LF message."""
    head, sep, body = raw.partition(b"\n\n")
    if not sep:
        head, body = raw, b""
    headers = []
    for line in head.decode("utf-8", "replace").split("\n"):
        if line[:1] in (" ", "\t") and headers:
            headers[-1] += " " + line.strip()
        else:
            headers.append(line)
    return headers, body


def header_value(raw, name):
    """The first header called name (case-insensitive), unfolded, or None."""
    headers, _ = split_message(raw)
    prefix = name.lower() + ":"
    for h in headers:
        if h.lower().startswith(prefix):
            return h[len(prefix):].strip()
    return None
