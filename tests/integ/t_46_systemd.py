"""
t_46_systemd: postino as a systemd service. contrib/postino.service passes
`systemd-analyze verify` (with the binary under test in ExecStart and the man
pages it names found) and `systemd-analyze security --offline=true` rates its
exposure 2.5 or lower; its capability bounding set is exactly what the start
as root and the drop to run_as need. The readiness protocol is checked
without systemd: `postino serve` with NOTIFY_SOCKET naming a datagram socket
the test binds (a path, then an abstract name) sends READY=1 only once the
SMTP port accepts, RELOADING=1 (with MONOTONIC_USEC) then READY=1 around a
SIGHUP, and STOPPING=1 at SIGTERM. When PID 1 is systemd the unit is also
started, reloaded and stopped for real; otherwise that test is skipped and
says why.
"""
import os
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import unittest
import uuid

import lib

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
UNIT = os.path.join(ROOT, "contrib", "postino.service")
MAX_EXPOSURE = 2.5
CAPABILITIES = {"CAP_NET_BIND_SERVICE", "CAP_SETUID", "CAP_SETGID", "CAP_CHOWN", "CAP_FOWNER",
                "CAP_DAC_OVERRIDE"}


def read_unit():
    with open(UNIT) as f:
        return f.read()


def unit_values(text, key):
    return [l.split("=", 1)[1] for l in text.splitlines() if l.startswith(key + "=")]


def systemd_analyze():
    path = shutil.which("systemd-analyze")
    if not path:
        raise AssertionError("systemd-analyze is missing: scripts/install-deps.sh installs systemd")
    return path


def man_tree(tmp):
    """A MANPATH holding the two pages the unit's Documentation= names."""
    for page, section in (("postino.8", "man8"), ("postino.conf.5", "man5")):
        os.makedirs(os.path.join(tmp, "man", section), exist_ok=True)
        shutil.copy(os.path.join(ROOT, "docs", page), os.path.join(tmp, "man", section, page))
    return os.path.join(tmp, "man")


class UnitFile(unittest.TestCase):

    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="postino-t46-")
        self.addCleanup(shutil.rmtree, self.tmp, True)

    def test_verify_passes(self):
        unit = os.path.join(self.tmp, "postino.service")
        with open(unit, "w") as f:
            f.write(read_unit().replace("/usr/local/sbin/postino", lib.BIN))
        env = dict(os.environ, MANPATH=man_tree(self.tmp))
        cp = subprocess.run([systemd_analyze(), "verify", unit], stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, env=env, timeout=60)
        out = cp.stdout.decode("utf-8", "replace")
        self.assertEqual(cp.returncode, 0, out)
        self.assertEqual(out.strip(), "", "systemd-analyze verify complained")

    def test_security_exposure_at_most_2_5(self):
        cp = subprocess.run([systemd_analyze(), "security", "--offline=true", "--no-pager", UNIT],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=60)
        out = cp.stdout.decode("utf-8", "replace")
        m = re.search(r"Overall exposure level for \S+: ([0-9]+(?:\.[0-9]+)?)", out)
        self.assertIsNotNone(m, "no exposure level in:\n%s" % out)
        self.assertLessEqual(float(m.group(1)), MAX_EXPOSURE, out)

    def test_directives(self):
        text = read_unit()
        self.assertEqual(unit_values(text, "Type"), ["notify"])
        self.assertEqual(unit_values(text, "ExecStart"),
                         ["/usr/local/sbin/postino serve -c /etc/postino/postino.conf"])
        self.assertEqual(unit_values(text, "ExecReload"), ["/bin/kill -HUP $MAINPID"])
        self.assertEqual(unit_values(text, "KillSignal"), ["SIGTERM"])
        self.assertEqual(unit_values(text, "Restart"), ["on-failure"])
        caps = unit_values(text, "CapabilityBoundingSet")
        self.assertEqual(len(caps), 1)
        self.assertEqual(set(caps[0].split()), CAPABILITIES)
        for cap in CAPABILITIES:   # each one says why it is there
            self.assertRegex(text, r"(?m)^#.*\b%s\b" % cap)
        self.assertEqual(unit_values(text, "ReadWritePaths"), ["/var/lib/postino"])
        self.assertEqual(set(unit_values(text, "RestrictAddressFamilies")[0].split()),
                         {"AF_INET", "AF_INET6", "AF_UNIX"})
        self.assertIn("@system-service", unit_values(text, "SystemCallFilter"))
        for key, value in (("NoNewPrivileges", "yes"), ("ProtectSystem", "strict"),
                           ("ProtectHome", "yes"), ("PrivateTmp", "yes"),
                           ("PrivateDevices", "yes"), ("UMask", "0077")):
            self.assertEqual(unit_values(text, key), [value], key)


# --------------------------------------------------------------------------
# The readiness protocol, without systemd


class NotifyListener:
    """A UNIX datagram socket standing in for systemd's notification socket."""

    def __init__(self, tmp, abstract=False):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        if abstract:
            name = "postino-t46-%s" % uuid.uuid4().hex
            self.sock.bind("\0" + name)
            self.env = "@" + name
        else:
            self.env = os.path.join(tmp, "notify")
            self.sock.bind(self.env)
            # like systemd's /run/systemd/notify: READY=1 comes after the drop to run_as
            os.chmod(self.env, 0o666)
        self.states = []   # every datagram received, as a dict

    def close(self):
        self.sock.close()

    def next(self, timeout=lib.START_TIMEOUT):
        """The next datagram as a dict of KEY=VALUE lines (AssertionError after timeout)."""
        self.sock.settimeout(timeout)
        try:
            data = self.sock.recv(4096)
        except socket.timeout:
            raise AssertionError("no notification within %.0fs; so far: %s"
                                 % (timeout, self.states))
        state = dict(l.split("=", 1) for l in data.decode().split("\n") if "=" in l)
        self.states.append(state)
        return state


