#!/usr/bin/python3
"""
run: the runner of postino's integration tests. Finds tests/integ/t_*.py and
tests/crash/t_*.py, runs each module in its own worker process (4 at a time
by default, -j N to change: the tests mostly wait on servers and peers, so 4
keep 2 cores busy; 3 left them a third idle), the longest first (as the last run of this checkout
measured them, in build/integ-times.json; a module not measured yet counts as
slow), prints each module's output once it is done and
a last line "integ: P passed, F failed[, S skipped]". Exit status 1 if any
test failed or errored (or a worker died or timed out), else 0.

Usage: /usr/bin/python3 tests/integ/run.py [-j N] [-v] [FILTER ...]
A FILTER selects the tests whose id (module.Class.method) contains it, or
matches it as a shell pattern (t_03*, *smuggling*).
The binary under test is $POSTINO_BIN (see lib.py).
"""
import fnmatch
import importlib.util
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
TEST_DIRS = [os.path.join(ROOT, "tests", "integ"), os.path.join(ROOT, "tests", "crash")]
MODULE_TIMEOUT = float(os.environ.get("POSTINO_MODULE_TIMEOUT", "300"))
# The last measured duration of each module: the longest start first, so the
# workers finish at about the same time. Not versioned: build/ is the checkout's.
TIMES_FILE = os.path.join(ROOT, "build", "integ-times.json")
UNMEASURED_S = 30.0


def load_times():
    try:
        with open(TIMES_FILE) as f:
            t = json.load(f)
        return {k: float(v) for k, v in t.items()} if isinstance(t, dict) else {}
    except (OSError, ValueError, TypeError):
        return {}


def save_times(times):
    try:
        os.makedirs(os.path.dirname(TIMES_FILE), exist_ok=True)
        tmp = TIMES_FILE + ".%d" % os.getpid()
        with open(tmp, "w") as f:
            json.dump(times, f, indent=0, sort_keys=True)
        os.replace(tmp, TIMES_FILE)
    except OSError:
        pass  # only the order of the next run depends on it


def find_modules():
    paths = []
    for d in TEST_DIRS:
        if os.path.isdir(d):
            paths.extend(os.path.join(d, n) for n in sorted(os.listdir(d))
                         if n.startswith("t_") and n.endswith(".py"))

    times = load_times()

    def rank(p):
        name = os.path.basename(p)
        return (-times.get(name, UNMEASURED_S), name)
    return sorted(paths, key=rank)


def load_module(path):
    sys.path.insert(0, HERE)   # `import lib` from tests/crash as well
    name = os.path.splitext(os.path.basename(path))[0]
    spec = importlib.util.spec_from_file_location(name, path)
    mod = importlib.util.module_from_spec(spec)
    sys.modules[name] = mod
    spec.loader.exec_module(mod)
    return mod


def selected(test_id, filters):
    if not filters:
        return True
    for f in filters:
        if f in test_id or fnmatch.fnmatch(test_id, f) or fnmatch.fnmatch(test_id, "*" + f + "*"):
            return True
    return False


def iter_tests(suite):
    for t in suite:
        if isinstance(t, unittest.TestSuite):
            yield from iter_tests(t)
        else:
            yield t


class CountingResult(unittest.TextTestResult):
    """Counts outcomes per test (a test with a failing cleanup counts once, as failed)."""

    def __init__(self, *a, **kw):
        super().__init__(*a, **kw)
        self.outcome = {}

    def _set(self, test, what):
        tid = test.id()
        if self.outcome.get(tid) in ("failed",):
            return
        self.outcome[tid] = what

    def addSuccess(self, test):
        super().addSuccess(test)
        self.outcome.setdefault(test.id(), "passed")

    def addFailure(self, test, err):
        super().addFailure(test, err)
        self._set(test, "failed")

    def addError(self, test, err):
        super().addError(test, err)
        # errors in setUpClass etc. come with a _ErrorHolder: count them too
        self._set(test, "failed")

    def addSkip(self, test, reason):
        super().addSkip(test, reason)
        self.outcome.setdefault(test.id(), "skipped")

    def addUnexpectedSuccess(self, test):
        super().addUnexpectedSuccess(test)
        self._set(test, "failed")

    def addExpectedFailure(self, test, err):
        super().addExpectedFailure(test, err)
        self.outcome.setdefault(test.id(), "passed")

    def addSubTest(self, test, subtest, err):
        super().addSubTest(test, subtest, err)
        if err is not None:
            self._set(test, "failed")


def outcome_of(test, outcome):
    """A test's outcome; one that never ran takes the outcome of its class or
    module fixture (skipped by a SkipTest in setUpClass, failed by an error
    there), and counts as failed when there is none."""
    if test.id() in outcome:
        return outcome[test.id()]
    cls = type(test)
    for key in ("setUpClass (%s.%s)" % (cls.__module__, cls.__qualname__),
                "setUpModule (%s)" % cls.__module__):
        if key in outcome:
            return outcome[key]
    return "failed"


def worker(path, result_file, filters, verbose):
    """Runs one module's selected tests; writes {passed, failed, skipped} to result_file."""
    mod = load_module(path)
    suite = unittest.defaultTestLoader.loadTestsFromModule(mod)
    tests = [t for t in iter_tests(suite) if selected(t.id(), filters)]
    chosen = unittest.TestSuite(tests)   # (the suite drops its tests as they finish)
    runner = unittest.TextTestRunner(stream=sys.stdout, verbosity=2 if verbose else 1,
                                     resultclass=CountingResult)
    t0 = time.monotonic()
    result = runner.run(chosen)
    counts = {"passed": 0, "failed": 0, "skipped": 0, "failing": []}
    for t in tests:
        outcome = outcome_of(t, result.outcome)
        counts[outcome] += 1
        if outcome == "failed":
            counts["failing"].append(t.id())
    counts["seconds"] = time.monotonic() - t0
    with open(result_file, "w") as f:
        json.dump(counts, f)
    return 0


