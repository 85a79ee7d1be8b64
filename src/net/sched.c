/*
 * sched: scheduling of local deliveries and retries (see sched.h).
 */
#include "net/sched.h"
#include "lib/alloc.h"
#include "lib/fsio.h"
#include "lib/log.h"
#include "lib/str.h"
#include "mail/maildir.h"
#include "mail/route.h"
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <unistd.h>

#define SCHED_MAX_INFLIGHT 512
#define SCHED_TICK_MS 1000

struct qmsg {
    struct envelope env;
    struct qmsg *prev, *next;   /* all messages */
    struct qmsg *rnext;         /* ready list */
    int busy, ready;
};

struct deliver_job {
    struct diskq_job job;
    struct sched *s;
    struct qmsg *m;
    unsigned char *changed;     /* per recipient: its state must be recorded */
    struct maildir_msg *out;    /* per recipient: the Maildir copy being written */
    int record_fd;              /* queue file opened for appending state */
    int removed;                /* the queue file was removed */
};

struct sched {
    struct event_base *base;
    const struct conf *conf;
    struct queue *queue;
    struct diskq *dq;
    struct qmsg *all;
    struct qmsg *ready_head, *ready_tail;
    size_t count;
    unsigned inflight;
    struct event *tick;
};

static int64_t sched_now(void)
{
    struct timeval tv;
    gettimeofday(&tv, NULL);
    return (int64_t)tv.tv_sec * 1000 + tv.tv_usec / 1000;
}

int64_t sched_backoff(const struct conf *c, unsigned attempts, unsigned jitter_seed)
{
    int64_t d = c->retry_min_ms > 0 ? c->retry_min_ms : 1000;
    for (unsigned i = 1; i < attempts && d < c->retry_max_ms; i++)
        d *= 2;
    if (d > c->retry_max_ms)
        d = c->retry_max_ms;
    int64_t j = d / 10;
    if (j > 0)
        d += (int64_t)(jitter_seed % (unsigned)(2 * j + 1)) - j;
    return d;
}

/* A recipient this scheduler delivers now: local (not remote), waiting, due. */
static int sched_due(const struct sched *s, const struct env_rcpt *r, int64_t now)
{
    if (r->status != RCPT_PENDING && r->status != RCPT_DEFERRED)
        return 0;
    if (r->next_attempt > now)
        return 0;
    char mailbox[ADDR_LOCAL_MAX + 1];
    enum route_kind k = route_classify(s->conf, r->addr, mailbox, sizeof mailbox);
    return k != ROUTE_REMOTE && k != ROUTE_RELAY_DOMAIN;
}

/* Records an outcome for recipient i (in the worker thread). */
static void sched_outcome(struct deliver_job *dj, size_t i, enum rcpt_status st,
                          const char *reply)
{
    struct env_rcpt *r = &dj->m->env.rcpts[i];
    r->status = st;
    free(r->last_reply);
    r->last_reply = reply ? xstrdup(reply) : NULL;
    dj->changed[i] = 1;
}

static void sched_defer(struct deliver_job *dj, size_t i, const char *why, int64_t now)
{
    struct env_rcpt *r = &dj->m->env.rcpts[i];
    const struct conf *c = dj->s->conf;
    r->attempts++;
    if (now - dj->m->env.arrival >= c->queue_lifetime_ms) {
        char msg[512];
        str_fmt(msg, sizeof msg, "4.4.7 delivery time expired; last error: %s", why);
        sched_outcome(dj, i, RCPT_FAILED, msg);
        log_info("%s: to=<%s> status=failed (%s)", dj->m->env.id, r->addr, msg);
        return;
    }
    static _Thread_local unsigned seed;
    if (!seed)
        seed = (unsigned)now ^ (unsigned)(uintptr_t)&seed;
    r->next_attempt = now + sched_backoff(c, r->attempts, (unsigned)rand_r(&seed));
    sched_outcome(dj, i, RCPT_DEFERRED, why);
}

