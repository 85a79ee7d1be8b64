/*
 * smtp_client_dest: the destinations (next hops) of the SMTP client: found
 * by key in a hash table, each with its waiting deliveries and its
 * concurrency (mail/destconc, as Postfix's queue manager keeps it). What a
 * connection reports lands here: MAIL accepted (success), every target
 * failed before a transaction (a failed connection), "too many
 * connections" at greeting, EHLO or MAIL (the limit and a ceiling drop; the
 * delivery waits for another connection of the destination). A dead
 * destination takes no connection: its deliveries end at once, deferred
 * with "not tried" and the time it is dead until (retry_after), so the
 * scheduler spreads their next attempts. Each change of limit or state is
 * logged once. Unused destinations are forgotten (bounded memory).
 */
#include "smtpc/smtp_client_conn.h"
#include "proto/esc.h"
#include "lib/alloc.h"
#include "lib/dur.h"
#include "lib/log.h"
#include "lib/str.h"
#include <event2/event.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* A fresh destination for hop, known by key from now on. */
static struct smtpc_dest *smtpc_dest_new(struct smtpc *sc, const struct route_hop *hop,
                                         const char *key)
{
    struct smtpc_dest *d = xcalloc(1, sizeof *d);
    str_copy(d->key, sizeof d->key, key);
    if (hop->port == 0 || hop->port == SMTPC_STANDARD_PORT)
        str_copy(d->name, sizeof d->name, hop->host);
    else
        str_fmt(d->name, sizeof d->name, "%s:%d", hop->host, hop->port);
    destconc_init(&d->dc, NULL);
    d->next = sc->dests;
    if (sc->dests)
        sc->dests->prev = d;
    sc->dests = d;
    strmap_put(&sc->dest_map, d->key, d);
    return d;
}

struct smtpc_dest *smtpc_dest_get(struct smtpc *sc, const struct route_hop *hop)
{
    char key[SMTPC_KEY_MAX];
    route_hop_key(hop, key, sizeof key);
    struct smtpc_dest *d = strmap_get(&sc->dest_map, key);
    return d ? d : smtpc_dest_new(sc, hop, key);
}

void smtpc_dest_free(struct smtpc *sc, struct smtpc_dest *d)
{
    strmap_remove(&sc->dest_map, d->key);
    if (d->prev)
        d->prev->next = d->next;
    else
        sc->dests = d->next;
    if (d->next)
        d->next->prev = d->prev;
    free(d);
}

/* At most once a minute: forgets destinations with nothing open, waiting or learned. */
void smtpc_dest_sweep(struct smtpc *sc, int64_t now)
{
    if (now - sc->last_sweep < SMTPC_SWEEP_MS)
        return;
    sc->last_sweep = now;
    for (struct smtpc_dest *d = sc->dests, *next; d; d = next) {
        next = d->next;
        if (d->n_conns == 0 && !d->wait_head && now - d->last_used >= SMTPC_DEST_FORGET_MS &&
            destconc_forgettable(&d->dc, now))
            smtpc_dest_free(sc, d);
    }
}

void smtpc_dest_push(struct smtpc_dest *dest, struct smtpc_delivery *d)
{
    d->next = NULL;
    if (dest->wait_tail)
        dest->wait_tail->next = d;
    else
        dest->wait_head = d;
    dest->wait_tail = d;
}

/* Back to the front: the delivery was not at fault and keeps its turn. */
static void smtpc_dest_push_front(struct smtpc_dest *dest, struct smtpc_delivery *d)
{
    d->next = dest->wait_head;
    dest->wait_head = d;
    if (!dest->wait_tail)
        dest->wait_tail = d;
}

struct smtpc_delivery *smtpc_dest_pop(struct smtpc_dest *dest)
{
    struct smtpc_delivery *d = dest->wait_head;
    if (d) {
        dest->wait_head = d->next;
        if (!dest->wait_head)
            dest->wait_tail = NULL;
        d->next = NULL;
    }
    return d;
}

/* What destconc looked like before an event, to log what the event changed. */
struct smtpc_dest_was {
    enum destconc_state state;
    unsigned limit;
};

static struct smtpc_dest_was smtpc_dest_before(const struct smtpc_dest *dest)
{
    return (struct smtpc_dest_was){destconc_state(&dest->dc), destconc_limit(&dest->dc)};
}

