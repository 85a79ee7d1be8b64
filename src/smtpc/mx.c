/*
 * mx: next-hop resolution with c-ares on the libevent loop (see mx.h).
 * Owns one c-ares channel, a libevent event per socket c-ares opens (its
 * sock-state callback) and one timer re-armed from ares_timeout(). A lookup
 * asks MX (RFC 5321 5.1), orders the records with mail/mxplan (RFC 7505 null
 * MX, own name and less preferred ones dropped), then asks A and AAAA of
 * every host in parallel; "[host]" hops and implicit MX skip the MX step.
 * An address that is one of our listens is this host: a loop, like our name.
 * Permanent outcomes (NXDOMAIN, null MX, no host) apply only when the name
 * looked up is the recipient domain; a route's or relayhost's broken name is
 * a temporary failure, fixed in the config rather than bounced.
 * Never blocks, never searches domains or /etc/hosts (DNS only, names taken
 * as absolute), never calls back from inside mx_resolve.
 * Settings: dns_servers, hostname, listens.
 */
#include "smtpc/mx.h"
#include "mail/mxplan.h"
#include "net/dns_servers.h"
#include "lib/alloc.h"
#include "lib/log.h"
#include "lib/str.h"
#include <ares.h>
#include <arpa/inet.h>
#include <arpa/nameser.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#define MX_TIMEOUT_MS 1500      /* first try; c-ares doubles it for the next */
#define MX_TRIES 2
#define MX_ADDRS_PER_HOST 8     /* addresses kept per MX host */
#define MX_MAX_TARGETS 32       /* addresses kept per lookup */

struct mx_sock {
    ares_socket_t fd;
    struct event *ev;
};

enum mx_stage { MX_STAGE_MX, MX_STAGE_HOSTS, MX_STAGE_IMPLICIT, MX_STAGE_DIRECT };

struct mx_req;

struct mx_host {                /* one host whose addresses are being looked up */
    struct mx_req *req;
    char name[256];
    int pref;
    int status;                 /* c-ares status of its address lookup */
    struct mx_target *addrs;
    size_t n_addrs;
};

struct mx_req {
    struct mx_resolver *r;
    struct mx_req *prev, *next;
    struct route_hop hop;
    mx_done_fn cb;
    void *arg;
    struct event *done_ev;      /* delivers ans from the loop */
    enum mx_stage stage;
    struct mx_host *hosts;
    size_t n_hosts, pending;
    int finished, cancelled;
    struct mx_answer ans;
};

struct mx_resolver {
    struct event_base *base;
    ares_channel channel;
    struct event *timer;
    struct mx_sock *socks;
    size_t n_socks;
    struct mx_req *reqs;        /* not yet delivered */
    char *hostname;
    struct listen_spec *listens;
    size_t n_listens;
    uint32_t seed;
    int closing;
};

struct esc_text mx_status_code(enum mx_status s)
{
    switch (s) {
    case MX_OK: return esc_code(2, ESC_OTHER_STATUS);
    case MX_NXDOMAIN: return esc_code(5, ESC_BAD_DESTINATION_SYSTEM);
    case MX_NULL_MX: return esc_code(5, ESC_NULL_MX);
    case MX_NO_HOST: return esc_code(5, ESC_BAD_DESTINATION_SYSTEM);
    case MX_TEMPFAIL: return esc_code(4, ESC_DIRECTORY_FAILURE);
    case MX_LOOP: return esc_code(5, ESC_ROUTING_LOOP);
    }
    return esc_code(4, ESC_DIRECTORY_FAILURE);
}

static const char *mx_errtext(int status)
{
    switch (status) {
    case ARES_ETIMEOUT: return "timeout";
    case ARES_ESERVFAIL: return "server failure (SERVFAIL)";
    case ARES_EREFUSED: return "query refused (REFUSED)";
    case ARES_ECONNREFUSED: return "no DNS server reachable";
    case ARES_EDESTRUCTION: case ARES_ECANCELLED: return "shutting down";
    case ARES_ENOTFOUND: return "no such domain (NXDOMAIN)";
    case ARES_ENODATA: return "no address record";
    default: return ares_strerror(status);
    }
}

/* ---- c-ares on libevent ------------------------------------------------ */

static void mx_rearm(struct mx_resolver *r)
{
    struct timeval tv, *tvp = ares_timeout(r->channel, NULL, &tv);
    if (tvp)
        evtimer_add(r->timer, tvp);
    else
        evtimer_del(r->timer);
}