/* Writes recipient i's Maildir copy to tmp/ (worker thread, write stage). */
static void sched_deliver_one(struct deliver_job *dj, size_t i, int fd, int64_t now)
{
    const struct conf *c = dj->s->conf;
    struct envelope *e = &dj->m->env;
    char mailbox[ADDR_LOCAL_MAX + 1], local[256], domain[256], why[512];
    enum route_kind k = route_classify(c, e->rcpts[i].addr, mailbox, sizeof mailbox);
    route_split(e->rcpts[i].addr, local, sizeof local, domain, sizeof domain);
    if (k == ROUTE_UNKNOWN_USER || k == ROUTE_BAD_MAILBOX) {
        sched_outcome(dj, i, RCPT_FAILED, "5.1.1 no such mailbox here");
        log_info("%s: to=<%s> status=failed (no such mailbox)", e->id, e->rcpts[i].addr);
        return;
    }
    char name[512];
    maildir_unique_name(name, sizeof name, (uint64_t)(e->arrival / 1000), e->id, i, c->hostname);
    if (fd < 0 || maildir_write(c->data_dir, domain, mailbox, name, e->sender, fd,
                                e->content_offset, e->size, &dj->out[i]) < 0) {
        str_fmt(why, sizeof why, "4.2.0 mailbox %s@%s unavailable: %s", mailbox, domain,
                strerror(errno));
        log_warn("%s: to=<%s> status=deferred (%s)", e->id, e->rcpts[i].addr, why);
        sched_defer(dj, i, why, now);
        return;
    }
    e->rcpts[i].attempts++;
    diskq_job_sync_fd(&dj->job, dj->out[i].fd);
    sched_outcome(dj, i, RCPT_DELIVERED, "2.0.0 delivered to maildir");
}

static void sched_write(struct diskq_job *j)
{
    struct deliver_job *dj = j->ctx;
    struct envelope *e = &dj->m->env;
    int64_t now = sched_now();
    int fd = -1;
    for (size_t i = 0; i < e->n_rcpts; i++) {
        if (!sched_due(dj->s, &e->rcpts[i], now))
            continue;
        if (fd < 0)
            fd = queue_open_content(dj->s->queue, e);
        sched_deliver_one(dj, i, fd, now);
    }
    if (fd >= 0)
        close(fd);
}

/* Publishes the fsync'd Maildir copies into new/ (publish stage). */
static void sched_publish(struct diskq_job *j)
{
    struct deliver_job *dj = j->ctx;
    for (size_t i = 0; i < dj->m->env.n_rcpts; i++) {
        struct maildir_msg *o = &dj->out[i];
        if (o->fd < 0)
            continue;
        if (maildir_publish(o) < 0) {
            j->failed = 1;
            j->err = errno;
            continue;
        }
        o->tmp[0] = '\0';
        log_info("%s: to=<%s> status=delivered (maildir %s)", dj->m->env.id,
                 dj->m->env.rcpts[i].addr, o->new_dir);
        if (diskq_job_sync_dir(j, o->new_dir) < 0 && fsio_fsync_dir(o->new_dir) < 0) {
            j->failed = 1;
            j->err = errno;
        }
    }
}

/* Records the outcomes durably, or removes the message when nothing waits (record stage). */
static void sched_record(struct diskq_job *j)
{
    struct deliver_job *dj = j->ctx;
    struct envelope *e = &dj->m->env;
    char dir[PATH_MAX];
    if (envelope_done(e)) {
        if (queue_retire(dj->s->queue, e->id) < 0 ||
            queue_dir_of(dj->s->queue, e->id, dir, sizeof dir) < 0) {
            j->failed = 1;
            j->err = errno;
            return;
        }
        diskq_job_sync_dir(j, dir);
        dj->removed = 1;
        return;
    }
    struct buf rec;
    buf_init(&rec, BUF_UNLIMITED);
    for (size_t i = 0; i < e->n_rcpts; i++)
        if (dj->changed[i])
            envelope_format_state(e, i, &rec);
    if (rec.len) {
        dj->record_fd = queue_append_open(dj->s->queue, e->id, rec.data, rec.len);
        if (dj->record_fd < 0) {
            j->failed = 1;
            j->err = errno;
        } else {
            diskq_job_sync_fd(j, dj->record_fd);
        }
    }
    buf_free(&rec);
}

static void sched_kick(struct sched *s, struct qmsg *m);
static void sched_pump(struct sched *s);

static void sched_unlink(struct sched *s, struct qmsg *m)
{
    if (m->prev)
        m->prev->next = m->next;
    else
        s->all = m->next;
    if (m->next)
        m->next->prev = m->prev;
    envelope_free(&m->env);
    free(m);
    s->count--;
}

