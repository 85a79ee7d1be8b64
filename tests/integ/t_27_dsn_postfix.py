"""
t_27_dsn_postfix: interoperability with a real Postfix as the next hop
(RFC 3461 6.2: a DSN-capable next hop takes over the duty to report).
A private Postfix instance listens on 127.0.0.3:PORT, offers DSN, holds
the virtual domain dsn.test (one mailbox, known@dsn.test; other recipients
are accepted at RCPT time - smtpd_reject_unlisted_recipient = no - and
bounced by virtual(8), soft_bounce = no) and sends everything for
example.test back to postino (transport map). postino routes dsn.test to
Postfix (route dsn.test [127.0.0.3]:PORT) and passes RET, ENVID (xtext),
NOTIFY and ORCPT on; Postfix accepts them and its own notices - a failure
for unknown@dsn.test, a success for known@dsn.test - arrive in the
sender's Maildir at postino with the right Original-Envelope-Id and
Original-Recipient; postino itself sends no notice. Skipped (unittest skip)
only when Postfix is not installed or cannot be started; Postfix is always
stopped in a cleanup.
"""
import email
import email.policy
import os
import pty
import select
import shutil
import signal
import subprocess
import tempfile
import time
import unittest

import lib
import peers

POSTFIX = shutil.which("postfix") or "/usr/sbin/postfix"
PF_IP = "127.0.0.3"
VUID = VGID = 65534     # nobody:nogroup own the virtual mailboxes

MAIN_CF = """\
# private Postfix instance for tests/integ/t_27_dsn_postfix.py
compatibility_level = 3.6
queue_directory = {w}/queue
data_directory = {w}/data
mail_owner = postfix
setgid_group = postdrop
myhostname = pf.test
mydomain = pf.test
myorigin = $myhostname
mydestination =
inet_interfaces = 127.0.0.1
inet_protocols = ipv4
mynetworks = 127.0.0.0/8
smtpd_relay_restrictions = permit_mynetworks, reject_unauth_destination
smtpd_recipient_restrictions = permit_mynetworks, reject_unauth_destination
smtpd_reject_unlisted_recipient = no
smtpd_peername_lookup = no
alias_maps =
alias_database =
local_recipient_maps =
local_transport = error:local delivery is disabled
relayhost =
transport_maps = texthash:{w}/etc/transport
virtual_mailbox_domains = dsn.test
virtual_mailbox_base = {w}/mail
virtual_mailbox_maps = texthash:{w}/etc/vmailbox
virtual_uid_maps = static:{uid}
virtual_gid_maps = static:{gid}
soft_bounce = no
maillog_file = {w}/maillog
maillog_file_prefixes = {w}
biff = no
append_dot_mydomain = no
smtputf8_enable = no
smtp_dns_support_level = disabled
"""

MASTER_CF = """\
{ip}:{port} inet n - n - - smtpd
pickup    unix  n       -       n       60      1       pickup
cleanup   unix  n       -       n       -       0       cleanup
qmgr      unix  n       -       n       300     1       qmgr
rewrite   unix  -       -       n       -       -       trivial-rewrite
bounce    unix  -       -       n       -       0       bounce
defer     unix  -       -       n       -       0       bounce
trace     unix  -       -       n       -       0       bounce
verify    unix  -       -       n       -       1       verify
flush     unix  n       -       n       1000?   0       flush
proxymap  unix  -       -       n       -       -       proxymap
proxywrite unix -       -       n       -       1       proxymap
smtp      unix  -       -       n       -       -       smtp
relay     unix  -       -       n       -       -       smtp
showq     unix  n       -       n       -       -       showq
error     unix  -       -       n       -       -       error
retry     unix  -       -       n       -       -       error
discard   unix  -       -       n       -       -       discard
virtual   unix  -       n       n       -       -       virtual
anvil     unix  -       -       n       -       1       anvil
scache    unix  -       -       n       -       1       scache
postlog   unix-dgram n  -       n       -       1       postlogd
"""


def pid_alive(pid):
    try:
        os.kill(pid, 0)
        return True
    except ProcessLookupError:
        return False
    except PermissionError:
        return True


def run_on_tty(argv, timeout=60):
    """Runs argv with a pseudo-terminal as stdout and stderr (Postfix commands
    print their errors only to a terminal, else to syslog): (status, output)."""
    master, slave = pty.openpty()
    try:
        cp = subprocess.run(argv, stdin=subprocess.DEVNULL, stdout=slave, stderr=slave,
                            timeout=timeout)
        os.close(slave)
        slave = None
        out = b""
        while True:         # what is there now; a daemon may keep the terminal open
            r, _, _ = select.select([master], [], [], 0.2)
            if not r:
                break
            try:
                chunk = os.read(master, 65536)
            except OSError:
                break
            if not chunk:
                break
            out += chunk
        return cp.returncode, out.decode("utf-8", "replace")
    finally:
        if slave is not None:
            os.close(slave)
        os.close(master)


