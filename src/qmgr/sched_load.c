/*
 * sched_load: reading parked messages back, and the start-up scan, on the
 * scheduler's own loader threads (a diskq pool of SCHED_LOADERS, so neither
 * ever sits in a batch with the commits that acknowledge mail). Due slots
 * are loaded SCHED_LOAD_BATCH at a time while the hot messages stay under
 * SCHED_ACTIVE_MAX. At start the queue is read in the background, one
 * subdirectory per job on each loader: each file is read once, its parking
 * (due time, next hop, counts) computed on the loader and only that kept;
 * the listeners take mail meanwhile. Damaged files are quarantined as
 * before (mail/quarantine).
 */
#include "qmgr/sched_int.h"
#include "lib/alloc.h"
#include "lib/log.h"
#include "lib/str.h"
#include "mail/quarantine.h"
#include "proto/esc.h"
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define SCHED_LOAD_BATCH 64      /* envelopes per load job */
#define SCHED_LOADS_MAX 4        /* load jobs in flight */
#define SCHED_LOAD_RETRY_MS 60000
#define SCHED_SCAN_RETRY_MS 5000

struct sched_load_item {
    uint32_t slot;
    char id[QUEUE_ID_MAX + 1];
    struct envelope env;
    int err;                     /* 0 loaded, else errno */
};

struct sched_load_job {
    struct diskq_job job;
    struct sched *s;
    size_t n;
    struct sched_load_item items[SCHED_LOAD_BATCH];
};

struct qmsg *sched_hot_new(struct sched *s, uint32_t slot, struct envelope *e)
{
    struct qslot *q = sched_slot(s, slot);
    struct qmsg *m = xcalloc(1, sizeof *m);
    m->env = *e;
    envelope_init(e);
    m->slot = slot;
    m->disk_rcpts = m->env.n_rcpts;
    m->env.hold = (q->flags & QSLOT_HOLD) != 0;
    q->hot = m;
    timerq_remove(&s->tq, slot);
    s->n_hot++;
    return m;
}

int sched_load_now(struct sched *s, const char *id, struct envelope *e)
{
    char path[PATH_MAX];
    if (queue_path(s->queue, id, path, sizeof path) < 0)
        return -1;
    return queue_load(path, e);
}