/* Logs once what changed since was; why names the event. */
static void smtpc_dest_note(const struct smtpc_dest *dest, struct smtpc_dest_was was,
                            int64_t now, const char *why)
{
    enum destconc_state st = destconc_state(&dest->dc);
    unsigned limit = destconc_limit(&dest->dc);
    int was_dead = was.state == DESTCONC_DEAD || was.state == DESTCONC_PROBE;
    if (st == DESTCONC_DEAD && was.state != DESTCONC_DEAD) {
        long secs = (long)((destconc_dead_until(&dest->dc) - now + 999) / 1000);
        if (was.state == DESTCONC_PROBE)
            log_info("smtp out: %s: dead for %ld s after a failed probe (%s)", dest->name, secs,
                     why);
        else
            log_info("smtp out: %s: dead for %ld s after %u failed connections", dest->name, secs,
                     dest->dc.p.dead_threshold);
    } else if (st == DESTCONC_PROBE && was.state == DESTCONC_DEAD) {
        log_info("smtp out: %s: probing with one connection", dest->name);
    } else if (was_dead && (st == DESTCONC_ACTIVE || st == DESTCONC_THROTTLED)) {
        log_info("smtp out: %s: alive again", dest->name);
    } else if (limit != was.limit) {
        log_info("smtp out: %s: concurrency %u -> %u (%s)", dest->name, was.limit, limit, why);
    }
}

/* Another connection may be opened now (a dead time over turns into a probe here). */
int smtpc_dest_may_open(struct smtpc_dest *dest, int64_t now)
{
    struct smtpc_dest_was was = smtpc_dest_before(dest);
    int may = destconc_may_open(&dest->dc, now, dest->n_conns);
    smtpc_dest_note(dest, was, now, "dead time over");
    return may;
}

/*
 * The connections of dest the server holds now: greeted with 2xx and not
 * quitting. One still resolving, connecting or awaiting its greeting may
 * yet be refused, and one that sent QUIT is on its way out; counting them
 * would let a success grow the limit past what the server took, or a
 * complaint set the ceiling too high.
 */
static unsigned smtpc_dest_talking(const struct smtpc *sc, const struct smtpc_dest *dest)
{
    unsigned n = 0;
    for (const struct smtpc_conn *c = sc->conns; c; c = c->next)
        if (c->dest == dest && c->state > SMTPC_GREETING && c->state <= SMTPC_IDLE &&
            c->state != SMTPC_QUIT)
            n++;
    return n;
}

void smtpc_dest_success(struct smtpc_conn *c)
{
    struct smtpc_dest *dest = c->dest;
    int64_t now = dur_now_ms();
    struct smtpc_dest_was was = smtpc_dest_before(dest);
    destconc_on_success(&dest->dc, now, smtpc_dest_talking(c->sc, dest));
    dest->last_used = now;
    smtpc_dest_note(dest, was, now, "deliveries succeed");
    smtpc_pump(c->sc, dest); /* a grown limit or a revived destination: more connections */
}

/* Dead now: is it? (a dead time over is a probe, no longer dead) */
int smtpc_dest_dead(const struct smtpc_dest *dest, int64_t now)
{
    return destconc_state(&dest->dc) == DESTCONC_DEAD && now < destconc_dead_until(&dest->dc);
}

/* The outcome of a delivery not tried because dest is dead: deferred, with retry_after. */
static void smtpc_dest_not_tried(const struct smtpc_dest *dest, struct smtpc_delivery *d)
{
    int64_t until = destconc_dead_until(&dest->dc);
    time_t t = (time_t)(until / 1000);
    struct tm tm;
    char when[16] = "?";
    if (gmtime_r(&t, &tm))
        strftime(when, sizeof when, "%H:%M:%SZ", &tm);
    char why[SMTPC_REPLY_MAX];
    /* truncation only shortens the quoted last error */
    (void)esc_reason(why, sizeof why, 4, dest->last_no_answer ? ESC_NO_ANSWER : ESC_BAD_CONNECTION,
                     "%s not tried: unreachable until %s (last error: %s)", dest->name, when,
                     dest->last_error[0] ? dest->last_error : "none");
    d->retry_after = until;
    d->not_tried = 1;
    for (size_t i = 0; i < d->n; i++)
        if (d->out[i].klass == 0) {
            d->out[i].klass = 4;
            d->out[i].from_server = 0;
            str_copy(d->out[i].reply, sizeof d->out[i].reply, why);
        }
}

/* Decided deliveries whose done() runs from the loop (smtpc_deliver never calls it inline). */
static void smtpc_later_run(evutil_socket_t fd, short what, void *arg)
{
    struct smtpc *sc = arg;
    (void)fd;
    (void)what;
    struct smtpc_delivery *d = sc->later_head;
    sc->later_head = sc->later_tail = NULL;
    while (d) {
        struct smtpc_delivery *next = d->next;
        d->next = NULL;
        d->done(d);
        d = next;
    }
}

void smtpc_later_init(struct smtpc *sc)
{
    sc->later_ev = event_new(sc->base, -1, 0, smtpc_later_run, sc);
}

/* Shutting down: the decided deliveries still waiting for the loop are done now. */
void smtpc_later_free(struct smtpc *sc)
{
    for (struct smtpc_delivery *d = sc->later_head; d; d = d->next)
        d->canceled = 1;
    smtpc_later_run(-1, 0, sc);
    if (sc->later_ev)
        event_free(sc->later_ev);
    sc->later_ev = NULL;
}

