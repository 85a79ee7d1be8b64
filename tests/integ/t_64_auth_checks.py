"""
t_64_auth_checks: the checks on inbound mail from clients that are neither
in relay_networks nor authenticated (RFC 7208 SPF, RFC 6376 DKIM, RFC 7489
DMARC), reported in one Authentication-Results field (RFC 8601).

The domains live in a dnsmasq the server's dns_servers points at: SPF
records that pass, fail, softfail, none; a DKIM key (messages signed by
dkimpy, Debian's python3-dkim); DMARC policies p=none and p=reject. The
server's relay_networks is 127.0.0.200/32, so a client on 127.0.0.2 is
checked (a loopback client is judged by the SPF record like any other, so
127/8 addresses serve) and one bound to 127.0.0.200 is trusted. A DNS server
that never answers gives temperror, not a hang; one that answers SERVFAIL
gives it at once. Each result is read from the delivered
Maildir file and parsed with python3-authres (RFC 8601 syntax).
"""
import base64
import os
import shutil
import subprocess
import tempfile
import time
import unittest

import authres
import dkim

import lib
from lib import expect
from peers import SERVFAIL, BlackholeDns, DnsServer

TRUSTED = "127.0.0.200"
STRANGER = "127.0.0.2"     # outside relay_networks; SPF records below allow 127.0.0.0/8
SPF_OK = "v=spf1 ip4:127.0.0.0/8 -all"


def make_key(folder):
    """A 1024-bit RSA key (PEM bytes) and its DKIM TXT record (fits one string)."""
    path = os.path.join(folder, "dkim.key")
    subprocess.run(["openssl", "genrsa", "-out", path, "1024"], check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    der = subprocess.run(["openssl", "rsa", "-in", path, "-pubout", "-outform", "DER"],
                         check=True, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL).stdout
    with open(path, "rb") as f:
        pem = f.read()
    return pem, "v=DKIM1; k=rsa; p=" + base64.b64encode(der).decode()


def make_ed25519_key():
    """An Ed25519 key as dkimpy takes it (base64 seed) and its DKIM TXT record (RFC 8463)."""
    import nacl.signing
    k = nacl.signing.SigningKey.generate()
    return (base64.b64encode(bytes(k)),
            "v=DKIM1; k=ed25519; p=" + base64.b64encode(bytes(k.verify_key)).decode())


def zone(key_txt, ed_txt="v=DKIM1; k=ed25519; p="):
    dns = DnsServer()
    dns.txt("ed._domainkey.dk.test", ed_txt)
    dns.txt("pass.test", SPF_OK).txt("_dmarc.pass.test", "v=DMARC1; p=reject")
    dns.txt("fail.test", "v=spf1 ip4:192.0.2.1 -all")
    dns.txt("soft.test", "v=spf1 ~all")
    dns.txt("helo.test", SPF_OK)
    dns.txt("mxspf.test", "v=spf1 mx a:host.mxspf.test -all")
    dns.mx("mxspf.test", "mail.mxspf.test", 10).a("mail.mxspf.test", "127.0.0.2")
    dns.a("host.mxspf.test", "127.0.0.3")
    dns.txt("inc.test", "v=spf1 include:fail.test include:pass.test -all")
    dns.txt("sel._domainkey.dk.test", key_txt)
    dns.txt("sel._domainkey.dkdm.test", key_txt).txt("_dmarc.dkdm.test", "v=DMARC1; p=reject")
    dns.txt("monitor.test", "v=spf1 -all").txt("_dmarc.monitor.test", "v=DMARC1; p=none")
    dns.txt("reject.test", "v=spf1 -all").txt("_dmarc.reject.test", "v=DMARC1; p=reject")
    dns.txt("orgpol.test", "v=spf1 -all").txt("_dmarc.orgpol.test", "v=DMARC1; p=none; sp=reject")
    dns.txt("sub.orgpol.test", "v=spf1 -all")
    return dns


def message(subject, from_addr, body="Hello.\r\n", extra=()):
    return lib.make_message(subject, body=body, sender=from_addr, extra_headers=extra)


def signed(subject, from_addr, domain, pem, body="Hello.\r\n"):
    msg = message(subject, from_addr, body)
    sig = dkim.sign(msg, b"sel", domain.encode(), pem,
                    include_headers=[b"from", b"to", b"subject", b"message-id", b"date"])
    return sig + msg


def results(raw):
    """The Authentication-Results fields of a delivered message, parsed (RFC 8601)."""
    headers, _ = lib.split_message(raw)
    return [authres.AuthenticationResultsHeader.parse(h) for h in headers
            if h.lower().startswith("authentication-results:")]


def ours(raw):
    mine = [h for h in results(raw) if h.authserv_id.lower() == lib.HOSTNAME]
    if len(mine) != 1:
        raise AssertionError("want one Authentication-Results of ours, got %d in:\n%s"
                             % (len(mine), raw))
    return {r.method: r for r in mine[0].results}, mine[0]


def prop(result, name):
    for p in result.properties:
        if "%s.%s" % (p.type, p.name) == name:
            return p.value
    return None


class Checks(lib.IntegTestCase):
    dmarc_reject = "on"

    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="postino-t64-")
        cls.pem, key_txt = make_key(cls.tmp)
        cls.ed_key, ed_txt = make_ed25519_key()
        cls.dns = zone(key_txt, ed_txt)
        cls.dns.start()
        cls.srv = lib.Server(relay_networks=TRUSTED + "/32", dns_servers=cls.dns.address,
                             dmarc_reject=cls.dmarc_reject)
        try:
            cls.srv.start()
        except BaseException:
            cls.srv.close()
            cls.dns.stop()
            raise

    @classmethod
    def tearDownClass(cls):
        cls.srv.close()
        cls.dns.stop()
        shutil.rmtree(cls.tmp, ignore_errors=True)

    def deliver(self, local, sender, msg, source=STRANGER, helo="client.test"):
        """Sends msg to LOCAL@example.test (sender is MAIL FROM) and returns the delivered file."""
        c = self.raw(self.srv, source=source)
        c.ehlo(helo)
        expect(c.transaction(sender, [local + "@example.test"], msg), 250, "2.0.0")
        c.cmd("QUIT")
        return self.srv.wait_mail(local)[0]

    def latest(self, local):
        return self.srv.wait_mail(local)[0]


