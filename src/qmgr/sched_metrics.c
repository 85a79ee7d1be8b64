/*
 * sched_metrics: the queue gauges of `listen metrics`, counted from the
 * scheduler's in-memory queue at scrape time (no file is read). A message
 * is held when the operator froze it, deferred when every recipient still
 * waiting has been tried, pending otherwise; its waiting recipients count
 * under the same rule, one by one.
 */
#include "qmgr/sched_int.h"
#include "mail/metrics.h"

/* The state of one waiting recipient of e. */
static enum metrics_qstate sched_metrics_rcpt(const struct envelope *e, const struct env_rcpt *r)
{
    if (e->hold)
        return METRICS_Q_HELD;
    return r->status == RCPT_DEFERRED ? METRICS_Q_DEFERRED : METRICS_Q_PENDING;
}

/* A parked message: its counts as it was parked. */
static void sched_metrics_parked(const struct qslot *q, struct metrics_gauges *g)
{
    int held = (q->flags & QSLOT_HOLD) != 0;
    g->queue_recipients[held ? METRICS_Q_HELD : METRICS_Q_PENDING] += q->n_pending;
    g->queue_recipients[held ? METRICS_Q_HELD : METRICS_Q_DEFERRED] += q->n_deferred;
    g->queue_messages[held ? METRICS_Q_HELD
                      : q->n_pending || !q->n_deferred ? METRICS_Q_PENDING
                                                       : METRICS_Q_DEFERRED]++;
}

static void sched_metrics_hot(const struct envelope *e, struct metrics_gauges *g)
{
    enum metrics_qstate msg = e->hold ? METRICS_Q_HELD : METRICS_Q_DEFERRED;
    size_t waiting = 0;
    for (size_t i = 0; i < e->n_rcpts; i++) {
        const struct env_rcpt *r = &e->rcpts[i];
        if (r->status != RCPT_PENDING && r->status != RCPT_DEFERRED)
            continue;
        enum metrics_qstate st = sched_metrics_rcpt(e, r);
        g->queue_recipients[st]++;
        if (st == METRICS_Q_PENDING)
            msg = METRICS_Q_PENDING;
        waiting++;
    }
    if (!waiting && !e->hold)
        msg = METRICS_Q_PENDING; /* done, its file not retired yet */
    g->queue_messages[msg]++;
}

/* One pass over the resident records (a million: a few ms per scrape). */
void sched_metrics_gauges(void *sched, struct metrics_gauges *g)
{
    const struct sched *s = sched;
    int64_t now = sched_now(), oldest = now;
    for (uint32_t slot = 0; slot < s->n_slots; slot++) {
        const struct qslot *q = sched_slot(s, slot);
        if (!(q->flags & QSLOT_USED) || (q->flags & QSLOT_GONE))
            continue;
        if (q->hot)
            sched_metrics_hot(&q->hot->env, g);
        else
            sched_metrics_parked(q, g);
        if (q->arrival < oldest)
            oldest = q->arrival;
    }
    g->oldest_age_seconds = (double)(now - oldest) / 1000.0;
}