static void sched_done(struct diskq_job *j)
{
    struct deliver_job *dj = j->ctx;
    struct sched *s = dj->s;
    struct qmsg *m = dj->m;
    s->inflight--;
    m->busy = 0;
    if (j->failed && j->err != ECANCELED)
        log_err("%s: delivery or its record failed: %s (will retry)", m->env.id,
                strerror(j->err));
    for (size_t i = 0; i < m->env.n_rcpts; i++) {
        if (dj->out[i].fd >= 0 || dj->out[i].tmp[0]) {
            maildir_abort(&dj->out[i]); /* never published: undo and retry later */
            if (m->env.rcpts[i].status == RCPT_DELIVERED)
                m->env.rcpts[i].status = RCPT_DEFERRED;
        }
    }
    if (dj->record_fd >= 0)
        close(dj->record_fd);
    diskq_job_release(j);
    if (dj->removed && !j->failed) {
        log_info("%s: removed (all recipients done)", m->env.id);
        sched_unlink(s, m);
    }
    free(dj->changed);
    free(dj->out);
    free(dj);
    sched_pump(s);
}

/* Starts a delivery job for m now. */
static void sched_start(struct sched *s, struct qmsg *m)
{
    struct deliver_job *dj = xcalloc(1, sizeof *dj);
    dj->s = s;
    dj->m = m;
    size_t n = m->env.n_rcpts ? m->env.n_rcpts : 1;
    dj->changed = xcalloc(n, 1);
    dj->out = xcalloc(n, sizeof *dj->out);
    for (size_t i = 0; i < n; i++)
        dj->out[i].fd = -1;
    dj->record_fd = -1;
    dj->job.write = sched_write;
    dj->job.publish = sched_publish;
    dj->job.record = sched_record;
    dj->job.done = sched_done;
    dj->job.ctx = dj;
    m->busy = 1;
    s->inflight++;
    diskq_submit(s->dq, &dj->job, DISKQ_NORMAL);
}

/* 1 if m has work for local delivery now (due recipients, or ready to be removed). */
static int sched_has_work(struct sched *s, struct qmsg *m, int64_t now)
{
    if (m->env.hold)
        return 0;
    if (envelope_done(&m->env))
        return 1;
    for (size_t i = 0; i < m->env.n_rcpts; i++)
        if (sched_due(s, &m->env.rcpts[i], now))
            return 1;
    return 0;
}

static void sched_kick(struct sched *s, struct qmsg *m)
{
    if (m->busy || m->ready || !sched_has_work(s, m, sched_now()))
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

/* Starts ready messages while there is room. */
static void sched_pump(struct sched *s)
{
    while (s->ready_head && s->inflight < SCHED_MAX_INFLIGHT) {
        struct qmsg *m = s->ready_head;
        s->ready_head = m->rnext;
        if (!s->ready_head)
            s->ready_tail = NULL;
        m->ready = 0;
        if (!m->busy)
            sched_start(s, m);
    }
}

static void sched_on_tick(evutil_socket_t fd, short what, void *arg)
{
    struct sched *s = arg;
    (void)fd;
    (void)what;
    for (struct qmsg *m = s->all; m; m = m->next)
        sched_kick(s, m);
}

void sched_add(struct sched *s, struct envelope *e)
{
    struct qmsg *m = xcalloc(1, sizeof *m);
    m->env = *e;
    envelope_init(e);
    m->next = s->all;
    if (s->all)
        s->all->prev = m;
    s->all = m;
    s->count++;
    sched_kick(s, m);
}

static int sched_load_one(void *ctx, const char *path, const char *id)
{
    struct sched *s = ctx;
    struct envelope e;
    if (queue_load(path, &e) < 0) {
        log_err("%s: cannot read queue file %s: %s (left in place)", id, path, strerror(errno));
        return 0;
    }
    sched_add(s, &e);
    return 0;
}

int sched_load(struct sched *s)
{
    int r = queue_scan(s->queue, 1, sched_load_one, s);
    log_info("queue: %zu message(s) loaded", s->count);
    return r;
}

struct sched *sched_new(struct event_base *base, const struct conf *c, struct queue *q,
                        struct diskq *dq)
{
    struct sched *s = xcalloc(1, sizeof *s);
    s->base = base;
    s->conf = c;
    s->queue = q;
    s->dq = dq;
    s->tick = event_new(base, -1, EV_PERSIST, sched_on_tick, s);
    struct timeval tv = {SCHED_TICK_MS / 1000, (SCHED_TICK_MS % 1000) * 1000};
    event_add(s->tick, &tv);
    return s;
}

size_t sched_count(const struct sched *s)
{
    return s->count;
}

void sched_free(struct sched *s)
{
    if (!s)
        return;
    event_free(s->tick);
    while (s->all)
        sched_unlink(s, s->all);
    free(s);
}
