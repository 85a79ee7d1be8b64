/*
 * sched: the in-memory queue, the retry timer and the durable recording of
 * delivery outcomes (see sched.h). Local deliveries are in sched_local.c,
 * remote ones in sched_remote.c; both end here, in sched_job_done.
 */
#include "qmgr/sched_int.h"
#include "lib/dur.h"
#include "lib/alloc.h"
#include "lib/fsio.h"
#include "lib/log.h"
#include "lib/str.h"
#include "mail/backoff.h"
#include "mail/metrics.h"
#include "mail/quarantine.h"
#include "mail/route.h"
#include "proto/esc.h"
#include "proto/smtp_reply.h"
#include "track/track.h"
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <unistd.h>

int64_t sched_now(void)
{
    return dur_now_ms();
}

int sched_due(const struct sched *s, const struct envelope *e, size_t i, int64_t now, int *remote)
{
    const struct env_rcpt *r = &e->rcpts[i];
    if (r->status != RCPT_PENDING && r->status != RCPT_DEFERRED)
        return 0;
    if (r->next_attempt > now)
        return 0;
    char mailbox[ADDR_LOCAL_MAX + 1];
    enum route_kind k = route_classify_rcpt(s->conf, e, i, mailbox, sizeof mailbox);
    *remote = k == ROUTE_REMOTE || k == ROUTE_RELAY_DOMAIN;
    return 1;
}

/* The enhanced status code at the start of "550 5.1.1 text" or of "4.4.7 text", or NULL. */
static const char *sched_log_dsn(const char *reply, char *out, size_t size)
{
    int klass;
    enum esc_code code;
    size_t used;
    if (!reply)
        return NULL;
    if (smtp_reply_esc(reply, out, size) == 0)
        return out;
    if (esc_parse(reply, strlen(reply), &klass, &code, &used) < 0 || used >= size)
        return NULL;
    memcpy(out, reply, used);
    out[used] = '\0';
    return out;
}

/* The same outcome in the tracking store (enqueued only): the next hop's host and address
 * split out of "host[address]", the full reply. */
static void sched_track_rcpt(const struct envelope *e, size_t i, const struct log_fields *f,
                             const char *full, int64_t now)
{
    struct track *t = track_feed();
    char host[300] = "", *addr = NULL;
    if (!t)
        return;
    if (f->relay && strcmp(f->relay, "none") != 0) {
        str_copy(host, sizeof host, f->relay);
        char *b = strchr(host, '['), *end = b ? strchr(b, ']') : NULL;
        if (end) { /* "host[address]" or "host[address]:port" */
            *b = *end = '\0';
            addr = b + 1;
        }
    }
    struct track_event ev = {.time = now, .queue_id = e->id, .rcpt = e->rcpts[i].addr,
                             .kind = f->event, .host = host[0] ? host : NULL, .address = addr,
                             .reply = full ? full : f->reply, .status = f->dsn};
    track_add_event(t, &ev);
}

void sched_log_rcpt(enum log_level lvl, const struct envelope *e, size_t i, struct log_fields f,
                    const char *full, const char *text, int64_t now)
{
    char dsn[32];
    f.queue_id = e->id;
    f.to = e->rcpts[i].addr;
    if (!f.dsn && !(f.dsn = sched_log_dsn(f.reply, dsn, sizeof dsn)))
        f.dsn = sched_log_dsn(full, dsn, sizeof dsn);
    f.delay_ms = now - e->arrival;
    f.has_delay = 1;
    log_event(lvl, &f, text ? "%s" : NULL, text);
    sched_track_rcpt(e, i, &f, full, now);
}

void sched_changed_fit(struct qmsg *m)
{
    if (m->changed_cap >= m->env.n_rcpts)
        return;
    m->changed = xrealloc(m->changed, m->env.n_rcpts);
    memset(m->changed + m->changed_cap, 0, m->env.n_rcpts - m->changed_cap);
    m->changed_cap = m->env.n_rcpts;
}

/* Note: a failure of a notice adds a postmaster recipient, which may move
 * m->env.rcpts: callers must not keep a pointer into it across this call. */
void sched_outcome(const struct conf *c, struct qmsg *m, size_t i, enum rcpt_status st,
                   const char *reply)
{
    struct env_rcpt *r = &m->env.rcpts[i];
    r->status = st;
    free(r->last_reply);
    r->last_reply = reply ? xstrdup(reply) : NULL;
    m->changed[i] = 1;
    metrics_outcome(st, sched_now() - m->env.arrival);
    if (st == RCPT_FAILED)
        sched_notice_to_postmaster(c, m, i);
}

