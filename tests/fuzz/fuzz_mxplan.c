/*
 * fuzz_mxplan: libFuzzer harness for mail/mxplan, the pure half of MX
 * handling. Input: a seed (4 bytes), then this host's name up to a NUL,
 * then MX records (2 bytes preference, the host up to a NUL), at most
 * MXPLAN_MAX. Checks of mxplan_order, against a model of RFC 5321 5.1,
 * RFC 974 and RFC 7505:
 * - MXPLAN_NULL_MX exactly when a host is "" or "."; MXPLAN_NONE exactly
 *   for no record;
 * - otherwise the kept records are: one per name (any case, a trailing dot
 *   ignored) at its best preference, minus this host and every record not
 *   preferred over this host's best; MXPLAN_LOOP exactly when none is left;
 * - they come in non-decreasing preference, and the same seed gives the
 *   same order (only equal preferences are shuffled).
 * mxplan_addr_is_self, on an address and port the input picks, against a
 * fixed set of listens: an IPv4-mapped IPv6 address gets the IPv4 answer;
 * a port no mail listen uses (a POP3 one, say) is never this host;
 * 0.0.0.0 and :: are this host on a mail port; loopback reaches wildcard
 * listens.
 * Build: tests/fuzz/run.sh.
 */
#include <assert.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include "mail/mxplan.h"

/* A cursor over the input. */
struct input {
    const uint8_t *p;
    size_t n;
};

static unsigned take_byte(struct input *in)
{
    if (!in->n)
        return 0;
    in->n--;
    return *in->p++;
}

/* Copies bytes up to a NUL (or the end) into out (size), cutting what does not fit. */
static void take_string(struct input *in, char *out, size_t size)
{
    size_t k = 0;
    while (in->n) {
        unsigned c = take_byte(in);
        if (c == 0)
            break;
        if (k + 1 < size)
            out[k++] = (char)c;
    }
    out[k] = '\0';
}

static size_t trimmed(const char *s)
{
    size_t n = strlen(s);
    return n && s[n - 1] == '.' ? n - 1 : n;
}

static int same_name(const char *a, const char *b)
{
    size_t la = trimmed(a);
    return la && la == trimmed(b) && strncasecmp(a, b, la) == 0;
}

/* The best preference of name among recs (or -1 if absent). */
static int best_pref(const struct mxplan_rec *recs, size_t n, const char *name)
{
    int best = -1;
    for (size_t i = 0; i < n; i++)
        if (same_name(recs[i].host, name) && (best < 0 || recs[i].pref < best))
            best = recs[i].pref;
    return best;
}

static void check_order(const struct mxplan_rec *in, size_t n, const char *self, uint32_t seed)
{
    struct mxplan_rec out[MXPLAN_MAX], again[MXPLAN_MAX];
    size_t kept = n, kept2 = n;
    memcpy(out, in, n * sizeof *in);
    memcpy(again, in, n * sizeof *in);
    enum mxplan_result r = mxplan_order(out, &kept, seed, mxplan_host_is_self, (void *)self);
    assert(mxplan_order(again, &kept2, seed, mxplan_host_is_self, (void *)self) == r);
    int root = 0;
    for (size_t i = 0; i < n; i++)
        root |= mxplan_is_root(in[i].host);
    if (root || n == 0) {
        assert(r == (root ? MXPLAN_NULL_MX : MXPLAN_NONE));
        return;
    }
    int self_pref = best_pref(in, n, self);
    size_t want = 0; /* distinct names preferred over this host */
    for (size_t i = 0; i < n; i++) {
        int p = best_pref(in, n, in[i].host);
        if (best_pref(in, i, in[i].host) < 0 && (self_pref < 0 || p < self_pref))
            want++;
    }
    assert(r == (want ? MXPLAN_OK : MXPLAN_LOOP));
    assert(kept == (r == MXPLAN_OK ? want : 0) && kept2 == kept);
    for (size_t i = 0; i < kept; i++) {
        assert(out[i].pref == best_pref(in, n, out[i].host));
        assert(!mxplan_host_is_self((void *)self, out[i].host));
        assert(i == 0 || out[i - 1].pref <= out[i].pref);
        assert(best_pref(out, i, out[i].host) < 0); /* no name twice */
        assert(strcmp(out[i].host, again[i].host) == 0 && out[i].pref == again[i].pref);
    }
}

static const struct listen_spec listens[] = {
    { .kind = LISTEN_SMTP, .addr = "0.0.0.0", .port = 25 },
    { .kind = LISTEN_SUBMISSION, .addr = "127.0.0.1", .port = 587 },
    { .kind = LISTEN_SMTPS, .addr = "::1", .port = 465 },
    { .kind = LISTEN_SMTP, .addr = "192.0.2.10", .port = 2525 },
    { .kind = LISTEN_POP3, .addr = "0.0.0.0", .port = 110 },
    { .kind = LISTEN_POP3S, .addr = "::", .port = 995 },
};

static void check_addr(struct input *in)
{
    static const int ports[] = { 25, 587, 465, 2525, 110, 995, 26 };
    unsigned char b[4];
    for (size_t i = 0; i < 4; i++)
        b[i] = (unsigned char)take_byte(in);
    unsigned pick = take_byte(in);
    if (pick & 0x80) { /* a few addresses that matter */
        static const unsigned char interesting[][4] = {
            { 0, 0, 0, 0 }, { 127, 0, 0, 1 }, { 192, 0, 2, 10 }, { 127, 1, 2, 3 },
        };
        memcpy(b, interesting[pick & 3], 4);
    }
    int port = ports[(pick >> 2) % (sizeof ports / sizeof ports[0])];
    struct sockaddr_in s4 = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };
    memcpy(&s4.sin_addr, b, 4);
    struct sockaddr_in6 s6 = { .sin6_family = AF_INET6, .sin6_port = htons((uint16_t)port) };
    s6.sin6_addr.s6_addr[10] = s6.sin6_addr.s6_addr[11] = 0xff;
    memcpy(s6.sin6_addr.s6_addr + 12, b, 4);
    size_t nl = sizeof listens / sizeof listens[0];
    int v4 = mxplan_addr_is_self(listens, nl, (struct sockaddr *)&s4);
    assert(mxplan_addr_is_self(listens, nl, (struct sockaddr *)&s6) == v4);
    if (port == 110 || port == 995 || port == 26)
        assert(!v4);
    int any = !b[0] && !b[1] && !b[2] && !b[3];
    if (any || (port == 25 && b[0] == 127))
        assert(v4 == (port != 110 && port != 995 && port != 26));
    struct sockaddr_in6 any6 = { .sin6_family = AF_INET6, .sin6_port = htons((uint16_t)port) };
    assert(mxplan_addr_is_self(listens, nl, (struct sockaddr *)&any6) ==
           (port != 110 && port != 995 && port != 26));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct input in = { .p = data, .n = size };
    uint32_t seed = 0;
    for (int i = 0; i < 4; i++)
        seed = seed << 8 | take_byte(&in);
    char self[256];
    take_string(&in, self, sizeof self);
    struct input addr = in;
    check_addr(&addr);
    struct mxplan_rec recs[MXPLAN_MAX];
    size_t n = 0;
    while (in.n && n < MXPLAN_MAX) {
        unsigned hi = take_byte(&in);
        recs[n].pref = (int)(hi << 8 | take_byte(&in));
        take_string(&in, recs[n].host, sizeof recs[n].host);
        n++;
    }
    check_order(recs, n, self, seed);
    return 0;
}