static void mx_on_socket(evutil_socket_t fd, short what, void *arg)
{
    struct mx_resolver *r = arg;
    ares_process_fd(r->channel, (what & EV_READ) ? fd : ARES_SOCKET_BAD,
                    (what & EV_WRITE) ? fd : ARES_SOCKET_BAD);
    mx_rearm(r);
}

static void mx_on_timer(evutil_socket_t fd, short what, void *arg)
{
    struct mx_resolver *r = arg;
    (void)fd;
    (void)what;
    ares_process_fd(r->channel, ARES_SOCKET_BAD, ARES_SOCKET_BAD);
    mx_rearm(r);
}

/* c-ares opens, watches and closes sockets: mirror each as a persistent event. */
static void mx_sock_state(void *data, ares_socket_t fd, int readable, int writable)
{
    struct mx_resolver *r = data;
    size_t i;
    for (i = 0; i < r->n_socks && r->socks[i].fd != fd; i++)
        ;
    if (i < r->n_socks) {
        event_free(r->socks[i].ev);
        r->socks[i] = r->socks[--r->n_socks];
    }
    if (!readable && !writable)
        return;
    short what = (short)(EV_PERSIST | (readable ? EV_READ : 0) | (writable ? EV_WRITE : 0));
    struct event *ev = event_new(r->base, fd, what, mx_on_socket, r);
    if (!ev || event_add(ev, NULL) < 0) {
        log_err("mx: cannot watch a DNS socket");
        if (ev)
            event_free(ev);
        return;
    }
    r->socks = xrealloc(r->socks, (r->n_socks + 1) * sizeof *r->socks);
    r->socks[r->n_socks++] = (struct mx_sock){fd, ev};
}

/* ---- requests ----------------------------------------------------------- */

static void mx_req_free(struct mx_req *q)
{
    for (size_t i = 0; i < q->n_hosts; i++)
        free(q->hosts[i].addrs);
    free(q->hosts);
    free(q->ans.targets);
    event_free(q->done_ev);
    free(q);
}

static void mx_req_unlink(struct mx_req *q)
{
    if (q->prev)
        q->prev->next = q->next;
    else
        q->r->reqs = q->next;
    if (q->next)
        q->next->prev = q->prev;
}

static void mx_on_done(evutil_socket_t fd, short what, void *arg)
{
    struct mx_req *q = arg;
    (void)fd;
    (void)what;
    mx_req_unlink(q);
    q->cb(q->arg, &q->ans);
    mx_req_free(q);
}

/* Sets the outcome (diag already written) and delivers it from the loop. */
static void mx_finish(struct mx_req *q, enum mx_status st)
{
    static const struct timeval now = {0, 0};
    if (q->finished)
        return;
    q->finished = 1;
    q->ans.status = st;
    evtimer_add(q->done_ev, &now);
}

/* A permanent status when the name looked up is the recipient domain, else TEMPFAIL. */
static void mx_finish_perm(struct mx_req *q, enum mx_status st)
{
    mx_finish(q, str_ieq(q->hop.host, q->hop.domain) ? st : MX_TEMPFAIL);
}

/* ---- addresses ---------------------------------------------------------- */

static void mx_host_add(struct mx_host *h, const struct sockaddr *sa, socklen_t len)
{
    if (h->n_addrs >= MX_ADDRS_PER_HOST || len > (socklen_t)sizeof(struct sockaddr_storage) ||
        (sa->sa_family != AF_INET && sa->sa_family != AF_INET6))
        return;
    h->addrs = xrealloc(h->addrs, (h->n_addrs + 1) * sizeof *h->addrs);
    struct mx_target *t = &h->addrs[h->n_addrs++];
    memset(t, 0, sizeof *t);
    str_copy(t->host, sizeof t->host, h->name);
    t->pref = h->pref;
    memcpy(&t->addr, sa, len);
    t->addrlen = len;
    in_port_t port = htons((in_port_t)h->req->hop.port);
    if (sa->sa_family == AF_INET)
        ((struct sockaddr_in *)&t->addr)->sin_port = port;
    else
        ((struct sockaddr_in6 *)&t->addr)->sin6_port = port;
}

static void mx_host_add4(struct mx_host *h, const struct in_addr *a)
{
    struct sockaddr_in s = {.sin_family = AF_INET, .sin_addr = *a};
    mx_host_add(h, (struct sockaddr *)&s, sizeof s);
}

