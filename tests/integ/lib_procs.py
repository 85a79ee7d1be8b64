"""
lib_procs: the processes a test's helpers start besides postino (Dovecot and
its children, chromedriver and Chromium), found in /proc and stopped by pid
(re-exported by lib).

What it owns: a process is named by (pid, start time), so a pid reused by
another process is never taken for it; proc_stat (parent and start time),
descendants (a process tree), naming (the processes whose command line
contains a text: those that detached from the tree); alive (reaping the
process first if it became our zombie); stop_family, the bounded wait for a
set of processes to exit and the SIGKILL by pid of those that linger;
become_subreaper and reap_adopted, so the orphans of what a test starts are
reaped by the test instead of left as zombies. It never kills by name.
"""
import ctypes
import os
import signal
import time

__all__ = ["become_subreaper", "proc_stat", "descendants", "naming", "alive", "stop_family",
           "reap_adopted"]
POLL = 0.05


def become_subreaper():
    """Makes this process a child subreaper: the orphans of what it starts (Dovecot's
    children, Chromium's detached crash handler) become its children, which it can
    reap, instead of zombies of a PID 1 that may not reap (left in our process group)."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(36, 1, 0, 0, 0)   # PR_SET_CHILD_SUBREAPER
    except (OSError, AttributeError):
        pass


def proc_stat(pid):
    """(ppid, start time) of pid, or None if it is gone or a zombie."""
    try:
        with open("/proc/%d/stat" % pid) as f:
            fields = f.read().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None
    if fields[0] == "Z":
        return None
    return int(fields[1]), fields[19]


def _pids():
    return [int(n) for n in os.listdir("/proc") if n.isdigit()]


def descendants(pid, itself=False):
    """(pid, start time) of every live descendant of pid (and of pid first, if itself)."""
    parent = {}
    for p in _pids():
        st = proc_stat(p)
        if st:
            parent[p] = st
    out = [(pid, parent[pid][1])] if itself and pid in parent else []
    todo = [pid]
    while todo:
        p = todo.pop()
        for child, (ppid, start) in parent.items():
            if ppid == p:
                out.append((child, start))
                todo.append(child)
    return out


def naming(text):
    """(pid, start time) of the live processes whose command line contains text."""
    out = []
    needle = text.encode()
    for p in _pids():
        try:
            with open("/proc/%d/cmdline" % p, "rb") as f:
                if needle not in f.read():
                    continue
        except OSError:
            continue
        st = proc_stat(p)
        if st:
            out.append((p, st[1]))
    return out


def alive(entry):
    """True while the process (pid, start time) runs; reaps it if it became our zombie."""
    pid, start = entry
    try:
        if os.waitpid(pid, os.WNOHANG)[0]:
            return False          # it was our child and is reaped now
    except ChildProcessError:
        pass
    st = proc_stat(pid)
    return st is not None and st[1] == start


def _wait_gone(family, timeout):
    deadline = time.monotonic() + timeout
    while any(alive(e) for e in family):
        if time.monotonic() >= deadline:
            return False
        time.sleep(POLL)
    return True


def stop_family(family, grace=5.0):
    """Waits (at most grace seconds) for every process of family to exit, then kills
    by pid those that linger and waits for them as long again. True if none is left."""
    if _wait_gone(family, grace):
        return True
    for e in family:
        if alive(e):
            try:
                os.kill(e[0], signal.SIGKILL)
            except ProcessLookupError:
                pass
    return _wait_gone(family, grace)


def reap_adopted(name_prefix):
    """Reaps the exited processes handed to us as a subreaper (our zombies by
    adoption) whose name starts with name_prefix, and only those."""
    me = str(os.getpid())
    for p in _pids():
        try:
            with open("/proc/%d/stat" % p) as f:
                head, _, tail = f.read().rpartition(")")
        except OSError:
            continue
        fields = tail.split()
        comm = head.partition("(")[2]
        if fields[:2] and fields[0] == "Z" and fields[1] == me and comm.startswith(name_prefix):
            try:
                os.waitpid(p, os.WNOHANG)
            except ChildProcessError:
                pass
