/*
 * test_mx: smtpc/mx end to end against a real DNS server. The group setup
 * starts dnsmasq (dnsmasq-base) on a free port of 127.0.0.1 with the zone
 * below; every test runs the libevent loop until its callback. Checks: best
 * MX first with A before AAAA and the hop's port, equal preferences in
 * varying order, implicit MX, NXDOMAIN, null MX (both spellings), no host,
 * MX hosts without addresses, more MX records than are kept (over TCP),
 * this host dropped by name and by address, the
 * loop, [host] hops, a route's broken host being temporary, a silent server
 * timing out, cancellation by mx_resolver_free, and that the callback never
 * runs inside mx_resolve. dnsmasq is killed by the group teardown, by an
 * atexit handler, and by PR_SET_PDEATHSIG if this process dies; the tests
 * are skipped when /usr/sbin/dnsmasq is missing.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include "lib/str.h"
#include "smtpc/mx.h"

#ifndef DNSMASQ
#define DNSMASQ "/usr/sbin/dnsmasq"
#endif
#define MANY_MX 40
#define HOP_PORT 2525   /* the default smtp listen is 127.0.0.1:2525: that address is "us" */

/* The zone. dnsmasq answers NXDOMAIN for any other name under test. */
static const char *const zone[] = {
    "--local=/test/",
    /* best MX first: out of order on purpose */
    "--mx-host=best.test,mx3.best.test,30",
    "--mx-host=best.test,mx1.best.test,10",
    "--mx-host=best.test,mx2.best.test,20",
    "--host-record=mx1.best.test,127.0.0.11,fd00::11",
    "--host-record=mx2.best.test,127.0.0.12",
    "--host-record=mx3.best.test,127.0.0.13",
    /* equal preferences */
    "--mx-host=eq.test,a.eq.test,10",
    "--mx-host=eq.test,b.eq.test,10",
    "--mx-host=eq.test,c.eq.test,10",
    "--host-record=a.eq.test,127.0.0.21",
    "--host-record=b.eq.test,127.0.0.22",
    "--host-record=c.eq.test,127.0.0.23",
    /* implicit MX: an address, no MX */
    "--host-record=imp.test,127.0.0.31",
    /* null MX, as --mx-host and as a raw MX RR (preference 0, root name) */
    "--mx-host=null.test,.,0",
    "--dns-rr=null2.test,15,000000",
    /* a name with neither MX nor address */
    "--txt-record=nohost.test,nothing here",
    /* MX hosts that do not exist */
    "--mx-host=badmx.test,gone1.badmx.test,10",
    "--mx-host=badmx.test,gone2.badmx.test,20",
    /* one MX host missing, one fine */
    "--mx-host=halfmx.test,gone.halfmx.test,10",
    "--mx-host=halfmx.test,ok.halfmx.test,20",
    "--host-record=ok.halfmx.test,127.0.0.35",
    /* this host (hostname me.test) as a backup MX */
    "--mx-host=self.test,after.self.test,30",
    "--mx-host=self.test,me.test,20",
    "--mx-host=self.test,other.self.test,10",
    "--host-record=other.self.test,127.0.0.41",
    "--host-record=after.self.test,127.0.0.42",
    /* this host as the best MX */
    "--mx-host=loop.test,ME.test,10",
    "--mx-host=loop.test,backup.loop.test,20",
    "--host-record=backup.loop.test,127.0.0.43",
    /* an MX host whose address is one of our listens */
    "--mx-host=addrself.test,fwd.addrself.test,5",
    "--mx-host=addrself.test,local.addrself.test,10",
    "--mx-host=addrself.test,far.addrself.test,20",
    "--host-record=fwd.addrself.test,127.0.0.51",
    "--host-record=local.addrself.test,127.0.0.1",
    "--host-record=far.addrself.test,127.0.0.52",
    "--mx-host=addrloop.test,local.addrself.test,10",
    "--host-record=ready.test,127.0.0.99",
};

