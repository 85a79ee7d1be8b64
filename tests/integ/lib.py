"""
lib: the harness of postino's integration tests (tests/integ/t_NN_*.py,
tests/crash/t_*.py). It drives the real binary named by $POSTINO_BIN
(default: build/postino of this checkout; `make integ` points it at the ASan build).

A test imports this module alone (`import lib`, `from lib import expect`);
the names live in modules by concern, all re-exported here:
  - lib_base: BIN and the deadlines, free_port, wait_for (bounded polling,
    never a fixed sleep as synchronisation), sanitizer_report, read_text,
    run_cli, queue_json, and the atexit hook that kills whatever postino is
    still running as a last resort.
  - lib_maildir: maildir_files, wait_maildir_count, split_message,
    header_value (what postino delivered).
  - lib_smtp: Reply and the reply checks (expect, expect_smtplib), Raw (a
    raw-socket SMTP dialogue for the tests where smtplib would hide the
    bytes), smtp_client, make_message, send_message.
  - lib_server: Server (a `postino serve` in a fresh temp dir, stopped with
    SIGTERM, exit 0 within 10 s, stderr free of sanitizer reports; the temp
    dir is removed unless KEEP_TMP=1), IntegTestCase, SharedServerTestCase.
  - lib_notice: parse_notice and Notice (RFC 3464 / RFC 6522 notices).
  - lib_procs: the processes a helper starts besides postino (Dovecot,
    Chromium), found in /proc by (pid, start time), stopped by pid, their
    orphans reaped (become_subreaper, descendants, naming, alive, stop_family).

Only Debian's /usr/bin/python3 standard library is used.
A test never leaves a process behind: every Server is stopped by addCleanup
(IntegTestCase.server) or by the context manager, and the atexit hook kills
whatever is still running as a last resort.
"""
import unittest  # noqa: F401 -- lib.unittest is used by tests

from lib_base import *  # noqa: F401,F403
from lib_base import _kill_leftovers, _running  # noqa: F401
from lib_maildir import *  # noqa: F401,F403
from lib_smtp import *  # noqa: F401,F403
from lib_server import *  # noqa: F401,F403
from lib_notice import *  # noqa: F401,F403
from lib_notice import _check_order, _raw_parts  # noqa: F401
from lib_procs import *  # noqa: F401,F403
