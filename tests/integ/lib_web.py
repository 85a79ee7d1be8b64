"""
lib_web: a small HTTP client for the Web reader's tests (listen web/webs),
over Python's http.client: it keeps the session cookie as a browser does,
reads the CSRF token of the last page's forms, and follows nothing by
itself (a test sees every 303). Browser-level tests (scripts, frames,
remote images) use headless Chromium through lib_browser instead.
"""
import html.parser
import http.client
import ssl
import urllib.parse

import lib_base


class _Forms(html.parser.HTMLParser):
    """Collects the hidden inputs, links and iframes of a page."""

    def __init__(self):
        super().__init__()
        self.hidden = {}
        self.links = []
        self.frames = []

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "input" and a.get("type") == "hidden" and a.get("name"):
            self.hidden[a["name"]] = a.get("value", "")
        elif tag == "a" and a.get("href"):
            self.links.append(a["href"])
        elif tag == "iframe" and a.get("src"):
            self.frames.append(a["src"])


class Response:
    def __init__(self, status, headers, body):
        self.status = status
        self.headers = headers          # http.client.HTTPMessage
        self.body = body                # bytes

    @property
    def text(self):
        return self.body.decode("utf-8", "replace")

    def header(self, name):
        return self.headers.get(name)

    def page(self):
        p = _Forms()
        p.feed(self.text)
        return p


class WebClient:
    """One browser-like client: cookies kept, the CSRF token of the last page remembered."""

    def __init__(self, port, host="127.0.0.1", https=False, timeout=None):
        self.host, self.port, self.https = host, port, https
        self.timeout = timeout or lib_base.DELIVERY_TIMEOUT
        self.cookies = {}
        self.csrf = None
        self.last = None

    def _conn(self):
        if self.https:
            ctx = ssl.create_default_context()
            ctx.check_hostname = False
            ctx.verify_mode = ssl.CERT_NONE
            return http.client.HTTPSConnection(self.host, self.port, timeout=self.timeout,
                                               context=ctx)
        return http.client.HTTPConnection(self.host, self.port, timeout=self.timeout)

    def request(self, method, path, body=None, headers=None):
        h = dict(headers or {})
        if self.cookies:
            h["Cookie"] = "; ".join("%s=%s" % kv for kv in self.cookies.items())
        c = self._conn()
        try:
            c.request(method, path, body=body, headers=h)
            r = c.getresponse()
            resp = Response(r.status, r.headers, r.read())
        finally:
            c.close()
        for v in resp.headers.get_all("Set-Cookie") or []:
            name, _, rest = v.partition("=")
            value = rest.split(";", 1)[0]
            if "Max-Age=0" in v or not value:
                self.cookies.pop(name, None)
            else:
                self.cookies[name] = value
        if resp.status == 200 and "text/html" in (resp.header("Content-Type") or ""):
            token = resp.page().hidden.get("csrf")
            if token:
                self.csrf = token
        self.last = resp
        return resp

    def get(self, path):
        return self.request("GET", path)

    def post(self, path, fields, csrf=True, headers=None):
        f = dict(fields)
        if csrf and self.csrf and "csrf" not in f:
            f["csrf"] = self.csrf
        h = {"Content-Type": "application/x-www-form-urlencoded"}
        h.update(headers or {})
        return self.request("POST", path, urllib.parse.urlencode(f).encode(), h)

    def login(self, user, password):
        """Logs in; returns the response to the POST (303 to /inbox on success)."""
        self.get("/")
        r = self.post("/login", {"user": user, "password": password}, csrf=False)
        if r.status == 303:
            self.get("/inbox")
        return r