static void mx_host_add6(struct mx_host *h, const struct in6_addr *a)
{
    struct sockaddr_in6 s = {.sin6_family = AF_INET6, .sin6_addr = *a};
    mx_host_add(h, (struct sockaddr *)&s, sizeof s);
}

/* A numeric host or "localhost" (RFC 6761 6.3) needs no DNS: 1 if filled. */
static int mx_host_literal(struct mx_host *h)
{
    struct in_addr a4;
    struct in6_addr a6;
    if (inet_pton(AF_INET, h->name, &a4) == 1) {
        mx_host_add4(h, &a4);
        return 1;
    }
    if (inet_pton(AF_INET6, h->name, &a6) == 1) {
        mx_host_add6(h, &a6);
        return 1;
    }
    if (!str_ieq(h->name, "localhost") && !str_ieq(h->name, "localhost."))
        return 0;
    a4.s_addr = htonl(INADDR_LOOPBACK);
    mx_host_add4(h, &a4);
    mx_host_add6(h, &in6addr_loopback);
    return 1;
}

static void mx_conclude(struct mx_req *q);

static void mx_host_done(struct mx_req *q)
{
    if (--q->pending == 0)
        mx_conclude(q);
}

/* A and AAAA answers of one host: IPv4 first, then IPv6, each as returned. */
static void mx_on_addrinfo(void *arg, int status, int timeouts, struct ares_addrinfo *ai)
{
    struct mx_host *h = arg;
    (void)timeouts;
    h->status = status;
    for (int pass = 0; ai && status == ARES_SUCCESS && pass < 2; pass++)
        for (struct ares_addrinfo_node *n = ai->nodes; n; n = n->ai_next)
            if (n->ai_addr && n->ai_family == (pass == 0 ? AF_INET : AF_INET6))
                mx_host_add(h, n->ai_addr, (socklen_t)n->ai_addrlen);
    if (ai)
        ares_freeaddrinfo(ai);
    mx_host_done(h->req);
}

/* Looks up the addresses of recs (already in order), all at once. */
static void mx_lookup_hosts(struct mx_req *q, const struct mxplan_rec *recs, size_t n,
                            enum mx_stage stage)
{
    struct ares_addrinfo_hints hints = {.ai_family = AF_UNSPEC, .ai_flags = ARES_AI_NOSORT};
    q->stage = stage;
    q->hosts = xcalloc(n, sizeof *q->hosts);
    q->n_hosts = n;
    q->pending = n + 1; /* held until every lookup is started: answers may come at once */
    for (size_t i = 0; i < n; i++) {
        struct mx_host *h = &q->hosts[i];
        h->req = q;
        h->pref = recs[i].pref;
        str_copy(h->name, sizeof h->name, recs[i].host);
        if (mx_host_literal(h)) {
            h->status = ARES_SUCCESS;
            q->pending--;
        } else if (q->r->closing) {
            h->status = ARES_EDESTRUCTION;
            q->pending--;
        } else {
            ares_getaddrinfo(q->r->channel, h->name, NULL, &hints, mx_on_addrinfo, h);
        }
    }
    mx_host_done(q);
    if (!q->r->closing)
        mx_rearm(q->r);
}

/* The domain has no MX: it is its own, preference 0 (RFC 5321 5.1). */
static void mx_implicit(struct mx_req *q)
{
    struct mxplan_rec rec = {.pref = 0};
    str_copy(rec.host, sizeof rec.host, q->hop.host);
    mx_lookup_hosts(q, &rec, 1, MX_STAGE_IMPLICIT);
}

/* ---- the outcome -------------------------------------------------------- */

static void mx_addr_text(const struct mx_target *t, char *out, size_t size)
{
    const struct sockaddr *sa = (const struct sockaddr *)&t->addr;
    const void *a = &((const struct sockaddr_in6 *)sa)->sin6_addr;
    if (sa->sa_family == AF_INET)
        a = &((const struct sockaddr_in *)sa)->sin_addr;
    if (!inet_ntop(sa->sa_family, a, out, (socklen_t)size))
        str_copy(out, size, "?");
}

/*
 * Drops the targets that are this host, with every one not preferred over
 * them (RFC 5321 5.1 again, by address). Returns the index of the best self
 * target, or -1; when nothing is left, that target is copied to t[0].
 */
