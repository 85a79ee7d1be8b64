"""
bench_web: the Web reader's benchmark (MODE=web; postino alone, no Postfix, no
SMTP load). bench.py hands MODE=web to main() here.

A Maildir of MESSAGES (10000) messages is written directly on disk for
u@bench.test (realistic messages of 2-20 KB: a display name, often RFC 2047
encoded, varied subjects, a Date, a text/plain body; a third in new/, the
rest in cur/ with flags), plus one message of about 5 MB: a multipart/mixed
with a text part and a 4 MB base64 attachment (and a smaller one). For each
of RUNS runs postino is started on it (`listen web`), the driver logs in over
HTTP (one kept-alive connection, as a browser would) and measures:

  inbox  GET /inbox (the first page) and GET /inbox?page=M (a middle page)
         FETCHES (200) times each, alternately, after WARMUP (5) unmeasured
         ones: the median and p90 of the time from sending the request to
         having read the whole answer, in ms;
  msg    GET /msg/ID of the 5 MB message MSG_FETCHES (20) times: the median ms,
         and the server's peak resident memory (VmHWM of /proc/PID/status)
         before the first and after the last fetch. Skipped, and said so,
         while /msg/ID answers anything but 200.

WEB_PARTS ("inbox msg") chooses the halves. The server's VmHWM after the
inbox half is reported too. Results: the "web" section of RESULTS.md and the
"web" block of results.json (the other modes' sections are kept).
Knobs: RUNS, MESSAGES, FETCHES, MSG_FETCHES, WARMUP, WEB_PARTS, WEB_PORT (a
free port), PI_PORT, BENCH_DIR, KEEP, POSTINO_BIN, RESULTS, RESULTS_JSON.
"""
import base64
import datetime
import http.client
import json
import os
import random
import shutil
import statistics
import tempfile
import time
import urllib.parse

from bench_conf import BENCH_DIR, KEEP, PI_PORT, RUNS, BenchError, log, messages_for
from bench_proc import free_port, machine_busy, port_free, wait_port
from bench_report import machine_info, write_section
from bench_servers import Postino

FETCHES = int(os.environ.get("FETCHES", "200"))
MSG_FETCHES = int(os.environ.get("MSG_FETCHES", "20"))
WARMUP = int(os.environ.get("WARMUP", "5"))
PARTS = (os.environ.get("WEB_PARTS", "inbox msg").split()) or ["inbox", "msg"]
WEB_PORT = int(os.environ.get("WEB_PORT", "0") or "0")
USER, PASSWORD = "u@bench.test", "bench-password"
PAGE = 50            # the inbox's page size

WEB_CONF = """\
hostname bench.local
data_dir {w}/data
listen smtp 127.0.0.1:{port}
listen web 127.0.0.1:{web}
local_domains bench.test
users {w}/users
max_connections 1000
max_connections_per_ip 1000
"""

WORDS = ("meeting report invoice quarterly update project holiday photos lunch review draft "
         "budget server outage release notes contract travel plans question reminder agenda "
         "family weekend minutes proposal feedback ticket order shipping delay").split()
NAMES = ("Alice Martin", "Bob Dupont", "Jürgen Müller", "Zoë Lefèvre", "Carol Smith",
         "Dmitri Ivanov", "Søren Kierkegaard", "Eve Adams", "François Côté", "Grace Hopper")


# ---------------------------------------------------------------- the Maildir

def encoded(text, rnd):
    """text as an RFC 2047 encoded word (UTF-8, B or Q) when it is not ASCII."""
    if text.isascii() and rnd.random() < 0.8:
        return text
    raw = text.encode("utf-8")
    if rnd.random() < 0.5:
        return "=?UTF-8?B?%s?=" % base64.b64encode(raw).decode()
    return "=?UTF-8?Q?%s?=" % "".join(chr(b) if chr(b).isalnum() and b < 128 else
                                      "_" if b == 32 else "=%02X" % b for b in raw)