def children_of(pid):
    """Every descendant of pid (from /proc), pid included."""
    parent = {}
    for d in os.listdir("/proc"):
        if d.isdigit():
            try:
                with open("/proc/%s/stat" % d) as f:
                    fields = f.read().rsplit(")", 1)[1].split()
                parent[int(d)] = int(fields[1])
            except (OSError, IndexError, ValueError):
                pass
    out, todo = [pid], [pid]
    while todo:
        p = todo.pop()
        for c, pp in parent.items():
            if pp == p:
                out.append(c)
                todo.append(c)
    return out


class PostfixInstance:
    """A private Postfix (postfix -c DIR/etc start / stop) in a temp dir."""

    def __init__(self, port, postino_port):
        self.w = tempfile.mkdtemp(prefix="postino-pf-")
        os.chmod(self.w, 0o755)
        self.etc = os.path.join(self.w, "etc")
        self.port = port
        self.started = False
        os.mkdir(self.etc, 0o755)
        os.mkdir(os.path.join(self.w, "queue"), 0o755)
        mail = os.path.join(self.w, "mail")
        os.mkdir(mail, 0o755)
        os.chown(mail, VUID, VGID)
        with open(os.path.join(self.etc, "main.cf"), "w") as f:
            f.write(MAIN_CF.format(w=self.w, ip=PF_IP, uid=VUID, gid=VGID))
        with open(os.path.join(self.etc, "master.cf"), "w") as f:
            f.write(MASTER_CF.format(ip=PF_IP, port=port))
        with open(os.path.join(self.etc, "vmailbox"), "w") as f:
            f.write("known@dsn.test dsn.test/known/\n")
        with open(os.path.join(self.etc, "transport"), "w") as f:
            f.write("example.test smtp:[127.0.0.1]:%d\n" % postino_port)

    @property
    def log_path(self):
        return os.path.join(self.w, "maillog")

    def log(self):
        return lib.read_text(self.log_path)

    def maildir(self, local):
        d = os.path.join(self.w, "mail", "dsn.test", local, "new")
        try:
            return sorted(os.path.join(d, n) for n in os.listdir(d))
        except FileNotFoundError:
            return []

    def master_pid(self):
        try:
            with open(os.path.join(self.w, "queue", "pid", "master.pid")) as f:
                pid = int(f.read().split()[0])
        except (OSError, ValueError, IndexError):
            return None
        return pid if pid_alive(pid) else None

    def start(self):
        """None when started, else why not (the caller skips)."""
        if not os.access(POSTFIX, os.X_OK):
            return "%s is not installed" % POSTFIX
        if os.geteuid() != 0:
            return "the Postfix master needs root"
        self.started = True      # from here on, stop() has work to do
        rc, out = run_on_tty([POSTFIX, "-c", self.etc, "start"])
        if rc != 0:
            return "postfix start exited %d: %s" % (rc, out[-2000:])
        deadline = time.monotonic() + 30
        while True:
            if self.master_pid() is not None:
                try:
                    with lib.Raw(self.port, host=PF_IP, timeout=5) as c:
                        if c.greeting is not None and c.greeting.code == 220:
                            c.cmd("QUIT")
                            return None
                except OSError:
                    pass
            if time.monotonic() > deadline:
                return "postfix did not answer on %s:%d within 30 s:\n%s" % (
                    PF_IP, self.port, self.log()[-3000:])
            time.sleep(0.05)

    def stop(self):
        try:
            if not self.started:
                return
            self.started = False
            pid = self.master_pid()
            procs = children_of(pid) if pid else []
            subprocess.run([POSTFIX, "-c", self.etc, "stop"], stdin=subprocess.DEVNULL,
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=60)
            deadline = time.monotonic() + 20
            while any(pid_alive(p) for p in procs) and time.monotonic() < deadline:
                time.sleep(0.05)
            for p in procs:
                if pid_alive(p):
                    try:
                        os.kill(p, signal.SIGKILL)
                    except OSError:
                        pass
        finally:
            if lib.KEEP_TMP:
                print("\n[KEEP_TMP] %s" % self.w)
            else:
                shutil.rmtree(self.w, ignore_errors=True)