static long mx_drop_self(struct mx_resolver *r, struct mx_target *t, size_t *n)
{
    long self = -1;
    for (size_t i = 0; i < *n; i++)
        if (mxplan_addr_is_self(r->listens, r->n_listens, (struct sockaddr *)&t[i].addr) &&
            (self < 0 || t[i].pref < t[self].pref))
            self = (long)i;
    if (self < 0)
        return -1;
    int cutoff = t[self].pref;
    size_t kept = 0;
    for (size_t i = 0; i < *n; i++)
        if (t[i].pref < cutoff)
            t[kept++] = t[i];
    if (kept == 0)
        t[0] = t[self]; /* kept for the caller's diagnostic */
    *n = kept;
    return self;
}

/* No host of a one-host lookup ([host] or implicit MX) had an address. */
static void mx_fail_single(struct mx_req *q)
{
    const struct mx_host *h = &q->hosts[0];
    char *d = q->ans.diag;
    if (h->status == ARES_ENOTFOUND) {
        str_fmt(d, sizeof q->ans.diag, "%s: no such domain (NXDOMAIN)", h->name);
        mx_finish_perm(q, MX_NXDOMAIN);
    } else if (h->status == ARES_ENODATA || h->status == ARES_SUCCESS) {
        const char *what = q->stage == MX_STAGE_IMPLICIT ? "no MX and no address record"
                                                         : "no address record";
        str_fmt(d, sizeof q->ans.diag, "%s: %s", h->name, what);
        mx_finish_perm(q, MX_NO_HOST);
    } else {
        str_fmt(d, sizeof q->ans.diag, "address lookup for %s: %s", h->name, mx_errtext(h->status));
        mx_finish(q, MX_TEMPFAIL);
    }
}

/* No MX host had an address: always temporary (a broken MX may be fixed). */
static void mx_fail_mx(struct mx_req *q)
{
    const struct mx_host *h = &q->hosts[0];
    for (size_t i = 0; i < q->n_hosts; i++)
        if (q->hosts[i].status != ARES_ENOTFOUND && q->hosts[i].status != ARES_ENODATA &&
            q->hosts[i].status != ARES_SUCCESS) {
            h = &q->hosts[i];
            str_fmt(q->ans.diag, sizeof q->ans.diag, "address lookup for MX host %s of %s: %s",
                    h->name, q->hop.host, mx_errtext(h->status));
            mx_finish(q, MX_TEMPFAIL);
            return;
        }
    str_fmt(q->ans.diag, sizeof q->ans.diag,
            "%s: no MX host has an address (%s: %s); misconfigured MX?", q->hop.host, h->name,
            mx_errtext(h->status == ARES_SUCCESS ? ARES_ENODATA : h->status));
    mx_finish(q, MX_TEMPFAIL);
}

/* Every address lookup is over: gather the targets in order and decide. */
static void mx_conclude(struct mx_req *q)
{
    size_t n = 0;
    for (size_t i = 0; i < q->n_hosts; i++)
        n += q->hosts[i].n_addrs;
    if (n > MX_MAX_TARGETS)
        n = MX_MAX_TARGETS;
    struct mx_target *t = xcalloc(n ? n : 1, sizeof *t);
    size_t k = 0;
    for (size_t i = 0; i < q->n_hosts; i++)
        for (size_t j = 0; j < q->hosts[i].n_addrs && k < n; j++)
            t[k++] = q->hosts[i].addrs[j];
    long self = mx_drop_self(q->r, t, &n);
    if (n > 0) {
        q->ans.targets = t;
        q->ans.n_targets = n;
        str_fmt(q->ans.diag, sizeof q->ans.diag, "%s: %zu address(es)", q->hop.host, n);
        mx_finish(q, MX_OK);
    } else if (self >= 0) {
        char a[INET6_ADDRSTRLEN];
        mx_addr_text(&t[0], a, sizeof a);
        str_fmt(q->ans.diag, sizeof q->ans.diag, "mail for %s loops back to myself (%s is %s:%d)",
                q->hop.host, t[0].host, a, q->hop.port);
        mx_finish(q, MX_LOOP);
    } else if (q->stage == MX_STAGE_HOSTS) {
        mx_fail_mx(q);
    } else {
        mx_fail_single(q);
    }
    if (!q->ans.targets)
        free(t);
}

/* ---- the MX step -------------------------------------------------------- */