def plain_message(i, when, rnd):
    name = rnd.choice(NAMES)
    addr = name.split()[0].lower().encode("ascii", "ignore").decode() + "@example.org"
    subject = " ".join(rnd.choice(WORDS) for _ in range(rnd.randint(2, 8))).capitalize()
    if rnd.random() < 0.3:
        subject = rnd.choice(["Re: ", "Fwd: ", "Aw: Grüße – ", "Réunion : "]) + subject
    body_len = rnd.randint(1500, 19000)
    words, n = [], 0
    while n < body_len:
        line = " ".join(rnd.choice(WORDS) for _ in range(rnd.randint(6, 14)))
        words.append(line)
        n += len(line) + 1
    date = email_date(when)
    head = ("Return-Path: <%s>\nDelivered-To: %s\nReceived: from mx.example.org by bench.local "
            "with ESMTP; %s\nFrom: %s <%s>\nTo: %s\nSubject: %s\nDate: %s\n"
            "Message-ID: <bench-%d@example.org>\nMIME-Version: 1.0\n"
            "Content-Type: text/plain; charset=utf-8\nContent-Transfer-Encoding: 8bit\n\n"
            % (addr, USER, date, encoded(name, rnd), addr, USER, encoded(subject, rnd), date, i))
    return (head + "\n".join(words) + "\n").encode("utf-8")


def big_message(when, rnd):
    """About 5 MB: a text part and two base64 attachments (4 MB and 0.9 MB encoded)."""
    def b64(n):
        data = base64.encodebytes(rnd.randbytes(n)).decode()
        return data
    date = email_date(when)
    parts = ["Return-Path: <alice@example.org>\nFrom: Alice Martin <alice@example.org>\n"
             "To: %s\nSubject: The scans, with the report\nDate: %s\n"
             "Message-ID: <bench-big@example.org>\nMIME-Version: 1.0\n"
             "Content-Type: multipart/mixed; boundary=\"b1\"\n\n--b1\n"
             "Content-Type: text/plain; charset=utf-8\n\nHere are the scans and the report.\n"
             % (USER, date),
             "--b1\nContent-Type: image/jpeg\nContent-Transfer-Encoding: base64\n"
             "Content-Disposition: attachment; filename=\"scans.jpg\"\n\n" + b64(3 * 1024 * 1024),
             "--b1\nContent-Type: application/pdf\nContent-Transfer-Encoding: base64\n"
             "Content-Disposition: attachment; filename*=UTF-8''r%C3%A9sum%C3%A9.pdf\n\n"
             + b64(700 * 1024), "--b1--\n"]
    return "".join(parts).encode()


def email_date(t):
    return datetime.datetime.fromtimestamp(t, datetime.timezone.utc).strftime(
        "%a, %d %b %Y %H:%M:%S +0000")


def write_maildir(w, n):
    """n messages (and the big one, the newest) in DATA/mail/bench.test/u; the big one's id."""
    box = os.path.join(w, "data", "mail", "bench.test", "u")
    for sub in ("tmp", "new", "cur"):
        os.makedirs(os.path.join(box, sub), mode=0o700)
    rnd = random.Random(15)
    start = int(time.time()) - (n + 1) * 600
    for i in range(n + 1):
        when = start + i * 600
        uid = "%d.Q%08X%05X%03X_0.bench.local" % (when, when, i, 0)
        msg = big_message(when, rnd) if i == n else plain_message(i, when, rnd)
        r = rnd.random()
        sub, name = ("new", uid) if r < 0.33 else ("cur", uid + (":2,S" if r < 0.9 else ":2,FS"))
        with open(os.path.join(box, sub, name), "wb") as f:
            f.write(msg)
    return uid


# ---------------------------------------------------------------- the client

class Client:
    """One kept-alive HTTP connection with the session cookie."""

    def __init__(self, port):
        self.c = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        self.cookie = None

    def request(self, method, path, body=None, headers=None):
        h = dict(headers or {})
        if self.cookie:
            h["Cookie"] = self.cookie
        self.c.request(method, path, body=body, headers=h)
        r = self.c.getresponse()
        data = r.read()
        return r, data

    def login(self):
        body = urllib.parse.urlencode({"user": USER, "password": PASSWORD}).encode()
        r, _ = self.request("POST", "/login", body,
                            {"Content-Type": "application/x-www-form-urlencoded"})
        if r.status != 303:
            raise BenchError("login answered %d" % r.status)
        self.cookie = r.getheader("Set-Cookie").split(";", 1)[0]

    def timed_get(self, path):
        t0 = time.perf_counter()
        r, data = self.request("GET", path)
        ms = (time.perf_counter() - t0) * 1000
        if r.status != 200:
            raise BenchError("GET %s answered %d" % (path, r.status))
        return ms, data