static void sched_load_read(struct diskq_job *j)
{
    struct sched_load_job *lj = j->ctx;
    char path[PATH_MAX];
    for (size_t i = 0; i < lj->n; i++) {
        struct sched_load_item *it = &lj->items[i];
        it->err = queue_path(lj->s->queue, it->id, path, sizeof path) < 0 ||
                          queue_load(path, &it->env) < 0
                      ? errno
                      : 0;
    }
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

/* One loaded (or not) envelope back in the loop: hot and kicked, or dropped. */
static void sched_load_item_done(struct sched *s, struct sched_load_item *it, int canceled)
{
    struct qslot *q = sched_slot(s, it->slot);
    char path[PATH_MAX];
    q->flags &= (uint8_t)~QSLOT_LOADING;
    if (q->flags & QSLOT_GONE) {
        sched_slot_free(s, it->slot); /* deleted by the operator meanwhile */
    } else if (canceled) {
        sched_slot_due(s, it->slot, sched_now());
    } else if (it->err == 0) {
        struct qmsg *m = sched_hot_new(s, it->slot, &it->env);
        if (q->flags & QSLOT_FLUSH)
            for (size_t i = 0; i < m->env.n_rcpts; i++)
                if (m->env.rcpts[i].status == RCPT_DEFERRED)
                    m->env.rcpts[i].next_attempt = 0;
        q->flags &= (uint8_t)~QSLOT_FLUSH;
        sched_kick(s, m);
    } else if (it->err == ENOENT) {
        sched_slot_free(s, it->slot); /* removed since it was parked (queue delete offline) */
    } else if (it->err == EINVAL && queue_path(s->queue, it->id, path, sizeof path) == 0) {
        sched_slot_free(s, it->slot);
        sched_quarantine(s, path, it->id);
    } else {
        log_err("%s: cannot read its queue file: %s (again in %d s)", it->id,
                strerror(it->err), SCHED_LOAD_RETRY_MS / 1000);
        sched_slot_due(s, it->slot, sched_now() + SCHED_LOAD_RETRY_MS);
    }
    envelope_free(&it->env);
}

static void sched_load_done(struct diskq_job *j)
{
    struct sched_load_job *lj = j->ctx;
    struct sched *s = lj->s;
    for (size_t i = 0; i < lj->n; i++)
        sched_load_item_done(s, &lj->items[i], j->failed);
    diskq_job_release(j);
    free(lj);
    s->loads--;
    sched_load_pump(s);
}

/* Hot messages plus those being loaded. */
static size_t sched_load_active(const struct sched *s)
{
    return s->n_hot + (size_t)s->loads * SCHED_LOAD_BATCH;
}

void sched_load_pump(struct sched *s)
{
    while (!s->stopping && s->due_len && s->loads < SCHED_LOADS_MAX &&
           sched_load_active(s) + SCHED_LOAD_BATCH <= SCHED_ACTIVE_MAX) {
        struct sched_load_job *lj = xcalloc(1, sizeof *lj);
        uint32_t slot;
        while (lj->n < SCHED_LOAD_BATCH && (slot = sched_due_pop(s)) != SLOTMAP_NONE) {
            struct qslot *q = sched_slot(s, slot);
            q->flags |= QSLOT_LOADING;
            lj->items[lj->n].slot = slot;
            str_copy(lj->items[lj->n].id, sizeof lj->items[lj->n].id, q->id);
            envelope_init(&lj->items[lj->n].env);
            lj->n++;
        }
        if (!lj->n) {
            free(lj);
            return;
        }
        lj->s = s;
        lj->job.ctx = lj;
        lj->job.write = sched_load_read;
        lj->job.done = sched_load_done;
        s->loads++;
        diskq_submit(s->loader, &lj->job, DISKQ_NORMAL);
    }
}

/* --- the start-up scan --- */

struct sched_scanned {
    char id[QUEUE_ID_MAX + 1];
    int64_t arrival;
    struct parking p;
};

struct sched_scan_job {
    struct diskq_job job;
    struct sched *s;
    const struct conf *conf;     /* held: routing decides the next hops */
    int dir;
    int64_t now;
    struct sched_scanned *msgs;
    size_t n, cap;
    char (*damaged)[QUEUE_ID_MAX + 1];
    size_t n_damaged;
    int err;
};

static int sched_scan_one(void *ctx, const char *path, const char *id)
{
    struct sched_scan_job *sj = ctx;
    struct envelope e;
    int cut = 0;
    if (queue_load_repair(path, &e, &cut) == 0) {
        if (cut)
            log_warn("%s: torn last record cut off %s", id, path);
        if (sj->n == sj->cap) {
            sj->cap = sj->cap ? sj->cap * 2 : 256;
            sj->msgs = xrealloc(sj->msgs, sj->cap * sizeof *sj->msgs);
        }
        struct sched_scanned *m = &sj->msgs[sj->n++];
        str_copy(m->id, sizeof m->id, e.id);
        m->arrival = e.arrival;
        parking_of(sj->conf, &e, sj->now, &m->p);
        envelope_free(&e);
    } else if (errno == EINVAL) {
        sj->damaged = xrealloc(sj->damaged, (sj->n_damaged + 1) * sizeof *sj->damaged);
        str_copy(sj->damaged[sj->n_damaged++], QUEUE_ID_MAX + 1, id);
    } else if (errno != ENOENT) {
        log_err("%s: cannot read queue file %s: %s (left in place)", id, path, strerror(errno));
    }
    return 0;
}

static void sched_scan_read(struct diskq_job *j)
{
    struct sched_scan_job *sj = j->ctx;
    if (queue_scan_dir(sj->s->queue, sj->dir, sj->s->scan_clean_before, sched_scan_one, sj) < 0)
        sj->err = errno;
}

static void sched_scan_submit(struct sched *s);

/* Parks what the scan found (a message the loop knows already is skipped). */
static void sched_scan_apply(struct sched *s, struct sched_scan_job *sj)
{
    char path[PATH_MAX];
    for (size_t i = 0; i < sj->n; i++) {
        struct sched_scanned *m = &sj->msgs[i];
        if (slotmap_find(&s->index, slotmap_hash_str(m->id), m->id) != SLOTMAP_NONE)
            continue; /* arrived or was loaded while the scan ran */
        sched_slot_park(s, sched_slot_new(s, m->id, m->arrival), &m->p);
        s->scan_loaded++;
    }
    for (size_t i = 0; i < sj->n_damaged; i++)
        if (queue_path(s->queue, sj->damaged[i], path, sizeof path) == 0)
            sched_quarantine(s, path, sj->damaged[i]);
    if (sj->err)
        log_err("queue: cannot scan subdirectory %02X: %s (again in %d s)", sj->dir,
                strerror(sj->err), SCHED_SCAN_RETRY_MS / 1000);
}

static void sched_scan_submit_dir(struct sched *s, int dir);

/* Subdirectories whose scan failed (out of descriptors, say) are read again later:
 * none of their messages may be left unscheduled until the next start. */
static void sched_scan_on_retry(evutil_socket_t fd, short what, void *arg)
{
    struct sched *s = arg;
    (void)fd;
    (void)what;
    for (int dir = 0; dir < QUEUE_SUBDIRS && !s->stopping; dir++)
        if (s->scan_retry_dirs[dir / 8] & (1u << (dir % 8))) {
            s->scan_retry_dirs[dir / 8] &= (uint8_t)~(1u << (dir % 8));
            sched_scan_submit_dir(s, dir);
        }
}

static void sched_scan_retry(struct sched *s, int dir)
{
    if (!s->scan_retry)
        s->scan_retry = evtimer_new(s->base, sched_scan_on_retry, s);
    s->scan_retry_dirs[dir / 8] |= (uint8_t)(1u << (dir % 8));
    struct timeval tv = {SCHED_SCAN_RETRY_MS / 1000, 0};
    if (!evtimer_pending(s->scan_retry, NULL))
        evtimer_add(s->scan_retry, &tv);
}

static void sched_scan_done(struct diskq_job *j)
{
    struct sched_scan_job *sj = j->ctx;
    struct sched *s = sj->s;
    int failed = j->failed, dir = sj->dir, err = sj->err;
    if (!failed)
        sched_scan_apply(s, sj);
    conf_release(sj->conf);
    diskq_job_release(j);
    free(sj->msgs);
    free(sj->damaged);
    free(sj);
    if (failed || s->stopping)
        return;
    if (err)
        sched_scan_retry(s, dir); /* counted as done when a later read succeeds */
    else
        s->scan_done++;
    if (s->scan_dir < QUEUE_SUBDIRS) {
        sched_scan_submit(s);
        return;
    }
    if (s->scan_done < QUEUE_SUBDIRS)
        return;
    log_info("queue: %zu message(s) loaded in %lld ms (while taking mail)", s->scan_loaded,
             (long long)(sched_now() - s->scan_started));
    sched_load_pump(s);
}

static void sched_scan_submit(struct sched *s)
{
    sched_scan_submit_dir(s, s->scan_dir++);
}

static void sched_scan_submit_dir(struct sched *s, int dir)
{
    struct sched_scan_job *sj = xcalloc(1, sizeof *sj);
    sj->s = s;
    sj->conf = conf_hold(s->conf);
    sj->dir = dir;
    sj->now = sched_now();
    sj->job.ctx = sj;
    sj->job.write = sched_scan_read;
    sj->job.done = sched_scan_done;
    diskq_submit(s->loader, &sj->job, DISKQ_NORMAL);
}

/* The wait before the scan (loader thread), then the scan from the loop. */
struct sched_scan_wait {
    struct diskq_job job;
    struct sched *s;
    int (*before)(void *arg);
    void *arg;
};

static void sched_scan_wait_run(struct diskq_job *j)
{
    struct sched_scan_wait *w = j->ctx;
    w->before(w->arg);
}

static void sched_scan_start(struct sched *s);

static void sched_scan_wait_done(struct diskq_job *j)
{
    struct sched_scan_wait *w = j->ctx;
    struct sched *s = w->s;
    int failed = j->failed;
    diskq_job_release(j);
    free(w);
    if (!failed && !s->stopping)
        sched_scan_start(s);
}

int sched_load(struct sched *s, int (*before)(void *arg), void *arg)
{
    if (!before) {
        sched_scan_start(s);
        return 0;
    }
    struct sched_scan_wait *w = xcalloc(1, sizeof *w);
    *w = (struct sched_scan_wait){.s = s, .before = before, .arg = arg};
    w->job.ctx = w;
    w->job.write = sched_scan_wait_run;
    w->job.done = sched_scan_wait_done;
    diskq_submit(s->loader, &w->job, DISKQ_URGENT); /* never dropped: it reaps the walker */
    return 0;
}

static void sched_scan_start(struct sched *s)
{
    s->scan_started = sched_now();
    /* leftovers of before the start, not ours (a file time lags the clock by a tick) */
    s->scan_clean_before = s->scan_started - 2000;
    s->scan_dir = s->scan_done = 0;
    s->scan_loaded = 0;
    for (int i = 0; i < SCHED_LOADERS; i++) /* one subdirectory per loader thread at a time */
        sched_scan_submit(s);
}

int sched_loaded(const struct sched *s)
{
    return s->scan_done >= QUEUE_SUBDIRS;
}
