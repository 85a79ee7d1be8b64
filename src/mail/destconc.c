/*
 * destconc: the concurrency of one destination (see destconc.h).
 *
 * Growth follows Postfix's default positive feedback, 1/concurrency: each
 * success adds 1/limit, so the limit grows by one after `limit` successes,
 * one step per round of parallel deliveries (linear, as TCP's congestion
 * avoidance). +1 per success would double the limit each round and
 * overshoot a destination's real capacity before the first complaint.
 * A failed connection takes one off at once (a refused connect is a
 * clearer signal than a failed delivery); "too many connections" drops the
 * limit to what was open minus one, and growth waits for the next success;
 * that value also becomes a ceiling growth never passes until an hour
 * (ceiling_quiet_ms) goes by without another complaint, because a server's
 * connection limit is a fixed setting that probing would only hit again.
 * Growth counts only successes that used the whole limit (open_now >=
 * limit): a destination that gets one message a minute never needs 20.
 * Failures in a row up to dead_threshold make the destination DEAD: no
 * connection until dead_until, then one probe; a failed probe doubles the
 * dead time up to dead_max_ms, a success revives it at the initial limit.
 */
#include "mail/destconc.h"
#include <stddef.h>
#include <stdint.h>

struct destconc_params destconc_params_default(void)
{
    struct destconc_params p = {
        .initial = 2,
        .max = 10,
        .dead_threshold = 5,
        .dead_ms = 5 * 60 * 1000LL,
        .dead_max_ms = 60 * 60 * 1000LL,
        .ceiling_quiet_ms = 60 * 60 * 1000LL,
    };
    return p;
}

/* Zero fields take their defaults; initial never above max. */
static struct destconc_params destconc_params_fill(const struct destconc_params *in)
{
    struct destconc_params p = destconc_params_default();
    if (in == NULL)
        return p;
    if (in->max > 0)
        p.max = in->max;
    p.initial = in->initial > 0 ? in->initial : (p.initial < p.max ? p.initial : p.max);
    if (p.initial > p.max)
        p.initial = p.max;
    if (in->dead_threshold > 0)
        p.dead_threshold = in->dead_threshold;
    if (in->dead_ms > 0)
        p.dead_ms = in->dead_ms;
    if (in->dead_max_ms > 0)
        p.dead_max_ms = in->dead_max_ms;
    if (p.dead_max_ms < p.dead_ms)
        p.dead_max_ms = p.dead_ms;
    if (in->ceiling_quiet_ms > 0)
        p.ceiling_quiet_ms = in->ceiling_quiet_ms;
    return p;
}

/* Back to a fresh destination (also a revived one: a learned ceiling stays). */
static void destconc_revive(struct destconc *d)
{
    d->state = DESTCONC_ACTIVE;
    d->limit = d->ceiling && d->ceiling < d->p.initial ? d->ceiling : d->p.initial;
    d->credit = 0;
    d->failures = 0;
    d->dead_ms = d->p.dead_ms;
    d->dead_until = 0;
}

void destconc_init(struct destconc *d, const struct destconc_params *params)
{
    d->p = destconc_params_fill(params);
    d->ceiling = 0;
    d->ceiling_at = 0;
    destconc_revive(d);
}

/* Dead from now for the current dead time. */
static void destconc_die(struct destconc *d, int64_t now_ms)
{
    d->state = DESTCONC_DEAD;
    d->credit = 0;
    d->dead_until = now_ms + d->dead_ms;
}

/* A failed probe: dead again, for twice as long (up to the cap). */
static void destconc_probe_failed(struct destconc *d, int64_t now_ms)
{
    d->dead_ms = d->dead_ms > d->p.dead_max_ms / 2 ? d->p.dead_max_ms : d->dead_ms * 2;
    destconc_die(d, now_ms);
}

int destconc_may_open(struct destconc *d, int64_t now_ms, unsigned open_now)
{
    if (d->state == DESTCONC_DEAD) {
        if (now_ms < d->dead_until)
            return 0;
        d->state = DESTCONC_PROBE;
    }
    if (d->state == DESTCONC_PROBE)
        return open_now == 0;
    return open_now < d->limit;
}

unsigned destconc_ceiling(const struct destconc *d, int64_t now_ms)
{
    if (d->ceiling == 0 || now_ms - d->ceiling_at >= d->p.ceiling_quiet_ms)
        return 0;
    return d->ceiling;
}

void destconc_on_success(struct destconc *d, int64_t now_ms, unsigned open_now)
{
    if (d->ceiling && destconc_ceiling(d, now_ms) == 0)
        d->ceiling = 0; /* quiet long enough: growth may probe one higher again */
    if (d->state == DESTCONC_DEAD || d->state == DESTCONC_PROBE) {
        destconc_revive(d);
        return;
    }
    d->state = DESTCONC_ACTIVE;
    d->failures = 0;
    unsigned top = d->ceiling && d->ceiling < d->p.max ? d->ceiling : d->p.max;
    if (d->limit >= top || open_now < d->limit) {
        if (d->limit >= top)
            d->credit = 0;
        return;
    }
    if (++d->credit >= d->limit) {
        d->limit++;
        d->credit = 0;
    }
}

