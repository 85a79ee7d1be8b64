/*
 * auth_dns: blocking, time-bounded c-ares lookups for the check workers
 * (see auth_dns.h). The channel is polled here, on the calling thread:
 * nothing of it touches the event loop.
 */
#include "msgauth/auth_dns.h"
#include "lib/alloc.h"
#include "lib/log.h"
#include "lib/str.h"
#include "net/dns_servers.h"
#include <ares.h>
#include <arpa/nameser.h>
#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define AUTH_DNS_TRY_MS 1500    /* first try; c-ares doubles it for the second */
#define AUTH_DNS_TRIES 2

struct auth_dns {
    ares_channel channel;
    int64_t budget_end;     /* monotonic ms */
    int down;               /* a lookup timed out: the rest fail at once */
};

/* What one query's callback leaves behind. */
struct auth_dns_call {
    int done, status, type;
    struct auth_dns_answer *ans;
};

static int64_t auth_dns_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

const char *auth_dns_status_name(enum auth_dns_status s)
{
    switch (s) {
    case AUTH_DNS_OK: return "ok";
    case AUTH_DNS_NXDOMAIN: return "nxdomain";
    case AUTH_DNS_NODATA: return "nodata";
    case AUTH_DNS_TEMP: return "temporary failure";
    }
    return "?";
}

struct auth_dns *auth_dns_new(const struct conf *c, int budget_ms)
{
    struct ares_options o;
    char lookups[] = "b";   /* DNS only */
    memset(&o, 0, sizeof o);
    o.timeout = AUTH_DNS_TRY_MS;
    o.tries = AUTH_DNS_TRIES;
    o.flags = ARES_FLAG_NOSEARCH | ARES_FLAG_NOALIASES;
    o.lookups = lookups;
    int mask = ARES_OPT_TIMEOUTMS | ARES_OPT_TRIES | ARES_OPT_FLAGS | ARES_OPT_DOMAINS |
               ARES_OPT_LOOKUPS;
    struct auth_dns *d = xcalloc(1, sizeof *d);
    int rc = ares_init_options(&d->channel, &o, mask);
    if (rc != ARES_SUCCESS) {
        log_err("authcheck: cannot set up DNS: %s", ares_strerror(rc));
        free(d);
        return NULL;
    }
    if (dns_servers_apply(d->channel, c, "authcheck") < 0) {
        auth_dns_free(d);
        return NULL;
    }
    d->budget_end = auth_dns_now() + budget_ms;
    return d;
}

void auth_dns_free(struct auth_dns *d)
{
    if (!d)
        return;
    ares_destroy(d->channel);
    free(d);
}

void auth_dns_answer_free(struct auth_dns_answer *ans)
{
    for (size_t i = 0; i < ans->n; i++) {
        free(ans->rr[i].text);
        ans->rr[i].text = NULL;
    }
    ans->n = 0;
}

/* One TXT record's strings joined (RFC 7208 3.3, RFC 6376 3.6.2.2). */
static void auth_dns_take_txt(const unsigned char *abuf, int alen, struct auth_dns_answer *ans)
{
    struct ares_txt_ext *txt = NULL;
    if (ares_parse_txt_reply_ext(abuf, alen, &txt) != ARES_SUCCESS)
        return;
    char *cur = NULL;
    size_t len = 0;
    for (struct ares_txt_ext *t = txt; t; t = t->next) {
        if (t->record_start) {
            if (cur && ans->n < AUTH_DNS_MAX_RR)
                ans->rr[ans->n++].text = cur;
            else
                free(cur);
            cur = xstrdup("");
            len = 0;
        }
        if (!cur || len + t->length > AUTH_DNS_TXT_MAX)
            continue;
        cur = xrealloc(cur, len + t->length + 1);
        memcpy(cur + len, t->txt, t->length);
        len += t->length;
        cur[len] = '\0';
    }
    if (cur && ans->n < AUTH_DNS_MAX_RR)
        ans->rr[ans->n++].text = cur;
    else
        free(cur);
    ares_free_data(txt);
}

static void auth_dns_take_addrs(const unsigned char *abuf, int alen, int type,
                                struct auth_dns_answer *ans)
{
    if (type == ns_t_a) {
        struct ares_addrttl a[AUTH_DNS_MAX_RR];
        int n = AUTH_DNS_MAX_RR;
        if (ares_parse_a_reply(abuf, alen, NULL, a, &n) == ARES_SUCCESS)
            for (int i = 0; i < n; i++)
                memcpy(ans->rr[ans->n++].addr, &a[i].ipaddr, 4);
    } else {
        struct ares_addr6ttl a[AUTH_DNS_MAX_RR];
        int n = AUTH_DNS_MAX_RR;
        if (ares_parse_aaaa_reply(abuf, alen, NULL, a, &n) == ARES_SUCCESS)
            for (int i = 0; i < n; i++)
                memcpy(ans->rr[ans->n++].addr, &a[i].ip6addr, 16);
    }
}

