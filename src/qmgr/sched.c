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

#define SCHED_TICK_MS 1000

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

static void sched_unlink(struct sched *s, struct qmsg *m)
{
    if (m->prev)
        m->prev->next = m->next;
    else
        s->all = m->next;
    if (m->next)
        m->next->prev = m->prev;
    envelope_free(&m->env);
    free(m->changed);
    free(m);
    s->count--;
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

static int sched_any_changed(const struct qmsg *m)
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
    if (sched_any_changed(m) || (envelope_done(&m->env) && !sched_notice_owed(s->conf, m, sched_now())))
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
    if (m->busy || m->ready || m->env.hold || s->stopping)
        return;
    sched_changed_fit(m);
    int64_t now = sched_now();
    int work = sched_work(s, m, now);
    if (work == 3) {
        sched_notice_start(s, m);
        return;
    }
    if (work == 2) {
        sched_remote_start(s, m, now);
        return;
    }
    if (work != 1)
        return;
    m->ready = 1;
    m->rnext = NULL;
    if (s->ready_tail)
        s->ready_tail->rnext = m;
    else
        s->ready_head = m;
    s->ready_tail = m;
    sched_pump(s);
}

static void sched_on_tick(evutil_socket_t fd, short what, void *arg)
{
    struct sched *s = arg;
    (void)fd;
    (void)what;
    for (struct qmsg *m = s->all, *next; m; m = next) {
        next = m->next;
        sched_kick(s, m);
    }
}

void sched_add(struct sched *s, struct envelope *e)
{
    struct qmsg *m = xcalloc(1, sizeof *m);
    m->env = *e;
    m->disk_rcpts = m->env.n_rcpts;
    envelope_init(e);
    m->next = s->all;
    if (s->all)
        s->all->prev = m;
    s->all = m;
    s->count++;
    sched_kick(s, m);
}

/* An unreadable queue file: to corrupt/, and the sender told when its head can be read. */
static void sched_quarantine(struct sched *s, const char *path, const char *id)
{
    char moved[PATH_MAX];
    struct envelope e;
    int r = quarantine_file(s->queue, s->conf->data_dir, path, id, moved, sizeof moved);
    if (r < 0) {
        log_err("%s: queue file %s is damaged and cannot be moved aside: %s (left in place)",
                id, path, strerror(errno));
        return;
    }
    if (r == 0) {
        log_err("%s: queue file %s is damaged beyond its envelope: moved to %s; nobody can be "
                "told", id, path, moved);
        return;
    }
    log_err("%s: queue file %s is damaged: moved to %s; the waiting recipients failed "
            "(%s %s) and the sender is owed a failure notice", id, path, moved,
            esc_code(5, ESC_OTHER_MAIL_SYSTEM).s, QUARANTINE_REASON);
    if (queue_load(path, &e) < 0) {
        log_err("%s: cannot read its replacement %s: %s (left in place)", id, path,
                strerror(errno));
        return;
    }
    sched_add(s, &e);
}

/* The start-up scan: files loaded, damaged ones noted to be quarantined after
 * the scan (their replacement must not show up in the directory being read). */
struct sched_loading {
    struct sched *s;
    char (*damaged)[QUEUE_ID_MAX + 1];
    size_t n;
};

static int sched_load_one(void *ctx, const char *path, const char *id)
{
    struct sched_loading *l = ctx;
    struct envelope e;
    int cut = 0;
    if (queue_load_repair(path, &e, &cut) == 0) {
        if (cut)
            log_warn("%s: torn last record cut off %s", id, path);
        sched_add(l->s, &e);
    } else if (errno == EINVAL) {
        l->damaged = xrealloc(l->damaged, (l->n + 1) * sizeof *l->damaged);
        str_copy(l->damaged[l->n++], QUEUE_ID_MAX + 1, id);
    } else {
        log_err("%s: cannot read queue file %s: %s (left in place)", id, path, strerror(errno));
    }
    return 0;
}

int sched_load(struct sched *s)
{
    struct sched_loading l = {.s = s};
    char path[PATH_MAX];
    int r = queue_scan(s->queue, 1, sched_load_one, &l);
    for (size_t i = 0; i < l.n; i++)
        if (queue_path(s->queue, l.damaged[i], path, sizeof path) == 0)
            sched_quarantine(s, path, l.damaged[i]);
    free(l.damaged);
    log_info("queue: %zu message(s) loaded", s->count);
    return r;
}