def start_notified(srv, notify_env):
    """Starts srv's `postino serve` with NOTIFY_SOCKET set; does not wait for the port."""
    srv.starts += 1
    env = dict(os.environ, NOTIFY_SOCKET=notify_env)
    with open(os.path.join(srv.tmp, "serve-%d.stdout" % srv.starts), "wb") as out, \
            open(srv.stderr_path, "wb") as err:
        srv.proc = subprocess.Popen([lib.BIN, "serve", "-c", srv.conf], stdin=subprocess.DEVNULL,
                                    stdout=out, stderr=err, cwd=srv.tmp, env=env)
    lib._running.add(srv.proc)


def monotonic_usec():
    return int(time.clock_gettime(time.CLOCK_MONOTONIC) * 1000000)


class Readiness(lib.IntegTestCase):

    def check_protocol(self, abstract):
        srv = self.server(start=False)
        listener = NotifyListener(srv.tmp, abstract)
        self.addCleanup(listener.close)
        start_notified(srv, listener.env)
        state = listener.next()
        self.assertEqual(state.get("READY"), "1", "the first notification must be READY=1")
        # Sent once every listener is bound: the port answers at once, without a retry.
        with lib.Raw(srv.port) as c:
            self.assertEqual(c.greeting.code, 220)
        self.assertIn("STATUS", state)

        before = monotonic_usec()
        srv.proc.send_signal(signal.SIGHUP)
        state = listener.next()
        self.assertEqual(state.get("RELOADING"), "1", listener.states)
        self.assertTrue(before <= int(state["MONOTONIC_USEC"]) <= monotonic_usec(), state)
        self.assertEqual(listener.next().get("READY"), "1", listener.states)
        msg = lib.make_message("t46 after reload", to="bob@example.test")
        srv.send("alice@sender.test", ["bob@example.test"], msg)
        srv.wait_mail("bob")

        srv.stop()   # SIGTERM, exit 0
        self.assertEqual(listener.next().get("STOPPING"), "1", listener.states)
        self.assertEqual(len(listener.states), 4, listener.states)

    def test_path_socket(self):
        self.check_protocol(abstract=False)

    def test_abstract_socket(self):
        self.check_protocol(abstract=True)


# --------------------------------------------------------------------------
# The unit for real, when the machine runs systemd


def pid1():
    try:
        with open("/proc/1/comm") as f:
            return f.read().strip()
    except OSError as e:
        return "unknown (%s)" % e


class RealStart(unittest.TestCase):

    def setUp(self):
        if pid1() != "systemd":
            self.skipTest("PID 1 is %s, not systemd: the unit is checked with systemd-analyze "
                          "and the readiness protocol without systemd, but not started for real"
                          % pid1())
        if os.geteuid() != 0:
            self.skipTest("starting a system unit needs root")
        # The unit hides /tmp and /home: the config and data_dir go under /run.
        self.dir = tempfile.mkdtemp(prefix="postino-t46-", dir="/run")
        self.addCleanup(shutil.rmtree, self.dir, True)
        self.name = "postino-t46-%d.service" % os.getpid()
        self.path = os.path.join("/run/systemd/system", self.name)
        self.addCleanup(self.remove_unit)

    def systemctl(self, *args):
        return subprocess.run(["systemctl"] + list(args), stdout=subprocess.PIPE,
                              stderr=subprocess.STDOUT, timeout=60)

    def remove_unit(self):
        self.systemctl("stop", self.name)
        if os.path.exists(self.path):
            os.unlink(self.path)
        self.systemctl("daemon-reload")
        self.systemctl("reset-failed", self.name)

    def write_unit(self, conf, data):
        text = read_unit().replace("/usr/local/sbin/postino", lib.BIN)
        text = text.replace("/etc/postino/postino.conf", conf)
        text = text.replace("ReadWritePaths=/var/lib/postino", "ReadWritePaths=%s" % data)
        if lib.BIN.startswith(("/home/", "/root/")):   # a build in a home folder
            text = text.replace("ProtectHome=yes", "ProtectHome=read-only")
        with open(self.path, "w") as f:
            f.write(text)

    def test_start_reload_stop(self):
        data = os.path.join(self.dir, "data")
        os.makedirs(data, 0o711)
        port = lib.free_port()
        conf = os.path.join(self.dir, "postino.conf")
        with open(conf, "w") as f:
            f.write("hostname mx.test\nlocal_domains example.test\ndata_dir %s\n"
                    "listen smtp 127.0.0.1:%d\n" % (data, port))
        self.write_unit(conf, data)
        self.assertEqual(self.systemctl("daemon-reload").returncode, 0)
        cp = self.systemctl("start", self.name)   # returns once READY=1 arrived
        self.assertEqual(cp.returncode, 0, cp.stdout)
        with lib.Raw(port) as c:
            self.assertEqual(c.greeting.code, 220)
        cp = self.systemctl("reload", self.name)
        self.assertEqual(cp.returncode, 0, cp.stdout)
        lib.wait_for(lambda: self.systemctl("is-active", self.name).stdout.strip() == b"active",
                     what="the unit active again after the reload")
        cp = self.systemctl("stop", self.name)
        self.assertEqual(cp.returncode, 0, cp.stdout)
        cp = self.systemctl("show", "-p", "Result", "--value", self.name)
        self.assertEqual(cp.stdout.strip(), b"success")


if __name__ == "__main__":
    unittest.main()
