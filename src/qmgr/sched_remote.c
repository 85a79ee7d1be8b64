/*
 * sched_remote: hands a message's due remote recipients to the SMTP client,
 * one delivery per next hop (all recipients of one destination in one
 * transaction), and turns each per-recipient outcome into queue state:
 * 2xx relayed, 4xx deferred with backoff (4.4.7 past queue_lifetime),
 * 5xx failed. Runs on the event-loop thread. When the client says the
 * destination is dead until a time (retry_after), the deferred recipients
 * wait at least that long, each message at its own offset within a window
 * (timerq_spread by a hash of the queue id), so a returning destination is
 * not sent the whole backlog in one second; recipients the client never
 * sent ("not tried") count no attempt.
 */
#include "qmgr/sched_int.h"
#include "lib/alloc.h"
#include "lib/log.h"
#include "lib/str.h"
#include "mail/notify.h"
#include "mail/route.h"
#include "mail/timerq.h"
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct sched_remote {
    struct smtpc_delivery d;
    struct sched *s;
    struct qmsg *m;
    char key[300];
};

#define SCHED_REMOTE_SPREAD_MIN_MS (60 * 1000LL) /* the least window a dead time spreads over */

/* FNV-1a of the queue id: each message's fixed place in a spread window. */
static uint32_t sched_remote_id_hash(const char *id)
{
    uint32_t h = 2166136261u;
    for (const unsigned char *p = (const unsigned char *)id; *p; p++) {
        h ^= *p;
        h *= 16777619u;
    }
    return h;
}

/* Recipient i was deferred while its destination is dead until retry_after: its next
 * attempt moves to a spread time after that (never earlier than the backoff chose). */
static void sched_remote_after_dead(struct qmsg *m, size_t i, int64_t retry_after, int64_t now)
{
    struct env_rcpt *r = &m->env.rcpts[i];
    if (r->status != RCPT_DEFERRED)
        return; /* expired instead */
    int64_t window = retry_after - now;
    if (window < SCHED_REMOTE_SPREAD_MIN_MS)
        window = SCHED_REMOTE_SPREAD_MIN_MS;
    int64_t at = timerq_spread(retry_after, sched_remote_id_hash(m->env.id), window);
    if (r->next_attempt < at)
        r->next_attempt = at;
}

static void sched_remote_apply(struct sched_remote *sr, const struct smtpc_outcome *o,
                               int64_t now)
{
    struct qmsg *m = sr->m;
    struct env_rcpt *r = &m->env.rcpts[o->idx];
    const char *relay = sr->d.remote[0] ? sr->d.remote : "none";
    const char *tls = sr->d.tls[0] ? sr->d.tls : NULL;
    free(r->remote_mta);
    r->remote_mta = sr->d.remote[0] ? xstrdup(sr->d.remote) : NULL;
    free(r->tls);
    r->tls = tls ? xstrdup(tls) : NULL; /* recorded with the outcome (queue show, list --json) */
    if (o->from_server)
        r->dsn_sent &= ~NOTIFY_OWN_REPLY;
    else
        r->dsn_sent |= NOTIFY_OWN_REPLY; /* our decision: no notice may quote it as the server's */
    if (o->klass == 2) {
        if (sr->d.peer_dsn)
            r->dsn_sent |= NOTIFY_PASSED_ON; /* RFC 3461 6.2.1: the next hop reports now */
        sched_outcome(sr->s->conf, m, o->idx, RCPT_RELAYED, o->reply);
        sched_log_rcpt(LOG_INFO, &m->env, o->idx,
                       (struct log_fields){.event = "relayed", .relay = sr->d.remote,
                                           .tls = tls, .status = "sent", .reply = o->reply},
                       NULL, NULL, now);
    } else if (o->klass == 5) {
        /* log first: a failed notice adds a postmaster recipient, moving the array r is in */
        sched_log_rcpt(LOG_INFO, &m->env, o->idx,
                       (struct log_fields){.event = "failed", .relay = relay, .tls = tls,
                                           .status = "failed", .reply = o->reply},
                       NULL, NULL, now);
        sched_outcome(sr->s->conf, m, o->idx, RCPT_FAILED, o->reply);
    } else {
        sched_log_rcpt(LOG_INFO, &m->env, o->idx,
                       (struct log_fields){.event = "deferred", .relay = relay, .tls = tls,
                                           .status = "deferred", .reply = o->reply},
                       NULL, NULL, now);
        sched_defer(sr->s->conf, m, o->idx, o->reply, now);
        if (sr->d.retry_after > 0)
            sched_remote_after_dead(m, o->idx, sr->d.retry_after, now);
    }
}

static void sched_remote_done(struct smtpc_delivery *d)
{
    struct sched_remote *sr = d->ctx;
    int64_t now = sched_now();
    if (!d->canceled)
        for (size_t k = 0; k < d->n; k++) {
            if (!d->not_tried) /* a dead destination's "not tried" is no attempt */
                sr->m->env.rcpts[d->out[k].idx].attempts++;
            sched_remote_apply(sr, &d->out[k], now);
        }
    if (d->fd >= 0)
        close(d->fd);
    free(d->out);
    struct sched *s = sr->s;
    struct qmsg *m = sr->m;
    free(sr);
    sched_job_done(s, m);
}

/* The delivery for hop key among groups[0..n), or a new one. */
static struct sched_remote *sched_remote_group(struct sched *s, struct qmsg *m,
                                               struct sched_remote ***groups, size_t *n,
                                               const struct route_hop *hop)
{
    char key[300];
    route_hop_key(hop, key, sizeof key);
    for (size_t g = 0; g < *n; g++)
        if (strcmp((*groups)[g]->key, key) == 0)
            return (*groups)[g];
    struct sched_remote *sr = xcalloc(1, sizeof *sr);
    sr->s = s;
    sr->m = m;
    str_copy(sr->key, sizeof sr->key, key);
    sr->d.env = &m->env;
    sr->d.hop = *hop;
    sr->d.done = sched_remote_done;
    sr->d.ctx = sr;
    sr->d.out = xcalloc(m->env.n_rcpts, sizeof *sr->d.out);
    sr->d.fd = -1;
    *groups = xrealloc(*groups, (*n + 1) * sizeof **groups);
    (*groups)[(*n)++] = sr;
    return sr;
}

unsigned sched_remote_start(struct sched *s, struct qmsg *m, int64_t now)
{
    struct sched_remote **groups = NULL;
    size_t n = 0;
    int remote;
    for (size_t i = 0; i < m->env.n_rcpts; i++) {
        const char *at = strrchr(m->env.rcpts[i].addr, '@');
        if (!at || !sched_due(s, &m->env, i, now, &remote) || !remote)
            continue;
        struct route_hop hop;
        route_next_hop(s->conf, at + 1, &hop);
        struct sched_remote *sr = sched_remote_group(s, m, &groups, &n, &hop);
        sr->d.out[sr->d.n++].idx = i;
    }
    for (size_t g = 0; g < n; g++) {
        groups[g]->d.fd = queue_open_content(s->queue, &m->env);
        m->busy++;
    }
    for (size_t g = 0; g < n; g++)
        smtpc_deliver(s->smtpc, &groups[g]->d);
    free(groups);
    return (unsigned)n;
}