void destconc_on_conn_failure(struct destconc *d, int64_t now_ms)
{
    if (d->state == DESTCONC_DEAD) /* a connection opened before it died */
        return;
    if (d->state == DESTCONC_PROBE) {
        destconc_probe_failed(d, now_ms);
        return;
    }
    d->failures++;
    if (d->failures >= d->p.dead_threshold) {
        destconc_die(d, now_ms);
        return;
    }
    if (d->limit > 1)
        d->limit--;
    d->credit = 0;
    d->state = DESTCONC_THROTTLED;
}

/* A refused probe counts as a failed one: its only connection was turned away. */
void destconc_on_too_many(struct destconc *d, int64_t now_ms, unsigned open_now)
{
    if (d->state == DESTCONC_DEAD)
        return;
    if (d->state == DESTCONC_PROBE) {
        destconc_probe_failed(d, now_ms);
        return;
    }
    unsigned cap = open_now > 1 ? open_now - 1 : 1;
    if (cap < d->limit)
        d->limit = cap;
    if (destconc_ceiling(d, now_ms) == 0 || cap < d->ceiling)
        d->ceiling = cap; /* a stale connection's late complaint never raises it */
    d->ceiling_at = now_ms;
    d->credit = 0;
    d->state = DESTCONC_THROTTLED;
}

void destconc_probe_now(struct destconc *d)
{
    if (d->state == DESTCONC_DEAD)
        d->state = DESTCONC_PROBE;
}

int destconc_forgettable(const struct destconc *d, int64_t now_ms)
{
    if (d->state == DESTCONC_PROBE || (d->state == DESTCONC_DEAD && now_ms < d->dead_until))
        return 0;
    return destconc_ceiling(d, now_ms) == 0;
}

int64_t destconc_dead_until(const struct destconc *d)
{
    return d->state == DESTCONC_DEAD || d->state == DESTCONC_PROBE ? d->dead_until : 0;
}

enum destconc_state destconc_state(const struct destconc *d)
{
    return d->state;
}

unsigned destconc_limit(const struct destconc *d)
{
    return d->limit;
}

const char *destconc_state_name(enum destconc_state s)
{
    switch (s) {
    case DESTCONC_ACTIVE: return "active";
    case DESTCONC_THROTTLED: return "throttled";
    case DESTCONC_DEAD: return "dead";
    case DESTCONC_PROBE: return "probe";
    }
    return "?";
}

/*
 * The "too many connections" classifier. Decided:
 * - 421 always: RFC 5321 says the server is closing the channel; whatever
 *   the words (Gmail: "421 4.7.0 Try again later, closing connection"), it
 *   shed a connection it would not serve, and one connection fewer is the
 *   answer that helps.
 * - another 4xx only with wording about connections or sessions (Postfix's
 *   "450 4.7.0 ... too many connections", "451 4.3.2 ... concurrent
 *   connections"): the enhanced code alone (4.7.0 is "other security",
 *   also used for greylisting and policy) says too little.
 * - not a rate limit about messages ("451 4.7.0 rate limited", "too much
 *   mail"): it is about the sender's volume, not parallel connections; the
 *   message is deferred with its own backoff.
 * - never a 5xx: a permanent answer is not a load signal.
 */
static const char *const destconc_phrases[] = {
    "too many connection",    "too many session",        "too many concurrent",
    "too many simultaneous",  "too many smtp session",   "concurrent connection",
    "simultaneous connection", "connection limit",       "concurrent session",
};

static int destconc_lower(int c)
{
    return c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c;
}

/* Does text[0..len) contain phrase (ASCII case-insensitive)? */
static int destconc_contains(const char *text, size_t len, const char *phrase)
{
    size_t n = 0;
    while (phrase[n] != '\0')
        n++;
    for (size_t i = 0; i + n <= len; i++) {
        size_t k = 0;
        while (k < n && destconc_lower((unsigned char)text[i + k]) == phrase[k])
            k++;
        if (k == n)
            return 1;
    }
    return 0;
}

int destconc_reply_too_many(int code, const char *text, size_t len)
{
    if (code < 400 || code > 499)
        return 0;
    if (code == 421)
        return 1;
    if (text == NULL)
        return 0;
    for (size_t i = 0; i < len; i++)
        if (text[i] == '\0') {
            len = i;
            break;
        }
    for (size_t i = 0; i < sizeof destconc_phrases / sizeof destconc_phrases[0]; i++)
        if (destconc_contains(text, len, destconc_phrases[i]))
            return 1;
    return 0;
}
