/*
 * pickup: the drop directory into the queue (pickup.h). With dkim_sign keys,
 * the message is signed here (msgauth/dkim_sign.h), on the disk worker that
 * copies it: the DKIM-Signature field goes above postino's Received: field.
 */
#include "qmgr/pickup.h"
#include "lib/dur.h"
#include "lib/alloc.h"
#include "lib/fsio.h"
#include "lib/log.h"
#include "lib/str.h"
#include "mail/maildrop.h"
#include "mail/route.h"
#include "msgauth/dkim_sign.h"
#include "proto/rfc5322.h"
#include "track/track.h"
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#define PICKUP_BATCH 64
#define PICKUP_STALE_TMP_S 3600  /* a sendmail that died mid-message (one never takes an hour) */
#define PICKUP_COPY_CHUNK 65536

enum pickup_outcome { PICKUP_QUEUED, PICKUP_DUPLICATE, PICKUP_GONE, PICKUP_REJECTED, PICKUP_RETRY };

struct pickup {
    struct event_base *base;
    const struct conf *conf;   /* held; replaced by a reload (pickup_set_conf) */
    struct queue *queue;
    struct diskq *dq;
    struct sched *sched;
    char dir[PATH_MAX];
    int inotify_fd;
    struct event *ev_inotify;
    struct event *timer;
    unsigned in_flight;
    int rescan;        /* scan again when the jobs in flight are done */
    int progress;      /* a job of the current round took a file away */
    int stopping;
};

struct pickup_job {
    struct diskq_job job;
    struct pickup *p;
    const struct conf *conf;   /* held: the settings of the job (it runs on a worker) */
    char name[MAILDROP_NAME_MAX];
    char id[QUEUE_ID_MAX + 1];
    struct envelope env;       /* the queued message's envelope */
    struct queue_writer w;
    int writer_open;
    unsigned uid;
    enum pickup_outcome outcome;
    char why[200];
    char message_id[RFC5322_MSGID_MAX]; /* for the tracking store, "" if none */
};

static void pickup_scan(struct pickup *p);

static void pickup_job_fail(struct pickup_job *pj, enum pickup_outcome o, const char *why)
{
    pj->outcome = o;
    str_copy(pj->why, sizeof pj->why, why);
}

/* Opens and checks drop file pj->name into drop; the fd, or -1 with the outcome set. */
static int pickup_open(struct pickup_job *pj, struct envelope *drop)
{
    char path[PATH_MAX];
    struct stat st;
    str_fmt(path, sizeof path, "%s/%s", pj->p->dir, pj->name);
    int fd = open(path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0) {
        pickup_job_fail(pj, errno == ENOENT ? PICKUP_GONE : errno == ELOOP ? PICKUP_REJECTED
                                                                             : PICKUP_RETRY,
                        errno == ELOOP ? "a symbolic link" : strerror(errno));
        return -1;
    }
    const char *why = NULL;
    if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || st.st_nlink != 1)
        why = "not a regular file with one link";
    else if (queue_load_fd(fd, drop) < 0)
        why = "not a well-formed drop file";
    else if (!(why = maildrop_check(drop)) &&
             drop->content_offset + drop->size + 4 != (uint64_t)st.st_size)
        why = "records after the message";
    if (why) {
        pickup_job_fail(pj, PICKUP_REJECTED, why);
        close(fd);
        return -1;
    }
    pj->uid = (unsigned)st.st_uid;
    return fd;
}

/* 1 if the content has an octet >= 0x80, 0 if not, -1 on a read error. */
static int pickup_8bit(int fd, const struct envelope *drop, char *chunk)
{
    for (uint64_t off = 0; off < drop->size;) {
        size_t want = drop->size - off < PICKUP_COPY_CHUNK ? (size_t)(drop->size - off)
                                                            : PICKUP_COPY_CHUNK;
        ssize_t n = pread(fd, chunk, want, (off_t)(drop->content_offset + off));
        if (n <= 0)
            return -1;
        for (ssize_t i = 0; i < n; i++)
            if ((unsigned char)chunk[i] >= 0x80)
                return 1;
        off += (uint64_t)n;
    }
    return 0;
}

/* The queue's envelope for the drop's: a new arrival, aliases expanded. */
static void pickup_envelope(struct pickup_job *pj, const struct envelope *drop, int eight)
{
    struct envelope *e = &pj->env;
    envelope_init(e);
    str_copy(e->id, sizeof e->id, pj->id);
    e->arrival = dur_now_ms();
    e->sender = xstrdup(drop->sender);
    e->ret = drop->ret;
    e->envid = drop->envid ? xstrdup(drop->envid) : NULL;
    e->body = eight ? BODY_8BITMIME : BODY_7BIT;
    e->smtputf8 = drop->smtputf8;
    for (size_t i = 0; i < drop->n_rcpts; i++)
        envelope_add_rcpt(e, drop->rcpts[i].addr, drop->rcpts[i].notify, drop->rcpts[i].orcpt, -1,
                          RCPT_PENDING);
    route_expand_all(pj->conf, e);
}

