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

void sched_metrics_gauges(void *sched, struct metrics_gauges *g)
{
    const struct sched *s = sched;
    int64_t now = sched_now(), oldest = now;
    for (const struct qmsg *m = s->all; m; m = m->next) {
        const struct envelope *e = &m->env;
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
        if (e->arrival < oldest)
            oldest = e->arrival;
    }
    g->oldest_age_seconds = (double)(now - oldest) / 1000.0;
}