def count_selected(path, filters):
    if not filters:
        return None
    mod = load_module(path)
    suite = unittest.defaultTestLoader.loadTestsFromModule(mod)
    return sum(1 for t in iter_tests(suite) if selected(t.id(), filters))


def main(argv):
    jobs = int(os.environ.get("POSTINO_INTEG_JOBS", "4"))
    verbose = False
    filters = []
    args = list(argv)
    while args:
        a = args.pop(0)
        if a == "-j" and args:
            jobs = max(1, int(args.pop(0)))
        elif a.startswith("-j") and a[2:].isdigit():
            jobs = max(1, int(a[2:]))
        elif a in ("-v", "--verbose"):
            verbose = True
        elif a in ("-h", "--help"):
            print(__doc__.strip())
            return 0
        elif a == "--worker":
            return worker(args[0], args[1], args[2:], verbose)
        else:
            filters.append(a)

    modules = find_modules()
    if filters:
        # Module loading in a child keeps this process free of test imports.
        keep = []
        for p in modules:
            cp = subprocess.run([sys.executable, os.path.abspath(__file__), "--count", p] + filters,
                                stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
            out = cp.stdout.decode("utf-8", "replace").strip()
            if cp.returncode != 0 or not out.splitlines()[-1:] or out.splitlines()[-1] != "0":
                keep.append(p)
        modules = keep

    if not modules:
        print("integ: no test matches %s" % " ".join(filters))
        return 2
    sys.path.insert(0, HERE)
    import lib
    if not os.access(lib.BIN, os.X_OK):
        print("integ: POSTINO_BIN %s is not an executable (build it first)" % lib.BIN)
        return 2

    tmpdir = tempfile.mkdtemp(prefix="postino-run-")
    pending = list(modules)
    running = []   # (proc, path, result_file, out_file, start)
    totals = {"passed": 0, "failed": 0, "skipped": 0}
    broken = []
    failing = []   # ids of the tests that failed, named again at the end
    t_start = time.monotonic()

    def launch(path):
        name = os.path.splitext(os.path.basename(path))[0]
        rf = os.path.join(tmpdir, name + ".json")
        of = open(os.path.join(tmpdir, name + ".out"), "w+b")
        cmd = [sys.executable, os.path.abspath(__file__)] + (["-v"] if verbose else []) \
            + ["--worker", path, rf] + filters
        proc = subprocess.Popen(cmd, stdout=of, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                start_new_session=True, cwd=ROOT)
        running.append((proc, path, rf, of, time.monotonic()))

    measured = load_times()

    def finish(entry, timed_out):
        proc, path, rf, of, t0 = entry
        name = os.path.basename(path)
        if not filters:
            measured[name] = round(time.monotonic() - t0, 1)
        of.seek(0)
        out = of.read().decode("utf-8", "replace")
        of.close()
        print("==== %s (%.1fs)" % (name, time.monotonic() - t0))
        sys.stdout.write(out if out.endswith("\n") or not out else out + "\n")
        if timed_out:
            print("!!!! %s: killed after %.0fs" % (name, MODULE_TIMEOUT))
        try:
            with open(rf) as f:
                counts = json.load(f)
        except (OSError, ValueError):
            counts = None
        if counts is None or timed_out:
            broken.append(name)
            totals["failed"] += 1
            if counts is None and not timed_out:
                print("!!!! %s: worker exited %s without a result" % (name, proc.returncode))
        else:
            for k in totals:
                totals[k] += counts[k]
            failing.extend(counts.get("failing", []))
        sys.stdout.flush()

    try:
        while pending or running:
            while pending and len(running) < jobs:
                launch(pending.pop(0))
            for entry in list(running):
                proc, path, rf, of, t0 = entry
                timed_out = False
                if proc.poll() is None:
                    if time.monotonic() - t0 < MODULE_TIMEOUT:
                        continue
                    timed_out = True
                # the worker's session holds every postino it started: a live
                # one after a normal exit is a leak (reported), then ended
                leaked = False
                if not timed_out:
                    try:
                        os.killpg(proc.pid, 0)
                        leaked = True
                    except (ProcessLookupError, PermissionError):
                        pass
                try:
                    os.killpg(proc.pid, signal.SIGKILL)
                except (ProcessLookupError, PermissionError):
                    pass
                if leaked:
                    print("!!!! %s left a process behind" % os.path.basename(path))
                    broken.append(os.path.basename(path) + " (leaked process)")
                    totals["failed"] += 1
                proc.wait()
                running.remove(entry)
                finish(entry, timed_out)
            time.sleep(0.05)
    except KeyboardInterrupt:
        for proc, *_ in running:
            try:
                os.killpg(proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            proc.wait()
        raise
    finally:
        for n in os.listdir(tmpdir):
            os.unlink(os.path.join(tmpdir, n))
        os.rmdir(tmpdir)

    if not filters:
        save_times(measured)
    line = "integ: %d passed, %d failed" % (totals["passed"], totals["failed"])
    if totals["skipped"]:
        line += ", %d skipped" % totals["skipped"]
    if broken:
        print("broken modules: %s" % ", ".join(broken))
    for tid in failing:
        print("failing: %s" % tid)
    print("(%.1fs)" % (time.monotonic() - t_start))
    print(line)
    return 1 if totals["failed"] else 0


if __name__ == "__main__":
    if len(sys.argv) > 2 and sys.argv[1] == "--count":
        print(count_selected(sys.argv[2], sys.argv[3:]))
        sys.exit(0)
    sys.exit(main(sys.argv[1:]))