static int mx_name_is_self(void *arg, const char *host)
{
    struct mx_resolver *r = arg;
    return mxplan_host_is_self(r->hostname, host);
}

/* Adds an MX record to recs, keeping the MXPLAN_MAX best; names too long are skipped. */
static void mx_keep_record(struct mxplan_rec *recs, size_t *n, const char *host, int pref)
{
    size_t slot = *n, worst = 0;
    if (strlen(host) >= sizeof recs->host)
        return;
    if (*n == MXPLAN_MAX) {
        for (size_t i = 1; i < *n; i++)
            if (recs[i].pref > recs[worst].pref)
                worst = i;
        if (recs[worst].pref <= pref)
            return;
        slot = worst;
    } else {
        (*n)++;
    }
    str_copy(recs[slot].host, sizeof recs[slot].host, host);
    recs[slot].pref = pref;
}

/* Orders the MX records of an answer and goes on to their addresses. */
static void mx_got_mx(struct mx_req *q, const unsigned char *abuf, int alen)
{
    struct ares_mx_reply *mx = NULL;
    int rc = ares_parse_mx_reply(abuf, alen, &mx);
    if (rc == ARES_ENODATA) {
        mx_implicit(q);
        return;
    }
    if (rc != ARES_SUCCESS) {
        str_fmt(q->ans.diag, sizeof q->ans.diag, "MX lookup for %s: bad reply (%s)", q->hop.host,
                ares_strerror(rc));
        mx_finish(q, MX_TEMPFAIL);
        return;
    }
    struct mxplan_rec recs[MXPLAN_MAX];
    size_t n = 0;
    for (struct ares_mx_reply *p = mx; p; p = p->next)
        if (p->host)
            mx_keep_record(recs, &n, p->host, p->priority);
    ares_free_data(mx);
    switch (mxplan_order(recs, &n, q->r->seed++, mx_name_is_self, q->r)) {
    case MXPLAN_OK:
        mx_lookup_hosts(q, recs, n, MX_STAGE_HOSTS);
        return;
    case MXPLAN_NULL_MX:
        str_fmt(q->ans.diag, sizeof q->ans.diag, "%s: the domain accepts no mail (null MX)",
                q->hop.host);
        mx_finish_perm(q, MX_NULL_MX);
        return;
    case MXPLAN_NONE:
        str_fmt(q->ans.diag, sizeof q->ans.diag, "%s: no usable MX record", q->hop.host);
        mx_finish_perm(q, MX_NO_HOST);
        return;
    case MXPLAN_LOOP:
        str_fmt(q->ans.diag, sizeof q->ans.diag,
                "mail for %s loops back to myself (%s is the best MX)", q->hop.host,
                q->r->hostname);
        mx_finish(q, MX_LOOP);
        return;
    }
}

static void mx_on_mx(void *arg, int status, int timeouts, unsigned char *abuf, int alen)
{
    struct mx_req *q = arg;
    (void)timeouts;
    if (status == ARES_SUCCESS && !q->r->closing) {
        mx_got_mx(q, abuf, alen);
    } else if (status == ARES_ENODATA && !q->r->closing) {
        mx_implicit(q);
    } else if (status == ARES_ENOTFOUND) {
        str_fmt(q->ans.diag, sizeof q->ans.diag, "%s: no such domain (NXDOMAIN)", q->hop.host);
        mx_finish_perm(q, MX_NXDOMAIN);
    } else {
        str_fmt(q->ans.diag, sizeof q->ans.diag, "MX lookup for %s: %s", q->hop.host,
                mx_errtext(q->r->closing ? ARES_EDESTRUCTION : status));
        mx_finish(q, MX_TEMPFAIL);
    }
}

void mx_resolve(struct mx_resolver *r, const struct route_hop *hop, mx_done_fn cb, void *arg)
{
    struct mx_req *q = xcalloc(1, sizeof *q);
    q->r = r;
    q->hop = *hop;
    q->cb = cb;
    q->arg = arg;
    q->done_ev = evtimer_new(r->base, mx_on_done, q);
    if (!q->done_ev) {
        log_err("mx: cannot create an event");
        abort();
    }
    q->next = r->reqs;
    if (r->reqs)
        r->reqs->prev = q;
    r->reqs = q;
    if (r->closing) {
        str_copy(q->ans.diag, sizeof q->ans.diag, "shutting down");
        mx_finish(q, MX_TEMPFAIL);
    } else if (hop->no_mx) {
        struct mxplan_rec rec = {.pref = 0};
        str_copy(rec.host, sizeof rec.host, hop->host);
        mx_lookup_hosts(q, &rec, 1, MX_STAGE_DIRECT);
    } else {
        q->stage = MX_STAGE_MX;
        ares_query(r->channel, hop->host, ns_c_in, ns_t_mx, mx_on_mx, q);
        mx_rearm(r);
    }
}