void sched_defer(const struct conf *c, struct qmsg *m, size_t i, const char *why, int64_t now)
{
    struct env_rcpt *r = &m->env.rcpts[i];
    if (now - m->env.arrival >= c->queue_lifetime_ms) {
        char msg[512];
        str_fmt(msg, sizeof msg, "%s delivery time expired; last error: %s",
                esc_code(ESC_CLASS_TRANSIENT, ESC_DELIVERY_TIME_EXPIRED).s, why);
        sched_log_rcpt(LOG_INFO, &m->env, i,
                       (struct log_fields){.event = "expired", .status = "failed", .reply = msg},
                       NULL, NULL, now);
        sched_outcome(c, m, i, RCPT_FAILED, msg); /* may add a recipient: r moves */
        return;
    }
    static _Thread_local unsigned seed;
    if (!seed)
        seed = (unsigned)now ^ (unsigned)(uintptr_t)&seed;
    r->next_attempt = now + backoff_delay(c->retry_min_ms, c->retry_max_ms, r->attempts,
                                         (unsigned)rand_r(&seed));
    sched_outcome(c, m, i, RCPT_DEFERRED, why);
}

/* After a failed job (worker thread): states appended but not fsync'd are cut
 * off again, so the file never holds a record the scheduler thinks unwritten. */
static void sched_record_undo(struct diskq_job *j)
{
    struct sched_job *sj = j->ctx;
    if (sj->record_fd >= 0 && fsio_append_undo(sj->record_fd, sj->record_old) < 0)
        log_err("%s: cannot cut back the unsynced state record: %s", sj->m->env.id,
                strerror(errno));
}

struct sched_job *sched_job_new(struct sched *s, struct qmsg *m)
{
    struct sched_job *sj = xcalloc(1, sizeof *sj);
    sj->s = s;
    sj->conf = conf_hold(s->conf);
    sj->m = m;
    sj->record_fd = -1;
    sj->job.ctx = sj;
    sj->job.record = sched_record_stage;
    sj->job.undo = sched_record_undo;
    m->busy++;
    return sj;
}

void sched_job_free(struct sched_job *sj)
{
    if (sj->record_fd >= 0)
        close(sj->record_fd);
    diskq_job_release(&sj->job);
    conf_release(sj->conf);
    free(sj->out);
    free(sj);
}

void sched_record_stage(struct diskq_job *j)
{
    struct sched_job *sj = j->ctx;
    struct envelope *e = &sj->m->env;
    char dir[PATH_MAX];
    if (envelope_done(e) && !sched_notice_owed(sj->conf, sj->m, sched_now())) {
        if (queue_retire(sj->s->queue, e->id) < 0 ||
            queue_dir_of(sj->s->queue, e->id, dir, sizeof dir) < 0) {
            j->failed = 1;
            j->err = errno;
            return;
        }
        diskq_job_sync_dir(j, dir);
        sj->removed = 1;
        return;
    }
    struct buf rec;
    buf_init(&rec, BUF_UNLIMITED);
    for (size_t i = 0; i < e->n_rcpts; i++) {
        if (i >= sj->m->disk_rcpts)
            envelope_format_rcpt(e, i, &rec); /* added since: the whole recipient */
        else if (sj->m->changed[i])
            envelope_format_state(e, i, &rec);
    }
    if (rec.len) {
        sj->record_fd = queue_append_open(sj->s->queue, e->id, rec.data, rec.len, &sj->record_old);
        if (sj->record_fd < 0) {
            j->failed = 1;
            j->err = errno;
        } else {
            diskq_job_sync_fd(j, sj->record_fd);
        }
    }
    buf_free(&rec);
}

int sched_job_recorded(struct sched_job *sj)
{
    struct qmsg *m = sj->m;
    if (sj->job.failed) {
        if (sj->job.err != ECANCELED)
            log_err("%s: recording the delivery state failed: %s (will retry)", m->env.id,
                    strerror(sj->job.err));
        return 0;
    }
    memset(m->changed, 0, m->changed_cap);
    m->disk_rcpts = m->env.n_rcpts;
    if (!sj->removed)
        return 0;
    log_event(LOG_INFO, &(struct log_fields){.queue_id = m->env.id, .event = "removed"},
              "removed (all recipients done)");
    sched_unlink(sj->s, m);
    return 1;
}

static void sched_record_done(struct diskq_job *j)
{
    struct sched_job *sj = j->ctx;
    struct sched *s = sj->s;
    struct qmsg *m = sj->m;
    m->busy--;
    int gone = sched_job_recorded(sj);
    sched_job_free(sj);
    if (!gone)
        sched_kick(s, m);
}

void sched_record_start(struct sched *s, struct qmsg *m)
{
    struct sched_job *sj = sched_job_new(s, m);
    sj->job.done = sched_record_done;
    diskq_submit(s->dq, &sj->job, DISKQ_URGENT); /* small, and must not be dropped at shutdown */
}