static void pickup_received(struct pickup_job *pj, struct buf *b)
{
    char date[64];
    rfc5322_date(time(NULL), date, sizeof date);
    buf_printf(b, "Received: by %s (postino, from userid %u)\r\n\tid %s", pj->conf->hostname,
               pj->uid, pj->id);
    if (pj->env.n_rcpts == 1)
        buf_printf(b, "\r\n\tfor <%s>", pj->env.rcpts[0].addr);
    buf_printf(b, "; %s\r\n", date);
}

/* Writes the queue file (not yet fsync'd or published). 0, or -1 with the outcome set. */
static int pickup_copy(struct pickup_job *pj, const struct envelope *drop, int fd, char *chunk)
{
    int eight = pickup_8bit(fd, drop, chunk);
    if (eight < 0) {
        pickup_job_fail(pj, PICKUP_RETRY, "read error");
        return -1;
    }
    pickup_envelope(pj, drop, eight);
    if (queue_writer_open(pj->p->queue, &pj->env, &pj->w) < 0) {
        pickup_job_fail(pj, PICKUP_RETRY, strerror(errno));
        queue_writer_abort(&pj->w);
        return -1;
    }
    pj->writer_open = 1;
    struct buf rcvd;
    buf_init(&rcvd, 64 * 1024);
    if (pj->conf->n_dkim_keys > 0) { /* signed as it enters the queue: once, not per attempt */
        struct queue_content m = {.fd = fd, .off = drop->content_offset, .size = drop->size};
        dkim_sign_message(pj->conf, &m, 0, &rcvd);
    }
    pickup_received(pj, &rcvd);
    queue_writer_write(&pj->w, rcvd.data, rcvd.len);
    buf_free(&rcvd);
    for (uint64_t off = 0; off < drop->size;) {
        size_t want = drop->size - off < PICKUP_COPY_CHUNK ? (size_t)(drop->size - off)
                                                            : PICKUP_COPY_CHUNK;
        ssize_t n = pread(fd, chunk, want, (off_t)(drop->content_offset + off));
        if (n <= 0) {
            pickup_job_fail(pj, PICKUP_RETRY, "read error");
            return -1;
        }
        if (off == 0 && rfc5322_find_message_id(chunk, (size_t)n, pj->message_id,
                                                 sizeof pj->message_id) < 0)
            pj->message_id[0] = '\0';
        queue_writer_write(&pj->w, chunk, (size_t)n);
        off += (uint64_t)n;
    }
    if (queue_writer_finish(&pj->w) < 0) {
        pickup_job_fail(pj, PICKUP_RETRY, strerror(errno));
        return -1;
    }
    pj->env.size = pj->w.content_len;
    pj->env.content_offset = pj->w.head_len;
    return 0;
}

/* write stage (a disk worker): check the drop file, write the queue file. */
static void pickup_job_write(struct diskq_job *j)
{
    struct pickup_job *pj = j->ctx;
    struct envelope drop;
    char path[PATH_MAX];
    struct stat st;
    int fd = pickup_open(pj, &drop);
    if (fd < 0)
        return;
    if (queue_path(pj->p->queue, pj->id, path, sizeof path) == 0 && stat(path, &st) == 0) {
        pj->outcome = PICKUP_DUPLICATE; /* queued before a crash took the drop file's removal */
    } else {
        char *chunk = xmalloc(PICKUP_COPY_CHUNK);
        pj->outcome = PICKUP_QUEUED;
        if (pickup_copy(pj, &drop, fd, chunk) == 0)
            diskq_job_sync_fd(j, pj->w.fd);
        free(chunk);
    }
    envelope_free(&drop);
    close(fd);
}

/* publish stage: rename the queue file into place. */
static void pickup_job_publish(struct diskq_job *j)
{
    struct pickup_job *pj = j->ctx;
    if (pj->outcome != PICKUP_QUEUED)
        return;
    if (queue_writer_publish(&pj->w) < 0) {
        pickup_job_fail(pj, errno == EEXIST ? PICKUP_DUPLICATE : PICKUP_RETRY, strerror(errno));
        return;
    }
    diskq_job_sync_dir(j, pj->w.dir);
}