/* d for a dead destination: decided now, done() from the loop. */
void smtpc_dest_not_tried_later(struct smtpc *sc, struct smtpc_dest *dest,
                                struct smtpc_delivery *d)
{
    smtpc_dest_not_tried(dest, d);
    d->next = NULL;
    if (sc->later_tail)
        sc->later_tail->next = d;
    else
        sc->later_head = d;
    sc->later_tail = d;
    event_active(sc->later_ev, EV_TIMEOUT, 0);
}

/* The destination just died: every delivery waiting for it ends, not tried. */
static void smtpc_dest_fail_waiting(struct smtpc_dest *dest)
{
    struct smtpc_delivery *d;
    while ((d = smtpc_dest_pop(dest))) {
        smtpc_dest_not_tried(dest, d);
        d->done(d);
    }
}

void smtpc_dest_conn_failed(struct smtpc_conn *c, struct smtpc_delivery *d)
{
    struct smtpc_dest *dest = c->dest;
    int64_t now = dur_now_ms();
    if (!c->too_many && c->refused_5xx < c->tried) {
        struct smtpc_dest_was was = smtpc_dest_before(dest);
        str_copy(dest->last_error, sizeof dest->last_error, c->last_error);
        dest->last_no_answer = c->state <= SMTPC_CONNECTING;
        destconc_on_conn_failure(&dest->dc, now);
        smtpc_dest_note(dest, was, now, "failed connection");
    }
    dest->last_used = now;
    if (smtpc_dest_dead(dest, now)) {
        d->retry_after = destconc_dead_until(&dest->dc);
        smtpc_dest_fail_waiting(dest);
    }
}

/* Every outcome of d undecided again: it is tried later as if never started. */
static void smtpc_delivery_reset(struct smtpc_delivery *d)
{
    d->remote[0] = '\0';
    d->tls[0] = '\0';
    d->peer_dsn = 0;
    for (size_t i = 0; i < d->n; i++) {
        d->out[i].klass = d->out[i].from_server = d->out[i].unsent = 0;
        d->out[i].reply[0] = '\0';
    }
}

int smtpc_too_many(struct smtpc_conn *c, int code, const char *text)
{
    if (!destconc_reply_too_many(code, text, strlen(text)))
        return 0;
    struct smtpc_dest *dest = c->dest;
    int64_t now = dur_now_ms();
    struct smtpc_dest_was was = smtpc_dest_before(dest);
    /* the refused connection counts too, also when refused at its greeting */
    unsigned open_now = smtpc_dest_talking(c->sc, dest) + (c->state == SMTPC_GREETING);
    destconc_on_too_many(&dest->dc, now, open_now);
    smtpc_dest_note(dest, was, now, "too many connections");
    c->too_many = 1;
    if (dest->n_conns <= 1 || destconc_state(&dest->dc) == DESTCONC_DEAD || c->sc->stopping)
        return 0; /* no other connection will take it: deferred like any 4xx */
    char name[300];
    smtpc_target_name(c, name, sizeof name);
    log_info("smtp out: %s: %d %s; the message waits for another connection", name, code, text);
    struct smtpc_delivery *d = c->d;
    c->d = NULL;
    smtpc_delivery_reset(d);
    smtpc_dest_push_front(dest, d);
    smtpc_conn_close(c);
    smtpc_serve(c->sc, dest); /* an idle connection of dest takes it now */
    return 1;
}

int64_t smtpc_dest_wait(struct smtpc *sc, const char *key, int64_t now)
{
    struct smtpc_dest *dest = strmap_get(&sc->dest_map, key);
    if (!dest)
        return 0;
    if (smtpc_dest_dead(dest, now))
        return destconc_dead_until(&dest->dc);
    if (destconc_state(&dest->dc) == DESTCONC_PROBE && dest->n_conns > 0)
        return now + SMTPC_PROBE_WAIT_MS;
    return 0;
}

/* A flush: a dead destination may be tried again at once (one probe connection). */
static void smtpc_dest_revive(struct smtpc_dest *dest, int64_t now)
{
    if (destconc_state(&dest->dc) != DESTCONC_DEAD)
        return;
    struct smtpc_dest_was was = smtpc_dest_before(dest);
    destconc_probe_now(&dest->dc);
    smtpc_dest_note(dest, was, now, "flush");
}

void smtpc_revive_all(struct smtpc *sc)
{
    int64_t now = dur_now_ms();
    for (struct smtpc_dest *dest = sc->dests; dest; dest = dest->next)
        smtpc_dest_revive(dest, now);
}

void smtpc_revive(struct smtpc *sc, const char *key)
{
    struct smtpc_dest *dest = strmap_get(&sc->dest_map, key);
    if (dest)
        smtpc_dest_revive(dest, dur_now_ms());
}