class Spf(Checks):

    def test_spf_pass(self):
        raw = self.deliver("spfpass", "a@pass.test", message("spf pass", "a@pass.test"))
        res, _ = ours(raw)
        self.assertEqual(res["spf"].result, "pass")
        self.assertEqual(prop(res["spf"], "smtp.mailfrom"), "pass.test")
        self.assertEqual(res["dkim"].result, "none")
        self.assertEqual(res["dmarc"].result, "pass")
        self.assertEqual(prop(res["dmarc"], "header.from"), "pass.test")

    def test_spf_fail(self):
        res, _ = ours(self.deliver("spffail", "a@fail.test", message("spf fail", "a@fail.test")))
        self.assertEqual(res["spf"].result, "fail")
        self.assertEqual(res["dmarc"].result, "none")       # no policy published

    def test_spf_softfail(self):
        res, _ = ours(self.deliver("spfsoft", "a@soft.test", message("spf soft", "a@soft.test")))
        self.assertEqual(res["spf"].result, "softfail")

    def test_spf_none(self):
        res, _ = ours(self.deliver("spfnone", "a@nospf.test", message("spf none", "a@nospf.test")))
        self.assertEqual(res["spf"].result, "none")
        self.assertEqual(prop(res["spf"], "smtp.mailfrom"), "nospf.test")

    def test_spf_lookups_mx_a_include(self):
        # mx (MX then A), a:, include: -- every lookup libspf2 asks goes through postino's DNS
        res, _ = ours(self.deliver("spfmx", "a@mxspf.test", message("spf mx", "a@mxspf.test")))
        self.assertEqual(res["spf"].result, "pass")
        res, _ = ours(self.deliver("spfinc", "a@inc.test", message("spf inc", "a@inc.test")))
        self.assertEqual(res["spf"].result, "pass")
        asked = set(self.dns.queries())
        for q in [("MX", "mxspf.test"), ("A", "mail.mxspf.test"), ("TXT", "pass.test")]:
            self.assertIn(q, asked)

    def test_null_sender_checks_helo(self):
        raw = self.deliver("spfhelo", "", message("spf helo", "mailer-daemon@helo.test"),
                           helo="helo.test")
        res, _ = ours(raw)
        self.assertEqual(res["spf"].result, "pass")
        self.assertEqual(prop(res["spf"], "smtp.helo"), "helo.test")


