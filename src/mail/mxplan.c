/*
 * mxplan: ordering MX records and recognising this host (see mxplan.h).
 * Pure functions: the shuffle uses its own seeded generator, never rand().
 */
#include "mail/mxplan.h"
#include "lib/str.h"
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

int mxplan_is_root(const char *host)
{
    return host[0] == '\0' || strcmp(host, ".") == 0;
}

/* Case-insensitive name equality, a single trailing dot on either side ignored. */
static int mxplan_name_eq(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b);
    if (la > 0 && a[la - 1] == '.')
        la--;
    if (lb > 0 && b[lb - 1] == '.')
        lb--;
    return la == lb && la > 0 && strncasecmp(a, b, la) == 0;
}

int mxplan_host_is_self(void *self, const char *host)
{
    return self && mxplan_name_eq(self, host);
}

static int mxplan_cmp(const void *pa, const void *pb)
{
    const struct mxplan_rec *a = pa, *b = pb;
    if (a->pref != b->pref)
        return a->pref < b->pref ? -1 : 1;
    return strcasecmp(a->host, b->host);
}

/* splitmix32: a small, well-mixed generator whose whole state is the seed. */
static uint32_t mxplan_next(uint32_t *state)
{
    uint32_t z = (*state += 0x9e3779b9u);
    z = (z ^ (z >> 16)) * 0x85ebca6bu;
    z = (z ^ (z >> 13)) * 0xc2b2ae35u;
    return z ^ (z >> 16);
}

/* Fisher-Yates over each run of equal preference (RFC 5321 5.1: spread the load). */
static void mxplan_shuffle(struct mxplan_rec *recs, size_t n, uint32_t seed)
{
    uint32_t state = seed;
    for (size_t start = 0, end; start < n; start = end) {
        for (end = start + 1; end < n && recs[end].pref == recs[start].pref; end++)
            ;
        for (size_t i = end - 1; i > start; i--) {
            size_t j = start + mxplan_next(&state) % (i - start + 1);
            struct mxplan_rec t = recs[i];
            recs[i] = recs[j];
            recs[j] = t;
        }
    }
}

/* Drops later repeats of a name (the list is sorted, so the best preference stays). */
static size_t mxplan_dedup(struct mxplan_rec *recs, size_t n)
{
    size_t kept = 0;
    for (size_t i = 0; i < n; i++) {
        size_t k;
        for (k = 0; k < kept && !mxplan_name_eq(recs[k].host, recs[i].host); k++)
            ;
        if (k == kept)
            recs[kept++] = recs[i];
    }
    return kept;
}

enum mxplan_result mxplan_order(struct mxplan_rec *recs, size_t *n, uint32_t seed,
                                mxplan_self_fn is_self, void *arg)
{
    for (size_t i = 0; i < *n; i++)
        if (mxplan_is_root(recs[i].host))
            return MXPLAN_NULL_MX;
    if (*n == 0)
        return MXPLAN_NONE;
    qsort(recs, *n, sizeof *recs, mxplan_cmp);
    *n = mxplan_dedup(recs, *n);
    /* Sorted: the first self record has the lowest preference among them. */
    for (size_t i = 0; is_self && i < *n; i++) {
        if (!is_self(arg, recs[i].host))
            continue;
        size_t keep = 0;
        while (keep < i && recs[keep].pref < recs[i].pref)
            keep++;
        *n = keep;
        break;
    }
    if (*n == 0)
        return MXPLAN_LOOP;
    mxplan_shuffle(recs, *n, seed);
    return MXPLAN_OK;
}

/* An address as (family, bytes, port), IPv4-mapped IPv6 turned into IPv4. 0, or -1. */
static int mxplan_unpack(const struct sockaddr *sa, int *family, unsigned char *bytes, int *port)
{
    if (sa->sa_family == AF_INET) {
        const struct sockaddr_in *s4 = (const struct sockaddr_in *)sa;
        *family = AF_INET;
        memcpy(bytes, &s4->sin_addr, 4);
        *port = ntohs(s4->sin_port);
        return 0;
    }
    if (sa->sa_family != AF_INET6)
        return -1;
    const struct sockaddr_in6 *s6 = (const struct sockaddr_in6 *)sa;
    *port = ntohs(s6->sin6_port);
    if (IN6_IS_ADDR_V4MAPPED(&s6->sin6_addr)) {
        *family = AF_INET;
        memcpy(bytes, s6->sin6_addr.s6_addr + 12, 4);
    } else {
        *family = AF_INET6;
        memcpy(bytes, &s6->sin6_addr, 16);
    }
    return 0;
}

static int mxplan_is_loopback_or_any(int family, const unsigned char *b)
{
    static const unsigned char zero[16];
    if (family == AF_INET)
        return b[0] == 127 || memcmp(b, zero, 4) == 0;
    return memcmp(b, zero, 15) == 0 && (b[15] == 1 || b[15] == 0);
}

/* 1 if one listen matches the unpacked target. */
static int mxplan_listen_matches(const struct listen_spec *l, int family, const unsigned char *b,
                                 int port)
{
    unsigned char la[16];
    if (l->kind == LISTEN_POP3 || l->kind == LISTEN_POP3S || l->kind == LISTEN_METRICS ||
        l->port != port)
        return 0;
    int lf = strchr(l->addr, ':') ? AF_INET6 : AF_INET;
    if (inet_pton(lf, l->addr, la) != 1)
        return 0;
    size_t len = lf == AF_INET ? 4 : 16;
    static const unsigned char zero[16];
    /* Connecting to 0.0.0.0 or :: reaches this machine, whatever the listen address. */
    if (memcmp(b, zero, family == AF_INET ? 4 : 16) == 0)
        return 1;
    if (memcmp(la, zero, len) == 0)   /* wildcard listen */
        return mxplan_is_loopback_or_any(family, b);
    return lf == family && memcmp(la, b, len) == 0;
}

int mxplan_addr_is_self(const struct listen_spec *listens, size_t n, const struct sockaddr *sa)
{
    int family, port;
    unsigned char bytes[16];
    if (mxplan_unpack(sa, &family, bytes, &port) < 0)
        return 0;
    for (size_t i = 0; i < n; i++)
        if (mxplan_listen_matches(&listens[i], family, bytes, port))
            return 1;
    return 0;
}