/* ---- the resolver ------------------------------------------------------- */

static int mx_channel_init(struct mx_resolver *r)
{
    struct ares_options o;
    char lookups[] = "b";   /* DNS only: mail routing ignores /etc/hosts */
    memset(&o, 0, sizeof o);
    o.sock_state_cb = mx_sock_state;
    o.sock_state_cb_data = r;
    o.timeout = MX_TIMEOUT_MS;
    o.tries = MX_TRIES;
    o.flags = ARES_FLAG_NOSEARCH | ARES_FLAG_NOALIASES;
    o.domains = NULL;
    o.ndomains = 0;         /* no search list: a mail domain is always absolute */
    o.lookups = lookups;
    int mask = ARES_OPT_SOCK_STATE_CB | ARES_OPT_TIMEOUTMS | ARES_OPT_TRIES | ARES_OPT_FLAGS |
               ARES_OPT_DOMAINS | ARES_OPT_LOOKUPS;
    int rc = ares_init_options(&r->channel, &o, mask);
    if (rc != ARES_SUCCESS) {
        log_err("mx: cannot set up DNS: %s", ares_strerror(rc));
        return -1;
    }
    return 0;
}

void mx_resolver_set_hostname(struct mx_resolver *r, const char *hostname)
{
    free(r->hostname);
    r->hostname = xstrdup(hostname ? hostname : "");
}

static uint32_t mx_seed(void)
{
    uint32_t s = 0;
    if (getrandom(&s, sizeof s, GRND_NONBLOCK) != (ssize_t)sizeof s)
        s = (uint32_t)time(NULL) ^ ((uint32_t)getpid() << 16);
    return s;
}

struct mx_resolver *mx_resolver_new(struct event_base *base, const struct conf *c)
{
    int rc = ares_library_init(ARES_LIB_INIT_ALL);
    if (rc != ARES_SUCCESS) {
        log_err("mx: cannot set up c-ares: %s", ares_strerror(rc));
        return NULL;
    }
    struct mx_resolver *r = xcalloc(1, sizeof *r);
    r->base = base;
    if (mx_channel_init(r) < 0) {
        free(r);
        ares_library_cleanup();
        return NULL;
    }
    if (dns_servers_apply(r->channel, c, "mx") < 0) {
        ares_destroy(r->channel);
        free(r->socks);
        free(r);
        ares_library_cleanup();
        return NULL;
    }
    r->timer = evtimer_new(base, mx_on_timer, r);
    r->hostname = xstrdup(c->hostname ? c->hostname : "");
    r->n_listens = c->n_listens;
    r->listens = xcalloc(c->n_listens ? c->n_listens : 1, sizeof *r->listens);
    if (c->n_listens)
        memcpy(r->listens, c->listens, c->n_listens * sizeof *r->listens);
    r->seed = mx_seed();
    return r;
}

void mx_resolver_free(struct mx_resolver *r)
{
    if (!r)
        return;
    r->closing = 1;
    for (struct mx_req *q = r->reqs; q; q = q->next)
        q->cancelled = !q->finished;
    ares_destroy(r->channel); /* pending lookups end with ARES_EDESTRUCTION */
    for (size_t i = 0; i < r->n_socks; i++)
        event_free(r->socks[i].ev);
    free(r->socks);
    event_free(r->timer);
    /* A callback may call mx_resolve again: such requests join the list, already failed. */
    while (r->reqs) {
        struct mx_req *q = r->reqs;
        mx_req_unlink(q);
        if (q->cancelled || !q->finished) {
            free(q->ans.targets);
            q->ans.targets = NULL;
            q->ans.n_targets = 0;
            q->ans.status = MX_TEMPFAIL;
            str_copy(q->ans.diag, sizeof q->ans.diag, "shutting down");
        }
        q->cb(q->arg, &q->ans);
        mx_req_free(q);
    }
    free(r->hostname);
    free(r->listens);
    free(r);
    ares_library_cleanup();
}
