"""
peers_aiosmtpd: a real SMTP peer for the relay tests (re-exported by peers).

What it owns: AiosmtpdPeer, aiosmtpd's Controller (python3-aiosmtpd) on
(ip, port) storing every message it accepts, with STARTTLS when given a
certificate.
"""
import logging
import threading
import time

from peers_smtp import server_tls_context


# --------------------------------------------------------------------------
# A real peer: aiosmtpd


class AiosmtpdPeer:
    """aiosmtpd's Controller on (ip, port) storing every message it accepts:
    self.messages() -> [{"sender", "rcpts", "data" (bytes), "mail_options",
    "rcpt_options", "tls", "peer", "auth" (the user, or None)}]. cert/key: offer
    STARTTLS. auth={user: password}: AUTH (aiosmtpd's PLAIN and LOGIN, minus
    auth_exclude) offered after STARTTLS only and required for MAIL; every
    attempt is kept (auth_tries())."""

    def __init__(self, ip, port, cert=None, key=None, hostname="aiosmtpd.test", auth=None,
                 auth_exclude=()):
        from aiosmtpd.controller import Controller     # python3-aiosmtpd
        self.ip, self.port = ip, port
        self._lock = threading.Lock()
        self._messages = []
        self._sessions = []
        self._auth_tries = []
        peer = self

        class Handler:
            async def handle_EHLO(self, server, session, envelope, hostname, responses):
                session.host_name = hostname
                with peer._lock:
                    peer._sessions.append({"ehlo": hostname, "tls": session.ssl is not None})
                return responses

            async def handle_DATA(self, server, session, envelope):
                with peer._lock:
                    peer._messages.append({
                        "sender": envelope.mail_from,
                        "rcpts": list(envelope.rcpt_tos),
                        "data": envelope.original_content or envelope.content,
                        "mail_options": list(envelope.mail_options),
                        "rcpt_options": list(envelope.rcpt_options),
                        "tls": session.ssl is not None,
                        "peer": session.peer,
                        "auth": session.auth_data,
                    })
                return "250 2.0.0 stored"

        def authenticator(server, session, envelope, mechanism, data):
            from aiosmtpd.smtp import AuthResult
            user = data.login.decode("utf-8", "replace")
            password = data.password.decode("utf-8", "replace")
            ok = auth is not None and auth.get(user) == password
            with peer._lock:
                peer._auth_tries.append({"mechanism": mechanism, "user": user,
                                         "password": password, "ok": ok,
                                         "tls": session.ssl is not None})
            return AuthResult(success=ok, handled=False, auth_data=user if ok else None)

        kw = {}
        if auth is not None:
            # aiosmtpd 1.4 sets its own deprecated Session.login_data after every AUTH
            # and logs a warning about it: only its errors, please
            logging.getLogger("mail.log").setLevel(logging.ERROR)
            # AUTH offered only after STARTTLS; MAIL refused (530) without it
            kw.update(authenticator=authenticator, auth_required=True, auth_require_tls=True,
                      auth_exclude_mechanism=list(auth_exclude))
        if cert:
            kw["tls_context"] = server_tls_context(cert, key)
            kw["require_starttls"] = False
        self.controller = Controller(Handler(), hostname=ip, port=port,
                                     server_hostname=hostname, ready_timeout=10, **kw)
        self._started = False

    def start(self):
        self.controller.start()
        self._started = True
        return self

    def stop(self):
        if self._started:
            self._started = False
            self.controller.stop()

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()

    def messages(self):
        with self._lock:
            return [dict(m) for m in self._messages]

    def auth_tries(self):
        """Every AUTH exchange: [{"mechanism", "user", "password", "ok", "tls"}]."""
        with self._lock:
            return [dict(a) for a in self._auth_tries]

    def sessions(self):
        with self._lock:
            return [dict(s) for s in self._sessions]

    def wait_messages(self, n, timeout=10.0):
        deadline = time.monotonic() + timeout
        while True:
            msgs = self.messages()
            if len(msgs) >= n:
                return msgs
            if time.monotonic() >= deadline:
                raise AssertionError("timed out after %.1fs waiting for %d message(s) at "
                                     "aiosmtpd %s:%d (got %d)" % (timeout, n, self.ip, self.port,
                                                                  len(msgs)))
            time.sleep(0.02)