static pid_t dns_pid = -1;
static int dns_port;
static int have_dnsmasq;
static struct event_base *base;
static struct conf conf;
static struct mx_resolver *res;

/* The last answer, copied out of the callback. */
static struct {
    int calls;
    enum mx_status status;
    char diag[256];
    struct mx_target targets[64];
    size_t n;
} got;

static void dns_stop(void)
{
    if (dns_pid <= 0)
        return;
    kill(dns_pid, SIGTERM);
    for (int i = 0; i < 200 && waitpid(dns_pid, NULL, WNOHANG) == 0; i++)
        usleep(10000);
    if (kill(dns_pid, 0) == 0) {
        kill(dns_pid, SIGKILL);
        waitpid(dns_pid, NULL, 0);
    }
    dns_pid = -1;
}

/* A UDP port of 127.0.0.1 that is free right now. */
static int free_port(void)
{
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof sa;
    int fd = socket(AF_INET, SOCK_DGRAM, 0), port = -1;
    if (fd >= 0 && bind(fd, (struct sockaddr *)&sa, sizeof sa) == 0 &&
        getsockname(fd, (struct sockaddr *)&sa, &len) == 0)
        port = ntohs(sa.sin_port);
    if (fd >= 0)
        close(fd);
    return port;
}

static pid_t dns_spawn(int port)
{
    char portarg[32];
    const char *argv[128];
    size_t n = 0;
    str_fmt(portarg, sizeof portarg, "--port=%d", port);
    /* --keep-in-foreground, not --no-daemon: in its debug mode dnsmasq serves a TCP
     * connection inline and answers no UDP meanwhile. */
    const char *fixed[] = {DNSMASQ, "--keep-in-foreground", "--log-facility=-", "--no-resolv",
                           "--no-hosts", portarg, "--listen-address=127.0.0.1",
                           "--bind-interfaces", "--conf-file=/dev/null", "--pid-file=",
                           "--local-ttl=0"};
    for (size_t i = 0; i < sizeof fixed / sizeof fixed[0]; i++)
        argv[n++] = fixed[i];
    for (size_t i = 0; i < sizeof zone / sizeof zone[0]; i++)
        argv[n++] = zone[i];
    /* 40 MX records (over 512 bytes: c-ares retries over TCP), the best ones last */
    static char many[MANY_MX][64];
    for (int i = 0; i < MANY_MX; i++) {
        str_fmt(many[i], sizeof many[i], "--mx-host=many.test,h%02d.many.test,%d", i, 400 - 4 * i);
        argv[n++] = many[i];
    }
    argv[n++] = "--host-record=h39.many.test,127.0.0.61";
    argv[n++] = "--host-record=h38.many.test,127.0.0.62";
    argv[n++] = "--host-record=h00.many.test,127.0.0.63";
    if (getenv("MX_TEST_VERBOSE"))
        argv[n++] = "--log-queries";
    argv[n] = NULL;
    pid_t parent = getpid(), pid = fork();
    if (pid == 0) {
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        if (getppid() != parent) /* the test died before prctl */
            _exit(1);
        if (!getenv("MX_TEST_VERBOSE")) {
            int null = open("/dev/null", O_RDWR);
            dup2(null, 1);
            dup2(null, 2);
        }
        execv(DNSMASQ, (char *const *)argv);
        _exit(127);
    }
    return pid;
}

static void on_answer(void *arg, const struct mx_answer *ans)
{
    (void)arg;
    got.calls++;
    got.status = ans->status;
    str_copy(got.diag, sizeof got.diag, ans->diag);
    got.n = ans->n_targets < 64 ? ans->n_targets : 64;
    if (got.n)
        memcpy(got.targets, ans->targets, got.n * sizeof *ans->targets);
    event_base_loopbreak(base);
}

static void hop_of(struct route_hop *hop, const char *domain, const char *host, int no_mx)
{
    memset(hop, 0, sizeof *hop);
    str_copy(hop->domain, sizeof hop->domain, domain);
    str_copy(hop->host, sizeof hop->host, host ? host : domain);
    hop->port = HOP_PORT;
    hop->no_mx = no_mx;
}

