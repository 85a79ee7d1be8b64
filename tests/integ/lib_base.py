"""
lib_base: the ground floor of the integration harness (re-exported by lib).

What it owns: where the binary under test is ($POSTINO_BIN, default
build/postino of this checkout) and the deadlines (the ASan build is several
times slower); the set of postino processes still running and the atexit hook
that kills them as a last resort; free_port, wait_for (bounded polling, never
a fixed sleep as synchronisation), sanitizer_report, read_text; and the
command-line helpers run_cli (fails on a sanitizer report) and queue_json.
It knows nothing of SMTP, Maildirs or notices.
"""
import atexit
import json
import os
import socket
import subprocess
import time


ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BIN = os.environ.get("POSTINO_BIN", os.path.join(ROOT, "build", "postino"))
KEEP_TMP = os.environ.get("KEEP_TMP") == "1"
# Deadlines are generous: the ASan build is several times slower.
START_TIMEOUT = float(os.environ.get("POSTINO_START_TIMEOUT", "15"))
STOP_TIMEOUT = 10.0
DELIVERY_TIMEOUT = float(os.environ.get("POSTINO_DELIVERY_TIMEOUT", "10"))
SANITIZER_MARKERS = ("AddressSanitizer", "runtime error:", "LeakSanitizer")
HOSTNAME = "mx.test"

_running = set()   # Popen objects still alive, for the atexit safety net


@atexit.register
def _kill_leftovers():
    for proc in list(_running):
        if proc.poll() is None:
            try:
                proc.kill()
                proc.wait(5)
            except Exception:
                pass


def free_port(host="127.0.0.1"):
    """A TCP port that was free a moment ago (bind to port 0, read it, release it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return s.getsockname()[1]


def wait_for(predicate, timeout=DELIVERY_TIMEOUT, interval=0.02, what="condition"):
    """Polls predicate() until it returns a true value (returned) or raises
    AssertionError after timeout seconds. Exceptions from predicate propagate.
    what may be a callable, evaluated only for the failure message."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() >= deadline:
            raise AssertionError("timed out after %.1fs waiting for %s"
                                 % (timeout, what() if callable(what) else what))
        time.sleep(interval)


def sanitizer_report(text):
    """The sanitizer marker found in text, or None."""
    for marker in SANITIZER_MARKERS:
        if marker in text:
            return marker
    return None


def read_text(path):
    try:
        with open(path, "rb") as f:
            return f.read().decode("utf-8", "replace")
    except FileNotFoundError:
        return ""


# --------------------------------------------------------------------------
# Command-line helpers


def run_cli(args, timeout=30, env=None, check_sanitizer=True):
    """Runs BIN with args; returns CompletedProcess with str stdout/stderr.
    Fails (AssertionError) on a sanitizer report in stderr."""
    full_env = dict(os.environ)
    if env:
        full_env.update(env)
    cp = subprocess.run([BIN] + list(args), stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                        stderr=subprocess.PIPE, timeout=timeout, env=full_env)
    cp.stdout = cp.stdout.decode("utf-8", "replace")
    cp.stderr = cp.stderr.decode("utf-8", "replace")
    if check_sanitizer:
        marker = sanitizer_report(cp.stderr)
        if marker:
            raise AssertionError("%s in stderr of postino %s:\n%s"
                                 % (marker, " ".join(args), cp.stderr))
    return cp


def queue_json(conf):
    """`postino queue -c CONF list --json` parsed: a list of dicts."""
    cp = run_cli(["queue", "-c", conf, "list", "--json"])
    if cp.returncode != 0:
        raise AssertionError("queue list --json exited %d: %s" % (cp.returncode, cp.stderr))
    out = []
    for line in cp.stdout.splitlines():
        if line.strip():
            try:
                out.append(json.loads(line))
            except ValueError as e:
                raise AssertionError("queue list --json: bad JSON line %r: %s" % (line, e))
    return out