static void auth_dns_take_names(const unsigned char *abuf, int alen, int type,
                                struct auth_dns_answer *ans)
{
    if (type == ns_t_mx) {
        struct ares_mx_reply *mx = NULL;
        if (ares_parse_mx_reply(abuf, alen, &mx) != ARES_SUCCESS)
            return;
        for (struct ares_mx_reply *m = mx; m && ans->n < AUTH_DNS_MAX_RR; m = m->next) {
            ans->rr[ans->n].pref = m->priority;
            ans->rr[ans->n++].text = xstrdup(m->host);
        }
        ares_free_data(mx);
        return;
    }
    struct hostent *h = NULL;
    unsigned char zero[16] = {0};
    if (ares_parse_ptr_reply(abuf, alen, zero, 4, AF_INET, &h) != ARES_SUCCESS)
        return;
    if (h->h_name)
        ans->rr[ans->n++].text = xstrdup(h->h_name);
    for (char **a = h->h_aliases; a && *a && ans->n < AUTH_DNS_MAX_RR; a++)
        if (!h->h_name || strcmp(*a, h->h_name) != 0)
            ans->rr[ans->n++].text = xstrdup(*a);
    ares_free_hostent(h);
}

static void auth_dns_on_answer(void *arg, int status, int timeouts, unsigned char *abuf, int alen)
{
    struct auth_dns_call *call = arg;
    (void)timeouts;
    call->done = 1;
    call->status = status;
    if (status != ARES_SUCCESS || !abuf)
        return;
    if (call->type == ns_t_txt)
        auth_dns_take_txt(abuf, alen, call->ans);
    else if (call->type == ns_t_a || call->type == ns_t_aaaa)
        auth_dns_take_addrs(abuf, alen, call->type, call->ans);
    else
        auth_dns_take_names(abuf, alen, call->type, call->ans);
}

/* Runs the channel until the call is done or deadline (monotonic ms) passes. */
static void auth_dns_wait(struct auth_dns *d, struct auth_dns_call *call, int64_t deadline)
{
    while (!call->done) {
        int64_t left = deadline - auth_dns_now();
        if (left <= 0) {
            ares_cancel(d->channel);    /* calls back with ARES_ECANCELLED */
            if (!call->done)
                call->done = 1, call->status = ARES_ETIMEOUT;
            d->down = 1;
            return;
        }
        ares_socket_t socks[ARES_GETSOCK_MAXNUM];
        struct pollfd pfd[ARES_GETSOCK_MAXNUM];
        /* the bit masks of ARES_GETSOCK_READABLE/WRITABLE, unsigned: c-ares's own
         * macros shift a signed 1 into the sign bit for the last socket */
        unsigned bits = (unsigned)ares_getsock(d->channel, socks, ARES_GETSOCK_MAXNUM);
        int n = 0;
        for (unsigned i = 0; i < ARES_GETSOCK_MAXNUM; i++) {
            short ev = (short)(((bits & (1u << i)) ? POLLIN : 0) |
                               ((bits & (1u << (i + ARES_GETSOCK_MAXNUM))) ? POLLOUT : 0));
            if (ev)
                pfd[n].fd = socks[i], pfd[n].events = ev, pfd[n++].revents = 0;
        }
        struct timeval max = {(time_t)(left / 1000), (suseconds_t)(left % 1000) * 1000}, tv;
        struct timeval *t = ares_timeout(d->channel, &max, &tv);
        int ms = (int)(t->tv_sec * 1000 + t->tv_usec / 1000) + 1;
        int ready = poll(pfd, (nfds_t)n, ms);
        if (ready <= 0) {
            ares_process_fd(d->channel, ARES_SOCKET_BAD, ARES_SOCKET_BAD);
            continue;
        }
        for (int i = 0; i < n; i++)
            if (pfd[i].revents)
                ares_process_fd(d->channel,
                                (pfd[i].revents & (POLLIN | POLLERR | POLLHUP)) ? pfd[i].fd
                                                                                : ARES_SOCKET_BAD,
                                (pfd[i].revents & POLLOUT) ? pfd[i].fd : ARES_SOCKET_BAD);
    }
}

enum auth_dns_status auth_dns_query(struct auth_dns *d, const char *name, int type,
                                    struct auth_dns_answer *ans)
{
    memset(ans, 0, sizeof *ans);    /* A/AAAA records have no text to free */
    int64_t now = auth_dns_now(), deadline = now + AUTH_DNS_LOOKUP_MS;
    if (deadline > d->budget_end)
        deadline = d->budget_end;
    if (d->down || deadline <= now || !name[0] || strlen(name) > 253)
        return d->down || deadline <= now ? AUTH_DNS_TEMP : AUTH_DNS_NXDOMAIN;
    struct auth_dns_call call = {.type = type, .ans = ans};
    ares_query(d->channel, name, ns_c_in, type, auth_dns_on_answer, &call);
    auth_dns_wait(d, &call, deadline);
    switch (call.status) {
    case ARES_SUCCESS: return ans->n > 0 ? AUTH_DNS_OK : AUTH_DNS_NODATA;
    case ARES_ENODATA: return AUTH_DNS_NODATA;
    case ARES_ENOTFOUND: return AUTH_DNS_NXDOMAIN;
    case ARES_EBADNAME: return AUTH_DNS_NXDOMAIN;
    case ARES_ETIMEOUT: d->down = 1; return AUTH_DNS_TEMP;
    default: return AUTH_DNS_TEMP;
    }
}
