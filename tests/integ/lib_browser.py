"""
lib_browser: a real browser for the Web reader's tests: Debian's headless
Chromium driven by chromium-driver (/usr/bin/chromedriver) through
python3-selenium, one per test module.

What it owns: Browser, which starts chromedriver and Chromium with a fresh
profile (--user-data-dir) and a download folder in its own temp dir,
headless, without GPU, /dev/shm or sandbox (the sandbox needs user
namespaces a root test run does not have), and with no name resolution nor
background traffic (pages are on 127.0.0.1: nothing else is reached); the
bounded waits (WebDriverWait with lib_base's deadline, never a fixed sleep);
screenshots into build/test-output/web/ (created; each path is printed on
stderr); and close(), which always quits the driver and then kills by pid
the chromedriver and Chromium processes it started that linger (only those:
their pids and start times are noted while they run; lib_procs).

A module whose browser cannot start because Chromium, chromium-driver or
python3-selenium is missing and cannot be installed is skipped with the
reason (require_browser()); any other failure to start fails the test.
"""
import os
import shutil
import subprocess
import sys
import tempfile

import lib_base
import lib_procs

CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
PACKAGES = ["chromium", "chromium-driver", "python3-selenium"]
INSTALL_TIMEOUT = 900
OUTPUT_DIR = os.path.join(lib_base.ROOT, "build", "test-output", "web")


def _selenium_importable():
    try:
        import selenium.webdriver  # noqa: F401
        return True
    except ImportError:
        return False


def require_browser():
    """None when Chromium, chromedriver and selenium are usable (installing
    the Debian packages when missing and running as root), else the reason to
    skip."""
    if os.path.exists(CHROMIUM) and os.path.exists(CHROMEDRIVER) and _selenium_importable():
        return None
    if os.getuid() != 0:
        return "chromium, chromium-driver or python3-selenium missing and not root to install them"
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    try:
        res = subprocess.run(["apt-get", "install", "-y", "-q", "--no-install-recommends"]
                             + PACKAGES, env=env, stdin=subprocess.DEVNULL,
                             stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                             timeout=INSTALL_TIMEOUT)
    except (OSError, subprocess.TimeoutExpired) as e:
        return "cannot install %s: %s" % (" ".join(PACKAGES), e)
    if res.returncode != 0:
        tail = res.stdout.decode("utf-8", "replace").strip().splitlines()[-3:]
        return "cannot install %s (apt-get exit %d): %s" % (" ".join(PACKAGES), res.returncode,
                                                          " | ".join(tail))
    if not (os.path.exists(CHROMIUM) and os.path.exists(CHROMEDRIVER) and
            _selenium_importable()):
        return "chromium/chromedriver/selenium still missing after apt-get install"
    return None


# --------------------------------------------------------------------------
# The browser