/* Resolves with r and runs the loop until the answer (at most 15 s). */
static enum mx_status resolve_with(struct mx_resolver *r, const char *domain, const char *host,
                                   int no_mx)
{
    struct route_hop hop;
    struct timeval limit = {15, 0};
    hop_of(&hop, domain, host, no_mx);
    memset(&got, 0, sizeof got);
    mx_resolve(r, &hop, on_answer, NULL);
    assert_int_equal(got.calls, 0); /* never from inside mx_resolve */
    event_base_loopexit(base, &limit);
    event_base_dispatch(base);
    assert_int_equal(got.calls, 1);
    return got.status;
}

static enum mx_status resolve(const char *domain)
{
    return resolve_with(res, domain, NULL, 0);
}

static const char *addr_of(size_t i, char *out, size_t size)
{
    const struct sockaddr *sa = (const struct sockaddr *)&got.targets[i].addr;
    const void *a = sa->sa_family == AF_INET
                        ? (const void *)&((const struct sockaddr_in *)sa)->sin_addr
                        : (const void *)&((const struct sockaddr_in6 *)sa)->sin6_addr;
    inet_ntop(sa->sa_family, a, out, (socklen_t)size);
    return out;
}

static int port_of(size_t i)
{
    const struct sockaddr *sa = (const struct sockaddr *)&got.targets[i].addr;
    return ntohs(sa->sa_family == AF_INET ? ((const struct sockaddr_in *)sa)->sin_port
                                          : ((const struct sockaddr_in6 *)sa)->sin6_port);
}

/* "host=addr" of every target, joined by spaces. */
static const char *targets_text(char *out, size_t size)
{
    char a[64];
    out[0] = '\0';
    for (size_t i = 0; i < got.n; i++) {
        size_t len = strlen(out);
        str_fmt(out + len, size - len, "%s%s/%d=%s", i ? " " : "", got.targets[i].host,
                 got.targets[i].pref, addr_of(i, a, sizeof a));
    }
    return out;
}

/* Waits until dnsmasq answers (or has died). 0 when ready. */
static int dns_wait_ready(void)
{
    for (int i = 0; i < 400; i++) { /* up to 20 s: a slow machine starts dnsmasq late */
        struct route_hop hop;
        hop_of(&hop, "ready.test", NULL, 1);
        memset(&got, 0, sizeof got);
        mx_resolve(res, &hop, on_answer, NULL);
        event_base_dispatch(base);
        if (got.status == MX_OK)
            return 0;
        if (waitpid(dns_pid, NULL, WNOHANG) != 0) {
            dns_pid = -1;
            return -1;
        }
        usleep(50000);
    }
    return -1;
}

static struct mx_resolver *resolver_on(int port)
{
    free(conf.dns_servers);
    conf.dns_servers = calloc(1, sizeof *conf.dns_servers);
    str_copy(conf.dns_servers[0].host, sizeof conf.dns_servers[0].host, "127.0.0.1");
    conf.dns_servers[0].port = port;
    conf.n_dns_servers = 1;
    return mx_resolver_new(base, &conf);
}

/* One try: a free port, dnsmasq on it, a resolver pointing there, an answer. */
static int dns_start_once(void)
{
    dns_port = free_port();
    if (dns_port <= 0 || (dns_pid = dns_spawn(dns_port)) < 0)
        return -1;
    res = resolver_on(dns_port);
    if (res && dns_wait_ready() == 0)
        return 0;
    mx_resolver_free(res);
    res = NULL;
    dns_stop();
    return -1;
}