class Dkim(Checks):

    def test_dkim_pass_aligned_dmarc_pass(self):
        raw = self.deliver("dkimpass", "x@nospf.test",
                           signed("dkim pass", "a@dkdm.test", "dkdm.test", self.pem))
        res, _ = ours(raw)
        self.assertEqual(res["dkim"].result, "pass")
        self.assertEqual(prop(res["dkim"], "header.d"), "dkdm.test")
        self.assertEqual(prop(res["dkim"], "header.s"), "sel")
        self.assertEqual(res["spf"].result, "none")
        self.assertEqual(res["dmarc"].result, "pass")       # through DKIM alignment alone

    def test_dkim_ed25519_pass(self):
        msg = message("dkim ed25519", "a@dk.test")
        sig = dkim.sign(msg, b"ed", b"dk.test", self.ed_key, signature_algorithm=b"ed25519-sha256",
                        include_headers=[b"from", b"to", b"subject"])
        res, _ = ours(self.deliver("dkimed", "x@nospf.test", sig + msg))
        self.assertEqual(res["dkim"].result, "pass")
        self.assertEqual(prop(res["dkim"], "header.s"), "ed")

    def test_dkim_key_missing_is_permerror(self):
        msg = message("dkim nokey", "a@dk.test")
        sig = dkim.sign(msg, b"gone", b"dk.test", self.pem, include_headers=[b"from"])
        res, _ = ours(self.deliver("dkimnokey", "x@nospf.test", sig + msg))
        self.assertEqual(res["dkim"].result, "permerror")

    def test_dkim_pass_unaligned_is_no_dmarc_pass(self):
        # signed by dk.test, From monitor.test (p=none), SPF of monitor.test fails
        msg = signed("dkim unaligned", "a@monitor.test", "dk.test", self.pem)
        res, _ = ours(self.deliver("dkimunal", "a@monitor.test", msg))
        self.assertEqual(res["dkim"].result, "pass")
        self.assertEqual(prop(res["dkim"], "header.d"), "dk.test")
        self.assertEqual(res["dmarc"].result, "fail")

    def test_relaxed_alignment_subdomain(self):
        # SPF of pass.test aligns with a From in its subdomain (adkim/aspf relaxed by default, RFC 7489 3.1)
        res, _ = ours(self.deliver("relaxed", "a@pass.test",
                                   message("relaxed", "a@news.pass.test")))
        self.assertEqual(res["spf"].result, "pass")
        self.assertEqual(prop(res["dmarc"], "header.from"), "news.pass.test")
        self.assertEqual(res["dmarc"].result, "pass")   # the policy of pass.test, found there

    def test_dkim_fail_body_changed(self):
        msg = signed("dkim fail", "a@dk.test", "dk.test", self.pem, body="Original.\r\n")
        msg = msg.replace(b"Original.", b"Changed!!")
        res, _ = ours(self.deliver("dkimfail", "x@nospf.test", msg))
        self.assertEqual(res["dkim"].result, "fail")
        self.assertEqual(prop(res["dkim"], "header.d"), "dk.test")

    def test_each_signature_reported(self):
        msg = signed("dkim two", "a@dk.test", "dk.test", self.pem)
        second = dkim.sign(msg, b"sel", b"dkdm.test", self.pem, include_headers=[b"from"])
        raw = self.deliver("dkimtwo", "x@nospf.test", second + msg)
        _, header = ours(raw)
        got = sorted((prop(r, "header.d"), r.result) for r in header.results if r.method == "dkim")
        self.assertEqual(got, [("dk.test", "pass"), ("dkdm.test", "pass")])


class Dmarc(Checks):

    def test_dmarc_fail_p_none_header_only(self):
        res, _ = ours(self.deliver("dmarcnone", "a@monitor.test",
                                   message("dmarc none", "a@monitor.test")))
        self.assertEqual(res["spf"].result, "fail")
        self.assertEqual(res["dmarc"].result, "fail")
        self.assertEqual(prop(res["dmarc"], "header.from"), "monitor.test")

    def test_dmarc_p_reject_refused(self):
        c = self.raw(self.srv, source=STRANGER)
        c.ehlo()
        r = c.transaction("a@reject.test", ["dmarcrej@example.test"],
                          message("dmarc reject", "a@reject.test"))
        expect(r, 550, "5.7.1")
        # the session goes on; the refused message is nowhere
        expect(c.transaction("a@pass.test", ["dmarcrej@example.test"],
                             message("after reject", "a@pass.test")), 250, "2.0.0")
        raw = self.latest("dmarcrej")
        self.assertEqual(lib.header_value(raw, "Subject"), "after reject")
        self.assertEqual(len(lib.maildir_files(self.srv.data, "example.test", "dmarcrej")), 1)

    def test_organizational_domain_policy(self):
        c = self.raw(self.srv, source=STRANGER)
        c.ehlo()
        r = c.transaction("a@sub.orgpol.test", ["dmarcorg@example.test"],
                          message("dmarc org", "a@sub.orgpol.test"))
        expect(r, 550, "5.7.1")     # sp=reject of orgpol.test applies to sub.orgpol.test


class DmarcRejectOff(Checks):
    dmarc_reject = "off"

    def test_p_reject_delivered_with_fail(self):
        res, _ = ours(self.deliver("dmarcoff", "a@reject.test",
                                   message("dmarc off", "a@reject.test")))
        self.assertEqual(res["dmarc"].result, "fail")