def vm_hwm_kib(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    return 0


def p90(v):
    s = sorted(v)
    return s[min(len(s) - 1, int(round(0.9 * (len(s) - 1))))]


# ---------------------------------------------------------------- one run

class WebPostino(Postino):
    """postino serving the Web reader on the prebuilt Maildir (nothing is removed)."""

    def __init__(self, top, web_port):
        super().__init__(top, name="postino", metrics=False, extra=[])
        self.web = web_port

    def config_text(self, mode, w, port, sink, metrics_port):
        return WEB_CONF.format(w=w, port=port, web=self.web)

    def prepare(self, mode):
        with open(self.conf, "w") as f:
            f.write(self.config_text(mode, self.w, self.port, None, 0))
        with open(os.path.join(self.w, "users"), "w") as f:
            f.write("%s:{PLAIN}%s\n" % (USER, PASSWORD))
        os.chmod(os.path.join(self.w, "users"), 0o644)


def inbox_half(cl, pages, res):
    first = middle = None
    for _ in range(WARMUP):
        cl.timed_get("/inbox")
    t_first, t_middle = [], []
    for _ in range(FETCHES):
        ms, first = cl.timed_get("/inbox")
        t_first.append(ms)
        ms, middle = cl.timed_get("/inbox?page=%d" % (pages // 2))
        t_middle.append(ms)
    for body, what in ((first, "first"), (middle, "middle")):
        if body.count(b'<tr class="msg') != PAGE:
            raise BenchError("the %s inbox page does not list %d messages" % (what, PAGE))
    res.update({"inbox_first_median_ms": statistics.median(t_first),
                "inbox_first_p90_ms": p90(t_first),
                "inbox_middle_median_ms": statistics.median(t_middle),
                "inbox_middle_p90_ms": p90(t_middle), "middle_page": pages // 2,
                "inbox_first_page_kib": len(first) / 1024})


def msg_half(cl, pid, big_id, res):
    r, _ = cl.request("GET", "/msg/" + urllib.parse.quote(big_id, safe=""))
    if r.status != 200:
        res["msg_skipped"] = "GET /msg/ID answered %d %s" % (r.status, r.reason)
        return
    res["hwm_before_msg_kib"] = vm_hwm_kib(pid)
    times = [cl.timed_get("/msg/" + urllib.parse.quote(big_id, safe=""))[0]
             for _ in range(MSG_FETCHES)]
    res.update({"msg_median_ms": statistics.median(times), "msg_p90_ms": p90(times),
                "hwm_after_msg_kib": vm_hwm_kib(pid)})


def one_run(srv, n, big_id, run):
    busy = machine_busy(1.0)
    srv.prepare("web")
    srv.start()
    try:
        wait_port(srv.web, time.monotonic() + 30, lambda: srv.proc.poll() is None)
        pid = srv.proc.pid
        res = {"run": run, "busy_before": busy, "hwm_start_kib": vm_hwm_kib(pid)}
        cl = Client(srv.web)
        cl.login()
        res["first_fetch_ms"] = cl.timed_get("/inbox")[0]
        if "inbox" in PARTS:
            inbox_half(cl, (n + 1 + PAGE - 1) // PAGE, res)
            res["hwm_after_inbox_kib"] = vm_hwm_kib(pid)
        if "msg" in PARTS:
            msg_half(cl, pid, big_id, res)
        cl.c.close()
        return res
    finally:
        srv.stop()


# ---------------------------------------------------------------- the report

def fmt(v, f="%.1f"):
    return "-" if v is None else f % v


def med(results, key):
    v = [r[key] for r in results if key in r]
    return statistics.median(v) if v else None


def render(b):
    rs = b["results"]
    L = ["# postino: the Web reader with a %d-message Maildir (postino alone)\n" % b["messages"],
         "Generated by `bench/run.sh` (bench/bench.py, `MODE=web`) on %s (run took %s)." % (
             b["started"], b["took"]),
         "%d message(s) of 2-20 KB plus one of %.1f MB in the Maildir, %d run(s) (a fresh server "
         "each), %d fetches of each inbox page and %d of the large message per run; figures are "
         "medians over the runs of each run's median (p90: of each run's p90).\n" % (
             b["messages"], b["big_kib"] / 1024, b["runs"], b["fetches"], b["msg_fetches"]),
         "Machine: %s CPU(s), %s, %s, %s, kernel %s; postino %s (commit %s).\n" % (
             b["machine"]["nproc"], b["machine"]["cpu"], b["machine"]["memory"],
             b["machine"]["fs"], b["machine"]["kernel"], b["machine"]["postino"],
             b["machine"]["commit"]),
         "## Inbox: GET /inbox, ms from request to the whole answer\n",
         "| page | median | p90 |", "|---|---|---|",
         "| first (newest 50) | %s | %s |" % (fmt(med(rs, "inbox_first_median_ms")),
                                           fmt(med(rs, "inbox_first_p90_ms"))),
         "| middle (page %s) | %s | %s |" % (fmt(med(rs, "middle_page"), "%d"),
                                           fmt(med(rs, "inbox_middle_median_ms")),
                                           fmt(med(rs, "inbox_middle_p90_ms"))),
         "", "The first fetch after login (page cache warm, the Maildir just written): %s ms. "
         "Peak RSS of the server (VmHWM) at start %s MiB, after the inbox fetches %s MiB.\n" % (
             fmt(med(rs, "first_fetch_ms")), fmt(kib_mib(med(rs, "hwm_start_kib"))),
             fmt(kib_mib(med(rs, "hwm_after_inbox_kib")))),
         "## A 5 MB message with attachments: GET /msg/ID\n"]
    skipped = [r["msg_skipped"] for r in rs if "msg_skipped" in r]
    if "msg" not in b["parts"]:
        L.append("Not measured in this run (WEB_PARTS=%s).\n" % " ".join(b["parts"]))
    elif skipped:
        L.append("Not measured: %s.\n" % skipped[0])
    else:
        L.append("Median %s ms (p90 %s ms); the server's VmHWM %s MiB before, %s MiB after.\n" % (
            fmt(med(rs, "msg_median_ms")), fmt(med(rs, "msg_p90_ms")),
            fmt(kib_mib(med(rs, "hwm_before_msg_kib"))),
            fmt(kib_mib(med(rs, "hwm_after_msg_kib")))))
    L += ["## Every run\n", "```", json.dumps(rs, indent=1), "```\n",
          "## Method\n",
          "The Maildir is written by bench/bench_web.py (seeded, so every run of the bench sees "
          "the same messages): names `SEC.QID_0.bench.local` one arrival every 10 minutes, a "
          "third in new/, the rest in cur/ with `:2,S` or `:2,FS`. postino's config:\n",
          "```\n%s```\n" % WEB_CONF.format(w="DIR", port="PI_PORT", web="WEB_PORT"),
          "One kept-alive HTTP connection from the driver (Python's http.client) after a login; "
          "%d unmeasured fetches first. The other load on the machine before each run: %s.\n" % (
              b["warmup"], ", ".join("%.0f%%" % (100 * r["busy_before"]) for r in rs)),
          "Reproduce: `MODE=web RUNS=%d bench/run.sh` (`WEB_PARTS=inbox` for the inbox half "
          "only).\n" % b["runs"]]
    return "\n".join(L)


def kib_mib(v):
    return None if v is None else v / 1024


def main():
    os.makedirs(BENCH_DIR, exist_ok=True)
    top = tempfile.mkdtemp(prefix="postino-bench-web.", dir=BENCH_DIR)
    os.chmod(top, 0o755)
    n = messages_for("web")
    web = WEB_PORT or free_port()
    if not port_free(web) or not port_free(PI_PORT):
        raise BenchError("port %d or %d is in use" % (web, PI_PORT))
    started = datetime.datetime.now(datetime.timezone.utc)
    srv = WebPostino(top, web)
    b = {"machine": machine_info(top), "messages": n, "runs": RUNS, "fetches": FETCHES,
         "msg_fetches": MSG_FETCHES, "warmup": WARMUP, "parts": PARTS,
         "started": started.strftime("%Y-%m-%d %H:%M UTC"), "results": [], "failures": []}
    try:
        log("web: writing %d messages into %s" % (n + 1, top))
        os.makedirs(srv.w)
        big_id = write_maildir(srv.w, n)
        b["big_kib"] = os.path.getsize(
            [os.path.join(d, f) for d, _, fs in os.walk(os.path.join(srv.w, "data"))
             for f in fs if f.startswith(big_id)][0]) / 1024
        os.sync()
        for run in range(1, RUNS + 1):
            try:
                res = one_run(srv, n, big_id, run)
            except (BenchError, OSError, http.client.HTTPException) as e:
                b["failures"].append({"run": run, "error": str(e)})
                log("web run %d FAILED: %s" % (run, e))
                continue
            log("web run %d: %s" % (run, json.dumps(res)))
            b["results"].append(res)
    finally:
        srv.stop()
        if KEEP:
            log("kept %s" % top)
        else:
            shutil.rmtree(top, ignore_errors=True)
    b["took"] = str(datetime.datetime.now(datetime.timezone.utc) - started).split(".")[0]
    write_section("web", render(b), b)
    return 1 if b["failures"] else 0