/* record stage: the message is in the queue (or was already): remove the drop file. */
static void pickup_job_record(struct diskq_job *j)
{
    struct pickup_job *pj = j->ctx;
    char path[PATH_MAX], bad[PATH_MAX];
    str_fmt(path, sizeof path, "%s/%s", pj->p->dir, pj->name);
    if (pj->outcome == PICKUP_QUEUED || pj->outcome == PICKUP_DUPLICATE) {
        if (unlink(path) < 0 && errno != ENOENT)
            log_err("maildrop %s: cannot remove: %s", pj->name, strerror(errno));
    } else if (pj->outcome == PICKUP_REJECTED) {
        str_fmt(bad, sizeof bad, "%s.bad", path);
        if (rename(path, bad) < 0)
            log_err("maildrop %s: cannot rename: %s", pj->name, strerror(errno));
    } else {
        return;
    }
    diskq_job_sync_dir(j, pj->p->dir);
}

static void pickup_log(struct pickup_job *pj, int failed, int err)
{
    const struct envelope *e = &pj->env;
    if (failed)
        log_err("maildrop %s: commit failed: %s (will retry)", pj->name, strerror(err));
    else if (pj->outcome == PICKUP_QUEUED)
        log_event(LOG_INFO, &(struct log_fields){.queue_id = e->id, .event = "received",
                  .from = e->sender}, "size=%llu nrcpt=%zu uid=%u queued (local submission)",
                  (unsigned long long)e->size, e->n_rcpts, pj->uid);
    else if (pj->outcome == PICKUP_DUPLICATE)
        log_info("maildrop %s: already queued as %s; drop file removed", pj->name, pj->id);
    else if (pj->outcome == PICKUP_REJECTED)
        log_err("maildrop %s: rejected: %s (kept as %s.bad)", pj->name, pj->why, pj->name);
    else if (pj->outcome == PICKUP_RETRY)
        log_err("maildrop %s: cannot take it now: %s (will retry)", pj->name, pj->why);
}

/* The arrival, for the tracking store (enqueued only). */
static void pickup_track(struct pickup_job *pj)
{
    struct track *t = track_feed();
    const struct envelope *e = &pj->env;
    char client[64];
    if (!t)
        return;
    str_fmt(client, sizeof client, "local submission (uid %u)", pj->uid);
    const char **rcpts = xcalloc(e->n_rcpts ? e->n_rcpts : 1, sizeof *rcpts);
    for (size_t i = 0; i < e->n_rcpts; i++)
        rcpts[i] = e->rcpts[i].addr;
    struct track_message m = {.queue_id = e->id, .message_id = pj->message_id,
                              .envid = envelope_envid_to_send(e), .sender = e->sender,
                              .client = client,
                              .arrival = e->arrival, .rcpts = rcpts, .n_rcpts = e->n_rcpts};
    track_add_message(t, &m);
    free(rcpts);
}

/* done (the loop thread): hand the message to the scheduler. */
static void pickup_job_done(struct diskq_job *j)
{
    struct pickup_job *pj = j->ctx;
    struct pickup *p = pj->p;
    pickup_log(pj, j->failed, j->err);
    if (!j->failed && pj->outcome == PICKUP_QUEUED) {
        pickup_track(pj);
        sched_add(p->sched, &pj->env);
    }
    else if (pj->writer_open)
        queue_writer_abort(&pj->w); /* removes a copy that is not durably queued */
    if (!j->failed && pj->outcome != PICKUP_RETRY) /* the file is gone or set aside */
        p->progress = 1;
    diskq_job_release(j);
    envelope_free(&pj->env);
    conf_release(pj->conf);
    free(pj);
    if (--p->in_flight == 0 && p->rescan && p->progress && !p->stopping)
        pickup_scan(p);
}

static void pickup_submit(struct pickup *p, const char *name, const char *id)
{
    struct pickup_job *pj = xcalloc(1, sizeof *pj);
    pj->p = p;
    pj->conf = conf_hold(p->conf);
    str_copy(pj->name, sizeof pj->name, name);
    str_copy(pj->id, sizeof pj->id, id);
    envelope_init(&pj->env);
    pj->job.write = pickup_job_write;
    pj->job.publish = pickup_job_publish;
    pj->job.record = pickup_job_record;
    pj->job.done = pickup_job_done;
    pj->job.ctx = pj;
    p->in_flight++;
    diskq_submit(p->dq, &pj->job, DISKQ_URGENT);
}

/*
 * Removes a sendmail's temporary file untouched for an hour (the process was
 * killed mid-message). Only a regular file: the name itself is removed, a
 * symbolic link is never followed nor removed.
 */
static void pickup_stale(struct pickup *p, const char *name)
{
    size_t n = strlen(name);
    char path[PATH_MAX];
    struct stat st;
    if (n < 4 || strcmp(name + n - 4, ".tmp") != 0 ||
        str_fmt(path, sizeof path, "%s/%s", p->dir, name) < 0 || lstat(path, &st) < 0 ||
        !S_ISREG(st.st_mode) || time(NULL) - st.st_mtime <= PICKUP_STALE_TMP_S)
        return;
    if (unlink(path) == 0)
        log_warn("maildrop %s: removed an unfinished submission from uid %u (untouched for %lld s)",
                 name, (unsigned)st.st_uid, (long long)(time(NULL) - st.st_mtime));
    else if (errno != ENOENT)
        log_err("maildrop %s: cannot remove an unfinished submission: %s", name, strerror(errno));
}