static int group_setup(void **st)
{
    (void)st;
    atexit(dns_stop);
    base = event_base_new();
    conf_defaults(&conf);
    free(conf.hostname);
    conf.hostname = strdup("me.test");
    if (access(DNSMASQ, X_OK) != 0) {
        fprintf(stderr, "test_mx: %s is missing (apt-get install dnsmasq-base): skipping\n",
                DNSMASQ);
        return 0;
    }
    for (int i = 0; i < 5 && !have_dnsmasq; i++)
        have_dnsmasq = dns_start_once() == 0;
    if (!have_dnsmasq)
        fprintf(stderr, "test_mx: dnsmasq did not start\n");
    return have_dnsmasq ? 0 : -1;
}

static int group_teardown(void **st)
{
    (void)st;
    mx_resolver_free(res);
    res = NULL;
    dns_stop();
    conf_free(&conf);
    event_base_free(base);
    return 0;
}

#define NEED_DNSMASQ()                                                                  \
    do {                                                                                \
        if (!have_dnsmasq) {                                                            \
            fprintf(stderr, "test_mx: skipped: " DNSMASQ " is missing\n");             \
            skip();                                                                     \
        }                                                                               \
    } while (0)

static void test_best_mx_first(void **st)
{
    (void)st;
    char t[1024];
    NEED_DNSMASQ();
    assert_int_equal(resolve("best.test"), MX_OK);
    assert_string_equal(targets_text(t, sizeof t),
                        "mx1.best.test/10=127.0.0.11 mx1.best.test/10=fd00::11 "
                        "mx2.best.test/20=127.0.0.12 mx3.best.test/30=127.0.0.13");
    for (size_t i = 0; i < got.n; i++)
        assert_int_equal(port_of(i), HOP_PORT);
    assert_int_equal(got.targets[1].addrlen, sizeof(struct sockaddr_in6));
}

static void test_equal_preference_order_varies(void **st)
{
    (void)st;
    char firsts[4] = "";
    NEED_DNSMASQ();
    for (int i = 0; i < 30; i++) {
        assert_int_equal(resolve("eq.test"), MX_OK);
        assert_int_equal(got.n, 3);
        char seen[4] = "";
        for (size_t k = 0; k < 3; k++) {
            assert_int_equal(got.targets[k].pref, 10);
            assert_int_equal(strlen(got.targets[k].host), strlen("a.eq.test"));
            seen[got.targets[k].host[0] - 'a'] = 1;
        }
        assert_true(seen[0] && seen[1] && seen[2]);
        firsts[got.targets[0].host[0] - 'a'] = 1;
    }
    /* 30 draws of one of 3 first hosts: all the same with odds 3^-29 */
    assert_true(firsts[0] + firsts[1] + firsts[2] >= 2);
}

static void test_implicit_mx(void **st)
{
    (void)st;
    char t[1024];
    NEED_DNSMASQ();
    assert_int_equal(resolve("imp.test"), MX_OK);
    assert_string_equal(targets_text(t, sizeof t), "imp.test/0=127.0.0.31");
    assert_int_equal(port_of(0), HOP_PORT);
}

static void test_nxdomain(void **st)
{
    (void)st;
    NEED_DNSMASQ();
    assert_int_equal(resolve("nx.test"), MX_NXDOMAIN);
    assert_string_equal(got.diag, "nx.test: no such domain (NXDOMAIN)");
    assert_int_equal(got.n, 0);
    assert_string_equal(mx_status_code(got.status).s, "5.1.2");
}

static void test_null_mx(void **st)
{
    (void)st;
    NEED_DNSMASQ();
    assert_int_equal(resolve("null.test"), MX_NULL_MX);
    assert_string_equal(got.diag, "null.test: the domain accepts no mail (null MX)");
    assert_string_equal(mx_status_code(got.status).s, "5.1.10");
    assert_int_equal(resolve("null2.test"), MX_NULL_MX);
}

static void test_no_host(void **st)
{
    (void)st;
    NEED_DNSMASQ();
    assert_int_equal(resolve("nohost.test"), MX_NO_HOST);
    assert_string_equal(got.diag, "nohost.test: no MX and no address record");
}