def postfix_notice(raw):
    """A notice from Postfix, parsed (email package, policy=default, no defects):
    (message, per-message fields, [per-recipient fields]) with lower-case names."""
    msg = email.message_from_bytes(raw, policy=email.policy.default)
    for part in msg.walk():
        if part.defects:
            raise AssertionError("defects in %s: %r" % (part.get_content_type(), part.defects))
    if msg.get_content_type() != "multipart/report" or \
            msg.get_param("report-type") != "delivery-status":
        raise AssertionError("not a delivery-status report: %s" % msg.get("Content-Type"))
    parts = msg.get_payload()
    ds = [p for p in parts if p.get_content_type() == "message/delivery-status"]
    if len(ds) != 1:
        raise AssertionError("%d delivery-status parts" % len(ds))
    blocks = ds[0].get_payload()

    def fields(b):
        return {k.lower(): " ".join(str(v).split()) for k, v in b.items()}
    return msg, fields(blocks[0]), [fields(b) for b in blocks[1:]]


class Postfix(peers.DsnTestCase):

    def start_postfix(self, postino_port):
        pf = PostfixInstance(self.port, postino_port)
        self.addCleanup(pf.stop)
        why = pf.start()
        if why:
            self.skipTest("Postfix unavailable: " + why)
        return pf

    def test_postfix_takes_the_parameters_and_reports(self):
        srv = self.dsn_server(start=False, route="dsn.test [%s]:%d" % (PF_IP, self.port))
        pf = self.start_postfix(srv.port)
        srv.start()
        msg = lib.make_message("t27 postfix", to="unknown@dsn.test",
                               body="This body stays at home (RET=HDRS).\r\n")
        qid, _ = self.send_dsn(
            srv, ["unknown@dsn.test", "known@dsn.test"], msg=msg,
            mail_options=["RET=HDRS", "ENVID=t27+2Benv+3D1"],
            rcpt_options={"unknown@dsn.test": ["NOTIFY=FAILURE",
                                               "ORCPT=rfc822;Orig.Unknown@dsn.test"],
                          "known@dsn.test": ["NOTIFY=SUCCESS,FAILURE",
                                             "ORCPT=rfc822;Orig.Known@dsn.test"]})
        # Postfix delivered one, bounced the other, and told the sender both
        lib.wait_for(lambda: len(pf.maildir("known")) == 1, 20,
                     what=lambda: "delivery at Postfix; its log:\n" + pf.log()[-3000:])
        raws = lib.wait_for(lambda: len(srv.maildir("alice")) >= 2 and
                            lib.maildir_messages(srv.data, "example.test", "alice"), 20,
                            what=lambda: "2 notices from Postfix at alice@example.test; "
                            "Postfix log:\n%s\npostino log:\n%s" % (pf.log()[-3000:],
                                                                    srv.log_tail(30)))
        self.settle(srv)
        self.assertEqual(len(srv.maildir("alice")), 2)
        # postino relayed both to a DSN peer: no notice of its own
        self.assertEqual(self.notice_lines(srv), [], srv.log_tail(30))
        for a in ("unknown@dsn.test", "known@dsn.test"):
            self.assertTrue(self.log_lines(srv, qid, "to=<%s>" % a, "status=sent"), srv.log_tail(30))
        pflog = pf.log()
        self.assertNotRegex(pflog, r"(?i)(reject|error).*(RET|ENVID|NOTIFY|ORCPT)", pflog[-3000:])
        got = {}
        for raw in raws:
            headers, _ = lib.split_message(raw)
            self.assertEqual(headers[0], "Return-Path: <>")
            m, per_msg, rcpts = postfix_notice(raw)
            self.assertRegex(str(m["From"]), r"(?i)MAILER-DAEMON@pf\.test")
            self.assertEqual(len(rcpts), 1, rcpts)
            self.assertEqual(per_msg.get("original-envelope-id"), "t27+env=1", per_msg)
            self.assertEqual(per_msg.get("reporting-mta", "").replace(" ", ""), "dns;pf.test")
            got[rcpts[0]["action"].lower()] = (m, rcpts[0])
        self.assertEqual(sorted(got), ["delivered", "failed"])
        m, r = got["failed"]
        self.assertEqual(r["final-recipient"].replace(" ", "").lower(), "rfc822;unknown@dsn.test")
        self.assertEqual(r["original-recipient"].replace(" ", ""), "rfc822;Orig.Unknown@dsn.test")
        self.assertRegex(r["status"], r"^5\.1\.\d+$")
        types = [p.get_content_type() for p in m.get_payload()]
        self.assertIn("text/rfc822-headers", types)         # RET=HDRS honoured
        self.assertNotIn(b"stays at home", m.as_bytes())
        m, r = got["delivered"]
        self.assertEqual(r["final-recipient"].replace(" ", "").lower(), "rfc822;known@dsn.test")
        self.assertEqual(r["original-recipient"].replace(" ", ""), "rfc822;Orig.Known@dsn.test")
        self.assertRegex(r["status"], r"^2\.")


if __name__ == "__main__":
    unittest.main()