static void pickup_scan(struct pickup *p)
{
    if (p->in_flight) {
        p->rescan = 1;
        return;
    }
    p->rescan = 0;
    p->progress = 0;
    DIR *d = opendir(p->dir);
    if (!d) {
        log_err("maildrop %s: %s", p->dir, strerror(errno));
        return;
    }
    struct dirent *de;
    char id[QUEUE_ID_MAX + 1];
    while (p->in_flight < PICKUP_BATCH && (de = readdir(d))) {
        if (maildrop_name_id(de->d_name, id) == 0)
            pickup_submit(p, de->d_name, id);
        else if (de->d_name[0] != '.')
            pickup_stale(p, de->d_name);
    }
    if (p->in_flight >= PICKUP_BATCH)
        p->rescan = 1; /* more than a batch: the rest after this one */
    closedir(d);
}

static void pickup_on_inotify(evutil_socket_t fd, short what, void *arg)
{
    char events[4096] __attribute__((aligned(__alignof__(struct inotify_event))));
    (void)what;
    while (read(fd, events, sizeof events) > 0)
        ; /* any event means: look */
    pickup_scan(arg);
}

static void pickup_on_timer(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    pickup_scan(arg);
}

/* inotify on the directory; without it, a faster timer. */
static void pickup_watch(struct pickup *p)
{
    struct timeval every = {PICKUP_RESCAN_S, 0};
    p->inotify_fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
    if (p->inotify_fd >= 0 && inotify_add_watch(p->inotify_fd, p->dir, IN_MOVED_TO) >= 0) {
        p->ev_inotify = event_new(p->base, p->inotify_fd, EV_READ | EV_PERSIST, pickup_on_inotify, p);
        event_add(p->ev_inotify, NULL);
    } else {
        log_warn("maildrop %s: inotify unavailable (%s): scanning every second", p->dir,
                 strerror(errno));
        every.tv_sec = 1;
    }
    p->timer = event_new(p->base, -1, EV_PERSIST, pickup_on_timer, p);
    event_add(p->timer, &every);
}

/*
 * At start, before the queue is loaded: a drop file whose message is in the
 * queue already (a crash between the commit and the removal) is removed
 * now, before that message can be delivered and its queue file retired.
 */
static void pickup_dedupe(struct pickup *p)
{
    DIR *d = opendir(p->dir);
    struct dirent *de;
    char id[QUEUE_ID_MAX + 1], qpath[PATH_MAX], path[PATH_MAX];
    struct stat st;
    while (d && (de = readdir(d))) {
        if (maildrop_name_id(de->d_name, id) < 0 || queue_path(p->queue, id, qpath, sizeof qpath) < 0 ||
            stat(qpath, &st) < 0 || str_fmt(path, sizeof path, "%s/%s", p->dir, de->d_name) < 0)
            continue;
        if (unlink(path) == 0)
            log_info("maildrop %s: already queued as %s; drop file removed", de->d_name, id);
    }
    if (d) {
        closedir(d);
        fsio_fsync_dir(p->dir);
    }
}

struct pickup *pickup_new(struct event_base *base, const struct conf *c, struct queue *q,
                          struct diskq *dq, struct sched *s)
{
    if (maildrop_init(c->data_dir) < 0) {
        log_err("maildrop in %s: %s", c->data_dir, strerror(errno));
        return NULL;
    }
    struct pickup *p = xcalloc(1, sizeof *p);
    p->base = base;
    p->conf = conf_hold(c);
    p->queue = q;
    p->dq = dq;
    p->sched = s;
    p->inotify_fd = -1;
    maildrop_path(c->data_dir, p->dir, sizeof p->dir);
    pickup_dedupe(p);
    return p;
}

void pickup_start(struct pickup *p)
{
    pickup_watch(p);
    pickup_scan(p);
}

void pickup_stop(struct pickup *p)
{
    if (!p)
        return;
    p->stopping = 1;
    if (p->ev_inotify)
        event_free(p->ev_inotify);
    if (p->timer)
        event_free(p->timer);
    if (p->inotify_fd >= 0)
        close(p->inotify_fd);
    p->ev_inotify = p->timer = NULL;
    p->inotify_fd = -1;
}

void pickup_set_conf(struct pickup *p, const struct conf *c)
{
    conf_replace(&p->conf, c);
}

void pickup_free(struct pickup *p)
{
    pickup_stop(p);
    if (p)
        conf_release(p->conf);
    free(p);
}
