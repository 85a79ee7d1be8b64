"""
peers: the other side of postino's relay and notice tests (tests/integ/t_12 .. t_28,
and the other tests that need a peer SMTP server or a DNS server).

A test imports this module alone (`import peers`, `from peers import SENDER`);
the names live in modules by concern, all re-exported here:
  - peers_dns: DnsServer, a dnsmasq on 127.0.0.1:PORT answering for *.test
    from records given on its command line (MX, A, null MX, TXT); every other
    .test name is NXDOMAIN. BlackholeDns: a UDP port that never answers (DNS
    timeouts), or answers every query with a fixed RCODE (SERVFAIL).
    free_shared_port(ips), dns_query(port, name, qtype).
  - peers_smtp: ScriptedPeer, a thread-based SMTP server with a reply plan
    (including silence, dropped connections, "fail the first N connections",
    STARTTLS), recording every connection: connect time, each command line as
    received, the MAIL/RCPT arguments, the dot-unstuffed message data, TLS.
    make_cert(dir).
  - peers_aiosmtpd: AiosmtpdPeer, a real aiosmtpd Controller storing what it
    receives.
  - peers_cases: RelayTestCase and DsnTestCase, the base classes of the relay
    and notice tests, and their settings and addresses.

Every fixture is a context manager and has an idempotent stop(); nothing
outlives the test (dnsmasq is killed and waited for, threads joined).
Only Debian's python3 standard library, python3-aiosmtpd and dnsmasq are used.
"""
import lib  # noqa: F401 -- peers.lib, as before

from peers_dns import *  # noqa: F401,F403
from peers_dns import (_PortTaken, _dns_procs, _encode_name,  # noqa: F401
                       _read_name)
from peers_smtp import *  # noqa: F401,F403
from peers_smtp import _Closed, _Session  # noqa: F401
from peers_aiosmtpd import *  # noqa: F401,F403
from peers_cases import *  # noqa: F401,F403