class Forgery(Checks):

    def test_forged_results_removed_others_kept(self):
        msg = message("forged", "a@fail.test", extra=[
            "Authentication-Results: %s; spf=pass smtp.mailfrom=fail.test" % lib.HOSTNAME,
            "Authentication-Results: (sneaky)\r\n  %s; dkim=pass header.d=fail.test"
            % lib.HOSTNAME.upper(),
            "Authentication-Results: other.test; spf=pass smtp.mailfrom=fail.test"])
        raw = self.deliver("forged", "a@fail.test", msg)
        res, _ = ours(raw)
        self.assertEqual(res["spf"].result, "fail")
        ids = sorted(h.authserv_id for h in results(raw))
        self.assertEqual(ids, sorted([lib.HOSTNAME, "other.test"]))

    def test_trusted_client_not_checked(self):
        msg = message("trusted", "a@reject.test", extra=[
            "Authentication-Results: %s; spf=pass" % lib.HOSTNAME])
        raw = self.deliver("trusted", "a@reject.test", msg, source=TRUSTED)
        self.assertEqual(results(raw)[0].authserv_id, lib.HOSTNAME)  # left as it came
        self.assertEqual(len(results(raw)), 1)
        self.assertEqual(str(results(raw)[0].results[0]), "spf=pass")


class Authenticated(lib.IntegTestCase):

    def test_authenticated_client_not_checked(self):
        """AUTH from an address outside relay_networks: no checks, no refusal."""
        sub_port = lib.free_port()
        user, password = "sub@example.test", "secret"
        with zone("v=DKIM1; p=") as dns:
            srv = self.server(users=["%s:{PLAIN}%s" % (user, password), "authed@example.test:{PLAIN}x"],
                              relay_networks=TRUSTED + "/32", dns_servers=dns.address,
                              dmarc_reject="on",
                              extra=["listen submission 127.0.0.1:%d" % sub_port])
            token = base64.b64encode(("\0%s\0%s" % (user, password)).encode()).decode()
            with lib.smtp_client(sub_port, source=STRANGER) as s:
                s.ehlo()
                lib.expect_smtplib(s.docmd("AUTH", "PLAIN " + token), 235, "2.7.0")
                lib.expect_smtplib(s.mail(user), 250, "2.1.0")
                lib.expect_smtplib(s.rcpt("authed@example.test"), 250, "2.1.5")
                lib.expect_smtplib(s.data(message("authed", "a@reject.test")), 250, "2.0.0")
            raw = srv.wait_mail("authed")[0]
            self.assertEqual(results(raw), [])


class Off(lib.IntegTestCase):

    def test_auth_checks_off(self):
        with DnsServer() as dns:
            dns.txt("reject.test", "v=spf1 -all")
            srv = self.server(relay_networks=TRUSTED + "/32", dns_servers=dns.address,
                              auth_checks="off", dmarc_reject="on")
            lib.send_message(srv.port, "a@reject.test", ["off@example.test"],
                             message("off", "a@reject.test"), source=STRANGER)
            raw = srv.wait_mail("off")[0]
            self.assertEqual(results(raw), [])


class Temperror(lib.IntegTestCase):

    def test_silent_dns_is_temperror(self):
        key, _ = make_ed25519_key()
        msg = message("temp", "a@pass.test")
        msg = dkim.sign(msg, b"ed", b"pass.test", key, signature_algorithm=b"ed25519-sha256",
                        include_headers=[b"from"]) + msg
        with BlackholeDns() as dns:
            srv = self.server(relay_networks=TRUSTED + "/32", dns_servers=dns.address)
            start = time.monotonic()
            lib.send_message(srv.port, "a@pass.test", ["temp@example.test"], msg, source=STRANGER)
            took = time.monotonic() - start
            raw = srv.wait_mail("temp")[0]
            res, _ = ours(raw)
            self.assertEqual(res["spf"].result, "temperror")
            self.assertEqual(res["dkim"].result, "temperror")     # its key could not be fetched
            self.assertEqual(res["dmarc"].result, "temperror")
            self.assertGreater(dns.count(), 0)
            self.assertLess(took, 16.0)     # bounded: one timeout, not one per lookup

    def test_servfail_is_temperror_at_once(self):
        with BlackholeDns(rcode=SERVFAIL) as dns:
            srv = self.server(relay_networks=TRUSTED + "/32", dns_servers=dns.address)
            start = time.monotonic()
            lib.send_message(srv.port, "a@pass.test", ["servfail@example.test"],
                             message("servfail", "a@pass.test"), source=STRANGER)
            took = time.monotonic() - start
            res, _ = ours(srv.wait_mail("servfail")[0])
            self.assertEqual(res["spf"].result, "temperror")
            self.assertEqual(res["dmarc"].result, "temperror")
            self.assertLess(took, 4.0)      # an answer, even a failure, is not waited for


if __name__ == "__main__":
    unittest.main()