/* MX hosts that do not resolve: the domain is misconfigured, retry later. */
static void test_mx_hosts_without_address(void **st)
{
    (void)st;
    char t[1024];
    NEED_DNSMASQ();
    assert_int_equal(resolve("badmx.test"), MX_TEMPFAIL);
    assert_non_null(strstr(got.diag, "misconfigured MX"));
    assert_string_equal(mx_status_code(got.status).s, "4.4.3");
    assert_int_equal(resolve("halfmx.test"), MX_OK); /* the one that resolves is kept */
    assert_string_equal(targets_text(t, sizeof t), "ok.halfmx.test/20=127.0.0.35");
}

/* More MX records than are kept: the best ones stay, the answer came over TCP. */
static void test_many_mx(void **st)
{
    (void)st;
    char t[1024];
    NEED_DNSMASQ();
    assert_int_equal(resolve("many.test"), MX_OK);
    assert_string_equal(targets_text(t, sizeof t),
                        "h39.many.test/244=127.0.0.61 h38.many.test/248=127.0.0.62");
}

/* A backup MX: this host's name and every less preferred record go. */
static void test_self_name_dropped(void **st)
{
    (void)st;
    char t[1024];
    NEED_DNSMASQ();
    assert_int_equal(resolve("self.test"), MX_OK);
    assert_string_equal(targets_text(t, sizeof t), "other.self.test/10=127.0.0.41");
    assert_int_equal(resolve("loop.test"), MX_LOOP);
    assert_non_null(strstr(got.diag, "loops back to myself"));
    assert_string_equal(mx_status_code(got.status).s, "5.4.6");
}

/* An MX host whose address is one of our listens is this host too. */
static void test_self_address_dropped(void **st)
{
    (void)st;
    char t[1024];
    NEED_DNSMASQ();
    assert_int_equal(resolve("addrself.test"), MX_OK);
    assert_string_equal(targets_text(t, sizeof t), "fwd.addrself.test/5=127.0.0.51");
    assert_int_equal(resolve("addrloop.test"), MX_LOOP);
    assert_non_null(strstr(got.diag, "127.0.0.1:2525"));
}

static void test_direct_host(void **st)
{
    (void)st;
    char t[1024];
    NEED_DNSMASQ();
    assert_int_equal(resolve_with(res, "x.test", "mx1.best.test", 1), MX_OK);
    assert_string_equal(targets_text(t, sizeof t),
                        "mx1.best.test/0=127.0.0.11 mx1.best.test/0=fd00::11");
    assert_int_equal(resolve_with(res, "x.test", "127.0.0.2", 1), MX_OK);
    assert_string_equal(targets_text(t, sizeof t), "127.0.0.2/0=127.0.0.2");
    assert_int_equal(port_of(0), HOP_PORT);
    assert_int_equal(resolve_with(res, "x.test", "::1", 1), MX_OK);
    assert_string_equal(targets_text(t, sizeof t), "::1/0=::1");
    assert_int_equal(resolve_with(res, "x.test", "127.0.0.1", 1), MX_LOOP); /* our listen */
    /* a route through an MX lookup of another name */
    assert_int_equal(resolve_with(res, "x.test", "best.test", 0), MX_OK);
    assert_string_equal(got.targets[0].host, "mx1.best.test");
}

/* A route's or relayhost's broken name is not the recipient's fault: retry. */
static void test_broken_next_hop_is_temporary(void **st)
{
    (void)st;
    NEED_DNSMASQ();
    assert_int_equal(resolve_with(res, "x.test", "nx.test", 0), MX_TEMPFAIL);
    assert_string_equal(got.diag, "nx.test: no such domain (NXDOMAIN)");
    assert_int_equal(resolve_with(res, "x.test", "nx.test", 1), MX_TEMPFAIL);
    assert_int_equal(resolve_with(res, "x.test", "null.test", 0), MX_TEMPFAIL);
    assert_int_equal(resolve_with(res, "nx.test", "nx.test", 1), MX_NXDOMAIN);
}

