"""
t_44_metrics: `listen metrics ADDR:PORT` under real traffic, scraped with
urllib and parsed with Debian's python3-prometheus-client (the parser
Prometheus' own Python client uses). One server relays to a scripted peer
(451 for one recipient, 550 for another, 250 for a third) and delivers to a
local Maildir; a session also has a RCPT refused with a 5xx. The counters
move by exactly what happened: connections, replies by class, messages and
bytes received, deliveries by result, the failure notice; the queue gauges
show the one deferred recipient; the histograms are consistent (cumulative
buckets, +Inf = _count). Other paths are 404, other methods 405; without a
metrics listener nothing answers HTTP.
"""
import urllib.error
import urllib.request

from prometheus_client.parser import text_string_to_metric_families

import lib
import peers

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


def scrape(port, path="/metrics", method="GET"):
    """(status, content type, body) of an HTTP request to the metrics listener."""
    req = urllib.request.Request("http://127.0.0.1:%d%s" % (port, path), method=method)
    try:
        with urllib.request.urlopen(req, timeout=10) as r:
            return r.status, r.headers.get("Content-Type"), r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.headers.get("Content-Type"), e.read().decode()


def samples(port):
    """{(sample name, frozenset(labels)): value} and {family: type} of one scrape."""
    status, ctype, body = scrape(port)
    assert status == 200 and ctype == CONTENT_TYPE, (status, ctype)
    values, types = {}, {}
    for fam in text_string_to_metric_families(body):
        types[fam.name] = fam.type
        for s in fam.samples:
            values[(s.name, frozenset(s.labels.items()))] = s.value
    return values, types


def value(values, name, **labels):
    return values[(name, frozenset(labels.items()))]


class Metrics(peers.RelayTestCase):

    @classmethod
    def dns_records(cls, dns):
        dns.mx("h.test", "mx.h.test", 10).a("mx.h.test", "127.0.0.2")

    def metrics_server(self):
        self.mport = lib.free_port()
        return self.relay_server(retry_min="1h", retry_max="2h",
                                 extra=["listen metrics 127.0.0.1:%d" % self.mport])

    def delta(self, before, after, name, **labels):
        return value(after, name, **labels) - value(before, name, **labels)

    def traffic(self, srv):
        """A local delivery, a deferral, a relay and a failure (with its notice), a refused RCPT."""
        lib.send_message(srv.port, peers.LOCAL_SENDER, ["u@example.test"],
                         lib.make_message("t44 local"))
        srv.wait_mail("u")
        self.send(srv, ["d@h.test"], "t44 deferred")
        self.wait_status(srv, "d@h.test", "deferred")
        self.send(srv, ["f@h.test", "r@h.test"], "t44 failed and relayed",
                  sender=peers.LOCAL_SENDER)
        srv.wait_mail("alice")  # the failure notice, delivered locally
        with lib.smtp_client(srv.port) as s:
            s.ehlo()
            s.mail(peers.LOCAL_SENDER)
            code, _ = s.rcpt("<no-domain>")
            self.assertGreaterEqual(code, 500)

    def test_counters_move_with_traffic(self):
        self.peer("127.0.0.2", {"rcpt": {"d@h.test": "451 4.3.0 later",
                                         "f@h.test": "550 5.1.1 no such user"}})
        srv = self.metrics_server()
        before, types = samples(self.mport)
        self.assertEqual(types["postino_connections"], "counter")
        self.assertEqual(types["postino_queue_messages"], "gauge")
        self.assertEqual(types["postino_commit_seconds"], "histogram")
        self.traffic(srv)
        lib.wait_for(lambda: value(samples(self.mport)[0], "postino_open_connections",
                                   service="smtp") == 0, what="sessions closed")
        after, _ = samples(self.mport)
        d = lambda name, **kw: self.delta(before, after, name, **kw)  # noqa: E731
        self.assertEqual(d("postino_connections_total", service="smtp"), 4)
        self.assertEqual(d("postino_connections_total", service="pop3"), 0)
        self.assertEqual(d("postino_smtp_replies_total", **{"class": "5xx"}), 1)
        self.assertEqual(d("postino_smtp_replies_total", **{"class": "4xx"}), 0)
        self.assertGreaterEqual(d("postino_smtp_replies_total", **{"class": "2xx"}), 4 * 4)
        self.assertEqual(d("postino_messages_received_total"), 3)
        self.assertGreater(d("postino_received_bytes_total"), 3 * 150)
        self.assertEqual(d("postino_deliveries_total", result="delivered"), 2)
        self.assertEqual(d("postino_deliveries_total", result="relayed"), 1)
        self.assertEqual(d("postino_deliveries_total", result="deferred"), 1)
        self.assertEqual(d("postino_deliveries_total", result="failed"), 1)
        self.assertEqual(d("postino_notices_total", action="failed"), 1)
        self.assertEqual(d("postino_notices_total", action="delayed"), 0)
        self.assertEqual(value(after, "postino_queue_recipients", state="deferred"), 1)
        self.assertEqual(value(after, "postino_queue_recipients", state="pending"), 0)
        self.assertEqual(value(after, "postino_queue_messages", state="deferred"), 1)
        self.assertGreaterEqual(value(after, "postino_queue_oldest_age_seconds"), 0)
        self.check_histogram(after, "postino_commit_seconds", 3)
        self.check_histogram(after, "postino_delivery_delay_seconds", 3)

    def check_histogram(self, values, name, count):
        buckets = sorted(((float(dict(labels)["le"]), v) for (n, labels), v in values.items()
                          if n == name + "_bucket"))
        self.assertEqual(buckets[-1][0], float("inf"))
        counts = [v for _, v in buckets]
        self.assertEqual(counts, sorted(counts), "buckets must be cumulative")
        self.assertEqual(counts[-1], value(values, name + "_count"))
        self.assertEqual(value(values, name + "_count"), count)
        self.assertGreaterEqual(value(values, name + "_sum"), 0)

    def test_paths_and_methods(self):
        srv = self.metrics_server()
        status, _, body = scrape(self.mport, "/")
        self.assertEqual(status, 404)
        self.assertEqual(scrape(self.mport, "/metrics/x")[0], 404)
        self.assertEqual(scrape(self.mport, "/metrics", "POST")[0], 405)
        self.assertEqual(scrape(self.mport, "/metrics", "DELETE")[0], 405)
        self.assertEqual(scrape(self.mport, "/metrics?x=1")[0], 200)
        status, ctype, body = scrape(self.mport, "/metrics", "HEAD")
        self.assertEqual((status, ctype, body), (200, CONTENT_TYPE, ""))
        self.assertIn("listen metrics 127.0.0.1:%d" % self.mport,
                      lib.run_cli(["check", "-c", srv.conf]).stdout)

    def test_off_by_default(self):
        srv = self.relay_server()
        self.assertNotIn("metrics", lib.run_cli(["check", "-c", srv.conf]).stdout)
        self.assertNotIn("metrics", srv.log())


if __name__ == "__main__":
    lib.unittest.main()
