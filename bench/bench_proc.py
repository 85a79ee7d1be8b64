"""
bench_proc: the processes and the machine, as the benchmark measures them:
the process tree of a server (from /proc), its summed Pss and Rss
(smaps_rollup), its CPU time (all its life, or over a window: CpuWindow), the
CPU time of kernel threads and of the benchmark itself, how busy the machine
is, waiting for a port to accept or be free, picking a free port, running a
command with a deadline, counting files, the tail of a log.
"""
import os
import resource
import socket
import subprocess
import time

from bench_conf import BenchError


# ---------------------------------------------------------------- processes

def stat_fields(pid):
    """The fields of /proc/PID/stat after comm (state is [0], utime [11],
    stime [12], starttime [19]), or None when the process is gone."""
    try:
        with open("/proc/%d/stat" % pid, "rb") as f:
            stat = f.read()
    except OSError:
        return None
    # comm may hold spaces and parentheses: fields follow the last ')'
    return stat[stat.rfind(b")") + 2:].split()


def proc_stats():
    """(pid, fields after comm) for every process now on the machine."""
    for name in os.listdir("/proc"):
        if name.isdigit():
            rest = stat_fields(int(name))
            if rest is not None:
                yield int(name), rest


def proc_children():
    """ppid -> [pid] for every process now on the machine."""
    kids = {}
    for pid, rest in proc_stats():
        kids.setdefault(int(rest[1]), []).append(pid)
    return kids


def tree(root_pid):
    """root_pid and all its descendants (those alive now)."""
    if root_pid is None:
        return []
    kids = proc_children()
    out, todo = [], [root_pid]
    while todo:
        p = todo.pop()
        out.append(p)
        todo.extend(kids.get(p, ()))
    return out


def pid_alive(pid):
    try:
        os.kill(pid, 0)
        return True
    except ProcessLookupError:
        return False
    except PermissionError:
        return True


def mem_kib(pids):
    """(sum of Pss, sum of Rss) in KiB over pids, from smaps_rollup."""
    pss = rss = 0
    for p in pids:
        try:
            with open("/proc/%d/smaps_rollup" % p, "rb") as f:
                for line in f:
                    if line.startswith(b"Pss:"):
                        pss += int(line.split()[1])
                    elif line.startswith(b"Rss:"):
                        rss += int(line.split()[1])
        except OSError:
            pass    # gone in between, or a kernel thread
    return pss, rss


CLK_TCK = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pids):
    """CPU time (user + system) of pids, plus that of their reaped children.

    A reaped child's time is in its parent's cutime/cstime, and a live one's
    in its own fields, so summing all four over the live tree counts every
    process that ever ran under the root once (orphans reparented to init
    would be lost; neither server makes any)."""
    total = 0
    for p in pids:
        rest = stat_fields(p)
        if rest is not None:
            total += sum(int(x) for x in rest[11:15])   # utime stime cutime cstime
    return total / CLK_TCK


class CpuWindow:
    """CPU time (utime + stime) of a server's processes from start() on, summed
    per process: a process that was there at start counts what it used since,
    one that appeared since counts all it used, one that exited counts up to
    its last sample. Reaped children's times (cutime) are never added, so a
    Postfix daemon exiting after max_idle does not bring its whole life in."""

    def __init__(self, srv):
        self.srv, self.first, self.last = srv, {}, {}

    def read(self):
        out = {}
        for pid in self.srv.pids():
            rest = stat_fields(pid)
            if rest is not None:
                out[(pid, rest[19])] = int(rest[11]) + int(rest[12])   # key: pid, starttime
        return out

    def start(self):
        self.first = self.read()
        self.last = dict(self.first)

    def sample(self):
        self.last.update(self.read())
        return self.seconds()

    def seconds(self):
        return sum(v - self.first.get(k, 0) for k, v in self.last.items()) / CLK_TCK


def cpu_snap():
    """(all CPU time, busy CPU time) of the machine so far, in seconds summed
    over the CPUs. Busy is user, nice, system and steal: not idle or iowait,
    and not irq and softirq, which go to whatever the network and the disks
    need (mostly the benchmark's own loopback traffic and fsyncs)."""
    with open("/proc/stat") as f:
        v = [int(x) for x in f.readline().split()[1:9]]
    user, nice, system, idle, iowait, irq, softirq, steal = v
    return sum(v) / CLK_TCK, (user + nice + system + steal) / CLK_TCK


def kthread_cpu():
    """CPU time of the kernel's threads (jbd2, kworkers: journal commits and
    writeback on behalf of whoever fsyncs, the benchmark included)."""
    total = 0
    for pid, rest in proc_stats():
        if pid == 2 or rest[1] == b"2":
            total += int(rest[11]) + int(rest[12])
    return total / CLK_TCK


def own_cpu():
    """CPU time of this script and of its reaped children (smtp-source)."""
    a, b = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return a.ru_utime + a.ru_stime + b.ru_utime + b.ru_stime


def machine_busy(seconds=1.0):
    """Fraction of all CPUs busy (not idle or iowait) over the next seconds."""
    t1, b1 = cpu_snap()
    time.sleep(seconds)
    t2, b2 = cpu_snap()
    return 0.0 if t2 == t1 else (b2 - b1) / (t2 - t1)


def wait_port(port, deadline, alive=lambda: True, host="127.0.0.1"):
    while time.monotonic() < deadline:
        if not alive():
            raise BenchError("server exited before listening on %s:%d" % (host, port))
        try:
            with socket.create_connection((host, port), timeout=1) as s:
                s.settimeout(2)
                try:
                    s.recv(512)          # the greeting: the server is serving
                except OSError:
                    pass
            return
        except OSError:
            time.sleep(0.1)
    raise BenchError("%s:%d never accepted a connection" % (host, port))


def port_free(port, host="127.0.0.1"):
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        s.bind((host, port))
        return True
    except OSError:
        return False
    finally:
        s.close()


def free_port(host="127.0.0.1"):
    """A TCP port nothing listens on now (the kernel's pick)."""
    s = socket.socket()
    try:
        s.bind((host, 0))
        return s.getsockname()[1]
    finally:
        s.close()


def run(cmd, timeout=60, check=True, **kw):
    p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                       timeout=timeout, text=True, **kw)
    if check and p.returncode != 0:
        raise BenchError("%s failed (%d): %s" % (" ".join(cmd), p.returncode, p.stdout.strip()[-2000:]))
    return p.stdout


def count_files(d):
    try:
        with os.scandir(d) as it:
            return sum(1 for _ in it)
    except FileNotFoundError:
        return 0


def tail(path, n=20):
    try:
        with open(path, errors="replace") as f:
            return "".join(f.readlines()[-n:])
    except OSError:
        return ""