int sched_changed_any(const struct qmsg *m)
{
    for (size_t i = 0; i < m->changed_cap; i++)
        if (m->changed[i])
            return 1;
    return 0;
}

void sched_job_done(struct sched *s, struct qmsg *m)
{
    m->busy--;
    if (m->busy > 0)
        return;
    if (sched_changed_any(m) || (envelope_done(&m->env) && !sched_notice_owed(s->conf, m, sched_now())))
        sched_record_start(s, m);
    else
        sched_kick(s, m);
}

static void sched_pump(struct sched *s)
{
    while (s->ready_head && s->inflight < SCHED_MAX_LOCAL && !s->stopping) {
        struct qmsg *m = s->ready_head;
        s->ready_head = m->rnext;
        if (!s->ready_head)
            s->ready_tail = NULL;
        m->ready = 0;
        if (!m->busy)
            sched_local_start(s, m);
    }
}

void sched_local_finished(struct sched *s)
{
    s->inflight--;
    sched_pump(s);
}

/* What m needs now: 1 local delivery (or removal), 2 remote only, 3 notices, 0 nothing. */
static int sched_work(struct sched *s, struct qmsg *m, int64_t now)
{
    int remote = 0, any_remote = 0;
    if (sched_notice_owed(s->conf, m, now))
        return 3;
    if (envelope_done(&m->env))
        return 1;
    for (size_t i = 0; i < m->env.n_rcpts; i++)
        if (sched_due(s, &m->env, i, now, &remote)) {
            if (!remote)
                return 1;
            any_remote = 1;
        }
    return any_remote && s->smtpc ? 2 : 0;
}

void sched_kick(struct sched *s, struct qmsg *m)
{
    if (m->busy || m->ready || s->stopping)
        return;
    if (m->env.hold) {
        sched_park(s, m); /* held: parked without a timer until released */
        return;
    }
    sched_changed_fit(m);
    int64_t now = sched_now();
    int work = sched_work(s, m, now);
    if (work == 3) {
        sched_notice_start(s, m);
        return;
    }
    if (work == 2) {
        if (!sched_remote_start(s, m, now))
            sched_park(s, m);
        return;
    }
    if (work != 1) {
        sched_park(s, m); /* nothing to do now: back to its slot until it is due */
        return;
    }
    m->ready = 1;
    m->rnext = NULL;
    if (s->ready_tail)
        s->ready_tail->rnext = m;
    else
        s->ready_head = m;
    s->ready_tail = m;
    sched_pump(s);
}

void sched_add(struct sched *s, struct envelope *e)
{
    uint32_t slot = slotmap_find(&s->index, slotmap_hash_str(e->id), e->id);
    if (slot != SLOTMAP_NONE) { /* the start-up scan found its file first: that copy stays */
        envelope_free(e);
        return;
    }
    slot = sched_slot_new(s, e->id, e->arrival);
    struct qmsg *m = sched_hot_new(s, slot, e);
    if (s->n_hot > SCHED_ACTIVE_MAX) { /* no room: it waits its turn like a parked one */
        sched_park(s, m);
        sched_due_push(s, slot);
        sched_load_pump(s);
        return;
    }
    sched_kick(s, m);
}

struct sched *sched_new(struct event_base *base, const struct conf *c, struct queue *q,
                        struct diskq *dq)
{
    struct sched *s = xcalloc(1, sizeof *s);
    s->base = base;
    s->conf = conf_hold(c);
    s->queue = q;
    s->dq = dq;
    s->loader = diskq_new_pool(base, SCHED_LOADERS, 1);
    sched_slots_init(s);
    return s;
}

void sched_set_client(struct sched *s, struct smtpc *sc)
{
    s->smtpc = sc;
}

void sched_stop(struct sched *s)
{
    s->stopping = 1;
}

size_t sched_count(const struct sched *s)
{
    return s->count;
}

void sched_set_conf(struct sched *s, const struct conf *c)
{
    conf_replace(&s->conf, c);
}

void sched_free(struct sched *s)
{
    if (!s)
        return;
    s->stopping = 1;
    diskq_free(s->loader); /* loads in flight end (their envelopes become hot) */
    if (s->wake)
        event_free(s->wake);
    if (s->scan_retry)
        event_free(s->scan_retry);
    for (uint32_t i = 0; i < s->n_slots; i++) {
        struct qslot *q = sched_slot(s, i);
        if (q->hot) {
            envelope_free(&q->hot->env);
            free(q->hot->changed);
            free(q->hot);
        }
    }
    sched_slots_free(s);
    conf_release(s->conf);
    free(s);
}