struct sched *sched_new(struct event_base *base, const struct conf *c, struct queue *q,
                        struct diskq *dq)
{
    struct sched *s = xcalloc(1, sizeof *s);
    s->base = base;
    s->conf = conf_hold(c);
    s->queue = q;
    s->dq = dq;
    s->tick = event_new(base, -1, EV_PERSIST, sched_on_tick, s);
    struct timeval tv = dur_timeval(SCHED_TICK_MS);
    event_add(s->tick, &tv);
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

long sched_flush(struct sched *s, const char *id)
{
    long n = 0;
    int found = 0;
    for (struct qmsg *m = s->all, *next; m; m = next) {
        next = m->next;
        if (id && strcmp(m->env.id, id) != 0)
            continue;
        found = 1;
        if (m->env.hold)
            continue; /* a held message keeps its schedule until it is released */
        int any = 0;
        for (size_t i = 0; i < m->env.n_rcpts && !m->busy; i++)
            if (m->env.rcpts[i].status == RCPT_DEFERRED) {
                m->env.rcpts[i].next_attempt = 0;
                any = 1;
            }
        n += any;
        sched_kick(s, m);
    }
    return id && !found ? -1 : n;
}

static struct qmsg *sched_find(struct sched *s, const char *id)
{
    for (struct qmsg *m = s->all; m; m = m->next)
        if (strcmp(m->env.id, id) == 0)
            return m;
    return NULL;
}

int sched_hold(struct sched *s, const char *id, int hold)
{
    struct qmsg *m = sched_find(s, id);
    if (!m)
        return -1;
    char rec[16];
    str_fmt(rec, sizeof rec, "hold %d\n", hold ? 1 : 0);
    /* an operator's command: one small fsync'd append on the loop thread */
    if (queue_append(s->queue, id, rec, strlen(rec), 1) < 0)
        return -2;
    m->env.hold = hold;
    log_info("%s: %s by the operator", id, hold ? "held" : "released");
    if (!hold)
        sched_kick(s, m);
    return 0;
}

int sched_delete(struct sched *s, const char *id)
{
    struct qmsg *m = sched_find(s, id);
    char dir[PATH_MAX];
    if (!m)
        return -1;
    if (m->busy || m->ready)
        return -3; /* being delivered right now: the caller says try again */
    if (queue_remove(s->queue, id) < 0 || queue_dir_of(s->queue, id, dir, sizeof dir) < 0 ||
        fsio_fsync_dir(dir) < 0)
        return -2;
    log_info("%s: deleted by the operator", id);
    for (size_t i = 0; i < m->env.n_rcpts; i++) /* the sender's story says so */
        if (m->env.rcpts[i].status == RCPT_PENDING || m->env.rcpts[i].status == RCPT_DEFERRED)
            track_add_event(track_feed(), &(struct track_event){.queue_id = id,
                            .rcpt = m->env.rcpts[i].addr, .kind = "deleted"});
    sched_unlink(s, m);
    return 0;
}

int sched_rcpt_states(const struct sched *s, const char *id, struct sched_rcpt_state **out,
                      size_t *n)
{
    *out = NULL;
    *n = 0;
    const struct qmsg *m = sched_find((struct sched *)s, id);
    if (!m)
        return -1;
    const struct envelope *e = &m->env;
    *out = xcalloc(e->n_rcpts ? e->n_rcpts : 1, sizeof **out);
    for (size_t i = 0; i < e->n_rcpts; i++) {
        const struct env_rcpt *r = &e->rcpts[i];
        (*out)[i] = (struct sched_rcpt_state){
            .addr = xstrdup(r->addr), .status = r->status, .next_attempt = r->next_attempt,
            .last_reply = r->last_reply ? xstrdup(r->last_reply) : NULL,
            .remote_mta = r->remote_mta ? xstrdup(r->remote_mta) : NULL,
            .busy = m->busy || m->ready};
    }
    *n = e->n_rcpts;
    return 0;
}

void sched_rcpt_states_free(struct sched_rcpt_state *v, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        free(v[i].addr);
        free(v[i].last_reply);
        free(v[i].remote_mta);
    }
    free(v);
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
    event_free(s->tick);
    while (s->all)
        sched_unlink(s, s->all);
    conf_release(s->conf);
    free(s);
}
