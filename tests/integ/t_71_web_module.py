"""
t_71_web_module: the Web reader is a module (postino-web.so, with GMime,
GLib and libxml2) that `postino serve` loads only when a web or webs
listener is configured, so a server without one does not carry those
libraries (the memory figures of bench/RESULTS.md). Loaded as root, the
module is refused when others could have changed it, and a missing module
is a clear start-up error, not a server without its Web reader.
"""
import os
import shutil
import subprocess
import tempfile

import lib

MODULE = "postino-web.so"


def needed(binary):
    """The shared libraries binary names (DT_NEEDED): the sanitizer build links the
    module's libraries itself (see the Makefile), the normal build does not."""
    out = subprocess.run(["readelf", "-d", binary], stdout=subprocess.PIPE,
                         stderr=subprocess.DEVNULL).stdout.decode("utf-8", "replace")
    return out


def mapped(pid):
    with open("/proc/%d/maps" % pid) as f:
        return f.read()


class WebModule(lib.IntegTestCase):

    def test_not_loaded_without_web_listener(self):
        srv = self.server()
        maps = mapped(srv.proc.pid)
        self.assertNotIn(MODULE, maps)
        if "libgmime" not in needed(lib.BIN):
            self.assertNotIn("libgmime", maps)
            self.assertNotIn("libxml2", maps)

    def test_loaded_with_web_listener(self):
        port = lib.free_port()
        srv = self.server(extra=["listen web 127.0.0.1:%d" % port])
        maps = mapped(srv.proc.pid)
        self.assertIn(MODULE, maps)
        self.assertIn("libgmime", maps)
        self.assertIn("web: listening on http 127.0.0.1:%d" % port, srv.log())

    def start_copy(self, module_mode):
        """serve from a copy of the binary, with the module (mode) or without (None)."""
        d = tempfile.mkdtemp(prefix="postino-webmod-")
        self.addCleanup(shutil.rmtree, d, True)
        os.chmod(d, 0o755)
        binary = os.path.join(d, "postino")
        shutil.copy2(lib.BIN, binary)
        if module_mode is not None:
            dst = os.path.join(d, MODULE)
            shutil.copy2(os.path.join(os.path.dirname(lib.BIN), MODULE), dst)
            os.chmod(dst, module_mode)
        conf = os.path.join(d, "postino.conf")
        with open(conf, "w") as f:
            f.write("data_dir %s/data\nlisten smtp 127.0.0.1:%d\nlisten web 127.0.0.1:%d\n"
                    % (d, lib.free_port(), lib.free_port()))
        os.chmod(conf, 0o644)
        return subprocess.run([binary, "serve", "-c", conf], stdin=subprocess.DEVNULL,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=60)

    def test_module_writable_by_others_is_refused(self):
        cp = self.start_copy(0o666)
        err = cp.stderr.decode("utf-8", "replace")
        self.assertNotEqual(cp.returncode, 0, err)
        self.assertIn("refused: writable by group or others", err)
        self.assertIsNone(lib.sanitizer_report(err), err)

    def test_missing_module_is_a_start_error(self):
        cp = self.start_copy(None)
        err = cp.stderr.decode("utf-8", "replace")
        self.assertNotEqual(cp.returncode, 0, err)
        self.assertIn("module postino-web.so is not next to", err)
        self.assertIsNone(lib.sanitizer_report(err), err)


if __name__ == "__main__":
    lib.unittest.main()