class Browser:
    """One headless Chromium for a test module.

        b = Browser(); b.start()  ...  b.close()   (close is idempotent)

    b.driver is the selenium WebDriver; b.downloads the download folder."""

    def __init__(self, timeout=None):
        self.timeout = timeout or max(lib_base.DELIVERY_TIMEOUT, 10.0)
        self.tmp = tempfile.mkdtemp(prefix="postino-browser-")
        self.profile = os.path.join(self.tmp, "profile")
        self.downloads = os.path.join(self.tmp, "downloads")
        os.mkdir(self.profile)
        os.mkdir(self.downloads)
        self.driver = None
        self.service = None
        self._family = []         # (pid, start) of chromedriver and Chromium, seen while running

    def options(self):
        from selenium.webdriver.chrome.options import Options
        o = Options()
        o.binary_location = CHROMIUM
        for arg in ("--headless=new", "--disable-gpu", "--disable-dev-shm-usage",
                    "--user-data-dir=" + self.profile, "--window-size=1200,900",
                    "--no-first-run", "--no-default-browser-check", "--disable-sync",
                    "--disable-background-networking", "--disable-component-update",
                    "--disable-default-apps", "--disable-extensions", "--mute-audio",
                    "--metrics-recording-only", "--no-proxy-server",
                    "--disable-features=Translate,MediaRouter,OptimizationHints",
                    # no name is resolved: the pages are on 127.0.0.1
                    "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1"):
            o.add_argument(arg)
        if os.getuid() == 0:
            o.add_argument("--no-sandbox")
        o.add_experimental_option("prefs", {
            "download.default_directory": self.downloads,
            "download.prompt_for_download": False,
            "download.directory_upgrade": True,
            "safebrowsing.enabled": False,
        })
        return o

    def start(self):
        from selenium import webdriver
        from selenium.webdriver.chrome.service import Service
        log = os.path.join(self.tmp, "chromedriver.log")
        # A home of its own: Chromium's crash handler, which detaches from the
        # browser's process tree, then names this folder on its command line
        # (its database), so close() can tell it is ours.
        home = os.path.join(self.tmp, "home")
        os.mkdir(home)
        env = dict(os.environ, HOME=home, XDG_CONFIG_HOME=os.path.join(home, ".config"),
                   XDG_CACHE_HOME=os.path.join(home, ".cache"))
        self.service = Service(executable_path=CHROMEDRIVER, log_path=log, env=env)
        lib_procs.become_subreaper()
        try:
            self.driver = webdriver.Chrome(service=self.service, options=self.options())
        except Exception as e:
            self.close()
            raise AssertionError("headless Chromium did not start: %s\n%s"
                                 % (e, lib_base.read_text(log)[-3000:]))
        self._note_family()
        self.driver.set_page_load_timeout(self.timeout)
        # Headless Chromium saves downloads only when told where, over CDP.
        self.driver.execute_cdp_cmd("Browser.setDownloadBehavior",
                                    {"behavior": "allow", "downloadPath": self.downloads})
        return self

    def _note_family(self):
        """Notes the processes we started: chromedriver's descendants, and those
        that name our temp dir on their command line (the detached crash handler)."""
        proc = getattr(self.service, "process", None)
        if proc is None:
            return
        self._adopt(lib_procs.descendants(proc.pid, itself=True) + lib_procs.naming(self.tmp))

    def _adopt(self, entries):
        for e in entries:
            if e not in self._family:
                self._family.append(e)

    # waits and pages

    def wait(self, predicate, what="a condition", timeout=None):
        """WebDriverWait(predicate(driver)) with the module's deadline; returns its value."""
        from selenium.common.exceptions import TimeoutException
        from selenium.webdriver.support.ui import WebDriverWait
        try:
            return WebDriverWait(self.driver, timeout or self.timeout, poll_frequency=0.05).until(
                predicate)
        except TimeoutException:
            raise AssertionError("browser: timed out after %.1fs waiting for %s (at %s)"
                                 % (timeout or self.timeout, what, self.driver.current_url))

    def get(self, url):
        self.driver.get(url)
        self._note_family()

    def find(self, css):
        from selenium.webdriver.common.by import By
        return self.driver.find_element(By.CSS_SELECTOR, css)

    def find_all(self, css):
        from selenium.webdriver.common.by import By
        return self.driver.find_elements(By.CSS_SELECTOR, css)

    def wait_css(self, css, timeout=None):
        """The first element matching css, waiting (bounded) for it to appear."""
        from selenium.webdriver.common.by import By
        return self.wait(lambda d: (d.find_elements(By.CSS_SELECTOR, css) or [None])[0],
                         "an element %s" % css, timeout)

    def wait_url(self, fragment, timeout=None):
        return self.wait(lambda d: fragment in d.current_url and d.current_url,
                         "a URL containing %r" % fragment, timeout)

    def wait_loaded(self, timeout=None):
        """The current document (or frame) has finished loading, subresources included."""
        return self.wait(lambda d: d.execute_script("return document.readyState") == "complete",
                         "document.readyState complete", timeout)

    def wait_download(self, timeout=None):
        """The path of the first finished download (no .crdownload left)."""
        def done(_):
            names = os.listdir(self.downloads)
            if names and not any(n.endswith(".crdownload") for n in names):
                return os.path.join(self.downloads, sorted(names)[0])
            return None
        return self.wait(done, "a finished download in %s" % self.downloads, timeout)

    def screenshot(self, name):
        """Saves the page as build/test-output/web/NAME.png; prints and returns the path."""
        os.makedirs(OUTPUT_DIR, exist_ok=True)
        path = os.path.join(OUTPUT_DIR, name + ".png")
        if not self.driver.save_screenshot(path):
            raise AssertionError("screenshot %s not written" % path)
        sys.stderr.write("screenshot: %s\n" % path)
        return path

    # teardown

    def close(self):
        """Quits the driver, then kills (by pid) the processes it started that linger."""
        if self.driver is not None:
            self._note_family()
            try:
                self.driver.quit()
            except Exception:
                pass
            self.driver = None
        if self.service is not None:
            try:
                self.service.stop()
            except Exception:
                pass
            self.service = None
        # What Chromium started meanwhile and still names our folder is ours too.
        self._adopt(lib_procs.naming(self.tmp))
        lib_procs.stop_family(self._family)
        lib_procs.reap_adopted("chrom")
        self._family = []
        if not lib_base.KEEP_TMP:
            shutil.rmtree(self.tmp, ignore_errors=True)