/* A UDP socket that never answers: TEMPFAIL after the c-ares tries. */
static int silent_socket(int *port)
{
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof sa;
    int fd = socket(AF_INET, SOCK_DGRAM, 0);
    assert_true(fd >= 0);
    assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof sa), 0);
    assert_int_equal(getsockname(fd, (struct sockaddr *)&sa, &len), 0);
    *port = ntohs(sa.sin_port);
    return fd;
}

static void test_timeout(void **st)
{
    (void)st;
    int port, fd = silent_socket(&port);
    struct mx_resolver *r = resolver_on(port);
    struct timespec t0, t1;
    assert_non_null(r);
    clock_gettime(CLOCK_MONOTONIC, &t0);
    assert_int_equal(resolve_with(r, "slow.test", NULL, 0), MX_TEMPFAIL);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    double secs = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
    assert_string_equal(got.diag, "MX lookup for slow.test: timeout");
    assert_true(secs > 1.0 && secs < 7.0);
    mx_resolver_free(r);
    close(fd);
}

/* mx_resolver_free runs every pending callback with TEMPFAIL "shutting down". */
static void test_free_cancels(void **st)
{
    (void)st;
    int port, fd = silent_socket(&port);
    struct mx_resolver *r = resolver_on(port);
    struct route_hop a, b;
    assert_non_null(r);
    hop_of(&a, "slow.test", NULL, 0);
    hop_of(&b, "x.test", "127.0.0.2", 1); /* answered at once, not yet delivered */
    memset(&got, 0, sizeof got);
    mx_resolve(r, &a, on_answer, NULL);
    mx_resolve(r, &b, on_answer, NULL);
    assert_int_equal(got.calls, 0);
    mx_resolver_free(r);
    assert_int_equal(got.calls, 2);
    assert_int_equal(got.status, MX_TEMPFAIL);
    assert_string_equal(got.diag, "shutting down");
    close(fd);
    /* the loop holds nothing of the freed resolver */
    struct timeval short_wait = {0, 100000};
    event_base_loopexit(base, &short_wait);
    event_base_dispatch(base);
    assert_int_equal(got.calls, 2);
}

static void test_bad_dns_server(void **st)
{
    (void)st;
    struct conf c;
    conf_defaults(&c);
    c.dns_servers = calloc(1, sizeof *c.dns_servers);
    str_copy(c.dns_servers[0].host, sizeof c.dns_servers[0].host, "dns.example");
    c.n_dns_servers = 1;
    assert_null(mx_resolver_new(base, &c));
    conf_free(&c);
}

static void test_status_codes(void **st)
{
    (void)st;
    assert_string_equal(mx_status_code(MX_OK).s, "2.0.0");
    assert_string_equal(mx_status_code(MX_NXDOMAIN).s, "5.1.2");
    assert_string_equal(mx_status_code(MX_NULL_MX).s, "5.1.10");
    assert_string_equal(mx_status_code(MX_NO_HOST).s, "5.1.2");
    assert_string_equal(mx_status_code(MX_TEMPFAIL).s, "4.4.3");
    assert_string_equal(mx_status_code(MX_LOOP).s, "5.4.6");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_best_mx_first),
        cmocka_unit_test(test_equal_preference_order_varies),
        cmocka_unit_test(test_implicit_mx),
        cmocka_unit_test(test_nxdomain),
        cmocka_unit_test(test_null_mx),
        cmocka_unit_test(test_no_host),
        cmocka_unit_test(test_mx_hosts_without_address),
        cmocka_unit_test(test_many_mx),
        cmocka_unit_test(test_self_name_dropped),
        cmocka_unit_test(test_self_address_dropped),
        cmocka_unit_test(test_direct_host),
        cmocka_unit_test(test_broken_next_hop_is_temporary),
        cmocka_unit_test(test_timeout),
        cmocka_unit_test(test_free_cancels),
        cmocka_unit_test(test_bad_dns_server),
        cmocka_unit_test(test_status_codes),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
