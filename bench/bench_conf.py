"""
bench_conf: the settings of the benchmark (bench.py), read once from the
environment (see bench.py's header for each knob), the fixed names and paths
it uses (the Postfix tools, the recipient and sender of each mode), the
session counts and message counts per mode, the two postino variants of the
observe mode, log() and BenchError. Nothing here starts a process or writes a
file; every other bench module reads from here.
"""
import os
import shutil
import sys


HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)

MODES = ("maildir", "relay", "sendmail", "observe", "web", "backlog", "fanout")
MODE = os.environ.get("MODE", "both").strip() or "both"
BOTH = ("maildir", "relay")              # MODE=both; sendmail and observe run only on their own
DEFAULT_SESSIONS = {"maildir": "1 10 50", "relay": "10 50", "sendmail": "1 8", "observe": "10",
                    "web": "1"}
DEFAULT_MESSAGES = {"maildir": 10000, "relay": 10000, "sendmail": 2000, "observe": 10000,
                    "web": 10000}
# the servers' configuration in each mode: sendmail mode sets both up exactly
# as maildir mode does (the SMTP listener stays, unused); observe runs postino
# alone, as in maildir mode, in two variants
CONF_MODE = {"maildir": "maildir", "relay": "relay", "sendmail": "maildir", "observe": "maildir"}
RUNS = int(os.environ.get("RUNS", "3"))
MESSAGES_ENV = os.environ.get("MESSAGES", "").strip()
SESSIONS_ENV = os.environ.get("SESSIONS", "").strip()
MSG_SIZE = int(os.environ.get("MSG_SIZE", "4096"))
ONLY = os.environ.get("ONLY", "").strip()
TIMEOUT = float(os.environ.get("TIMEOUT", "600"))
POSTINO_BIN = os.path.abspath(os.environ.get("POSTINO_BIN", os.path.join(ROOT, "build", "postino")))
# Lines added to postino's config, ";" between them: POSTINO_EXTRA_CONF="log_format json"
POSTINO_EXTRA_CONF = [l.strip() for l in os.environ.get("POSTINO_EXTRA_CONF", "").split(";")
                      if l.strip()]
PF_PORT = int(os.environ.get("PF_PORT", "2625"))
PI_PORT = int(os.environ.get("PI_PORT", "2725"))
SINK_ADDR = os.environ.get("SINK_ADDR", "127.0.0.2")
SINK_PORT = int(os.environ.get("SINK_PORT", "2825"))
SINK_DIR = os.environ.get("SINK_DIR", "/dev/shm")
SETTLE = float(os.environ.get("SETTLE", "2"))
BENCH_DIR = os.environ.get("BENCH_DIR", "/var/tmp")
QUIET_WAIT = float(os.environ.get("QUIET_WAIT", "60"))   # s to wait for an idle machine
QUIET_BUSY = 0.10                                        # "idle": under 10% of CPUs busy
RETRY_BUSY = int(os.environ.get("RETRY_BUSY", "2"))      # repeats of a run that others disturbed
KEEP = os.environ.get("KEEP", "") == "1"
# a port: postino gets `listen metrics 127.0.0.1:PORT`, scraped every second during the run
PI_METRICS = int(os.environ.get("PI_METRICS", "0") or "0")
# observe mode: postino's variants, (name, metrics listener?, extra config lines); the
# metrics port is PI_METRICS, or a free one picked before each run
OBSERVE_VARIANTS = (("default", False, []), ("metrics+json", True, ["log_format json"]))
OBSERVE_LIMIT = 0.95     # metrics+json must keep at least 95% of default's messages/s
RESULTS = os.environ.get("RESULTS", os.path.join(HERE, "RESULTS.md"))
RESULTS_JSON = os.environ.get("RESULTS_JSON", os.path.join(HERE, "results.json"))

SMTP_SOURCE = shutil.which("smtp-source") or "/usr/sbin/smtp-source"
SMTP_SINK = shutil.which("smtp-sink") or "/usr/sbin/smtp-sink"
POSTFIX = shutil.which("postfix") or "/usr/sbin/postfix"
POSTFIX_SENDMAIL = "/usr/sbin/sendmail"     # Postfix's, which runs postdrop
POSTDROP = "/usr/sbin/postdrop"
RCPT = {"maildir": "u@bench.test", "relay": "u@relay.test", "sendmail": "u@bench.test",
        "observe": "u@bench.test"}
SENDER = "sender@bench.local"
HELO = "bench.client"
VUID = VGID = 65534          # nobody:nogroup owns the Postfix virtual mailboxes
SINK_USER = "nobody"         # smtp-sink run as root must drop privileges (-u)
POLL = 0.05                  # completion poll interval (s)
MEM_EVERY = 0.1              # memory sample interval (s)


def sessions_for(mode):
    return [int(s) for s in (SESSIONS_ENV or DEFAULT_SESSIONS[mode]).split()]


def messages_for(mode):
    return int(MESSAGES_ENV or DEFAULT_MESSAGES[mode])


def log(msg):
    print("bench: " + msg, file=sys.stderr, flush=True)


class BenchError(Exception):
    pass
