/*
 * diskq: worker threads with batched directory fsyncs (see diskq.h).
 * Completions go back to the event loop through an eventfd.
 */
#include "net/diskq.h"
#include "lib/alloc.h"
#include "lib/fsio.h"
#include "lib/log.h"
#include "lib/str.h"
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#define DISKQ_BATCH 256
#define DISKQ_MAX_WORKERS 8

struct diskq_list {
    struct diskq_job *head, *tail;
};

struct diskq {
    pthread_mutex_t lock;
    pthread_cond_t cond;
    struct diskq_list todo[2];
    struct diskq_list finished;
    int stopping;
    unsigned pending;
    int efd;
    struct event *ev;
    pthread_t threads[DISKQ_MAX_WORKERS];
    int n_threads;
    int batch_max;         /* jobs a worker takes at once (1 for a pool of slow jobs) */
    int workers;           /* threads to start: at once, or (a pool) at the first job */
};

static void diskq_push(struct diskq_list *l, struct diskq_job *j)
{
    j->next = NULL;
    if (l->tail)
        l->tail->next = j;
    else
        l->head = j;
    l->tail = j;
}

int diskq_job_sync_dir(struct diskq_job *j, const char *dir)
{
    for (int i = 0; i < j->n_dirs; i++)
        if (strcmp(j->dirs[i], dir) == 0)
            return 0;
    if (j->n_dirs == DISKQ_MAX_DIRS || str_copy(j->dirs[j->n_dirs], PATH_MAX, dir) < 0)
        return -1;
    j->n_dirs++;
    return 0;
}

void diskq_job_sync_fd(struct diskq_job *j, int fd)
{
    if (j->n_fds == j->cap_fds) {
        j->cap_fds = j->cap_fds ? j->cap_fds * 2 : 4;
        j->fds = xrealloc(j->fds, (size_t)j->cap_fds * sizeof *j->fds);
    }
    j->fds[j->n_fds++] = fd;
}

void diskq_job_release(struct diskq_job *j)
{
    free(j->fds);
    j->fds = NULL;
    j->n_fds = j->cap_fds = 0;
}

static void diskq_fail(struct diskq_job *j, int err)
{
    if (!j->failed) {
        j->failed = 1;
        j->err = err;
    }
}

/*
 * fsyncs every fd named by the batch's jobs. With delayed allocation a file's
 * blocks are only allocated at writeback, so fsyncing N fresh files one by
 * one would cost N journal commits. Starting writeback of all of them first
 * (sync_file_range WRITE allocates the blocks) lets the first fsync commit
 * the journal for the whole batch; the other fsyncs then only wait for their
 * own data. Each file still gets its own fsync: durability does not depend
 * on the file system's ordering.
 */
static void diskq_sync_fds(struct diskq_job **batch, int n)
{
    for (int i = 0; i < n; i++)
        for (int k = 0; k < batch[i]->n_fds; k++)
            if (!batch[i]->failed)
                sync_file_range(batch[i]->fds[k], 0, 0, SYNC_FILE_RANGE_WRITE);
    for (int i = 0; i < n; i++) {
        for (int k = 0; k < batch[i]->n_fds; k++)
            if (!batch[i]->failed && fsync(batch[i]->fds[k]) < 0) {
                log_err("fsync: %s", strerror(errno));
                diskq_fail(batch[i], errno);
            }
        batch[i]->n_fds = 0;
    }
}

/* 1 if dir was already named by an earlier job of the batch. */
static int diskq_dir_seen(struct diskq_job **batch, int i, const char *dir)
{
    for (int k = 0; k < i; k++)
        for (int e = 0; e < batch[k]->n_dirs; e++)
            if (strcmp(batch[k]->dirs[e], dir) == 0)
                return 1;
    return 0;
}

/* fsyncs every distinct directory named by the jobs; a failure fails its jobs. */
static void diskq_sync_dirs(struct diskq_job **batch, int n)
{
    for (int i = 0; i < n; i++) {
        for (int d = 0; d < batch[i]->n_dirs; d++) {
            const char *dir = batch[i]->dirs[d];
            if (diskq_dir_seen(batch, i, dir) || fsio_fsync_dir(dir) == 0)
                continue;
            int err = errno;
            log_err("fsync %s: %s", dir, strerror(err));
            for (int k = i; k < n; k++)
                for (int e = 0; e < batch[k]->n_dirs; e++)
                    if (strcmp(batch[k]->dirs[e], dir) == 0)
                        diskq_fail(batch[k], err);
        }
    }
    for (int i = 0; i < n; i++)
        batch[i]->n_dirs = 0;
}

enum diskq_stage { DISKQ_WRITE, DISKQ_PUBLISH, DISKQ_RECORD };
typedef void diskq_fn(struct diskq_job *j);

static diskq_fn *diskq_stage_fn(const struct diskq_job *j, enum diskq_stage stage)
{
    return stage == DISKQ_WRITE ? j->write : stage == DISKQ_PUBLISH ? j->publish : j->record;
}

/* Runs one stage for every job of the batch that has it and has not failed. */
static void diskq_stage(struct diskq_job **batch, int n, enum diskq_stage stage)
{
    for (int i = 0; i < n; i++) {
        diskq_fn *fn = diskq_stage_fn(batch[i], stage);
        if (fn && !batch[i]->failed)
            fn(batch[i]);
    }
    diskq_sync_fds(batch, n);
    diskq_sync_dirs(batch, n);
}

/* Takes up to batch_max jobs, urgent ones first. Called with the lock held. */
static int diskq_take(struct diskq *q, struct diskq_job **batch)
{
    int n = 0;
    for (int p = 0; p < 2 && n < q->batch_max; p++) {
        if (n > 0 && p == 1)
            break; /* never mix: a commit batch must not wait for deliveries */
        while (q->todo[p].head && n < q->batch_max) {
            batch[n++] = q->todo[p].head;
            q->todo[p].head = q->todo[p].head->next;
        }
        if (!q->todo[p].head)
            q->todo[p].tail = NULL;
    }
    return n;
}

static void diskq_run_batch(struct diskq *q, struct diskq_job **batch, int n)
{
    diskq_stage(batch, n, DISKQ_WRITE);
    diskq_stage(batch, n, DISKQ_PUBLISH);
    diskq_stage(batch, n, DISKQ_RECORD);
    for (int i = 0; i < n; i++)
        if (batch[i]->failed && batch[i]->undo)
            batch[i]->undo(batch[i]);
    pthread_mutex_lock(&q->lock);
    for (int i = 0; i < n; i++)
        diskq_push(&q->finished, batch[i]);
    pthread_mutex_unlock(&q->lock);
    uint64_t one = 1;
    ssize_t w = write(q->efd, &one, sizeof one);
    (void)w;
}

static void *diskq_worker(void *arg)
{
    struct diskq *q = arg;
    struct diskq_job *batch[DISKQ_BATCH];
    pthread_mutex_lock(&q->lock);
    for (;;) {
        int n = diskq_take(q, batch);
        if (n == 0) {
            if (q->stopping)
                break;
            pthread_cond_wait(&q->cond, &q->lock);
            continue;
        }
        pthread_mutex_unlock(&q->lock);
        diskq_run_batch(q, batch, n);
        pthread_mutex_lock(&q->lock);
    }
    pthread_mutex_unlock(&q->lock);
    return NULL;
}

/* In the loop thread: runs done() of every finished job. */
static void diskq_on_wake(evutil_socket_t fd, short what, void *arg)
{
    struct diskq *q = arg;
    uint64_t v;
    ssize_t r = read(fd, &v, sizeof v);
    (void)r;
    (void)what;
    pthread_mutex_lock(&q->lock);
    struct diskq_job *j = q->finished.head;
    q->finished.head = q->finished.tail = NULL;
    pthread_mutex_unlock(&q->lock);
    while (j) {
        struct diskq_job *next = j->next;
        q->pending--;
        j->done(j);
        j = next;
    }
}

/* Starts the worker threads (those not running yet). */
static void diskq_start(struct diskq *q)
{
    while (q->n_threads < q->workers &&
           pthread_create(&q->threads[q->n_threads], NULL, diskq_worker, q) == 0)
        q->n_threads++;
}

struct diskq *diskq_new(struct event_base *base, int workers)
{
    struct diskq *q = diskq_new_pool(base, workers, DISKQ_BATCH);
    if (q)
        diskq_start(q);
    return q;
}

struct diskq *diskq_new_pool(struct event_base *base, int workers, int batch_max)
{
    struct diskq *q = xcalloc(1, sizeof *q);
    q->batch_max = batch_max < 1 ? 1 : batch_max > DISKQ_BATCH ? DISKQ_BATCH : batch_max;
    pthread_mutex_init(&q->lock, NULL);
    pthread_cond_init(&q->cond, NULL);
    q->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (q->efd < 0) {
        log_err("eventfd: %s", strerror(errno));
        free(q);
        return NULL;
    }
    q->ev = event_new(base, q->efd, EV_READ | EV_PERSIST, diskq_on_wake, q);
    event_add(q->ev, NULL);
    q->workers = workers > DISKQ_MAX_WORKERS ? DISKQ_MAX_WORKERS : workers;
    return q; /* a pool's threads start with its first job (diskq_submit) */
}

void diskq_submit(struct diskq *q, struct diskq_job *j, enum diskq_prio prio)
{
    j->n_dirs = 0;
    j->n_fds = 0;
    j->failed = 0;
    j->err = 0;
    if (q->n_threads < q->workers)
        diskq_start(q); /* a pool's first job; or a thread that could not start before */
    q->pending++;
    pthread_mutex_lock(&q->lock);
    diskq_push(&q->todo[prio], j);
    pthread_cond_signal(&q->cond);
    pthread_mutex_unlock(&q->lock);
}

unsigned diskq_pending(const struct diskq *q)
{
    return q->pending;
}

void diskq_free(struct diskq *q)
{
    if (!q)
        return;
    pthread_mutex_lock(&q->lock);
    struct diskq_job *dropped = q->todo[DISKQ_NORMAL].head;
    q->todo[DISKQ_NORMAL].head = q->todo[DISKQ_NORMAL].tail = NULL;
    q->stopping = 1;
    pthread_cond_broadcast(&q->cond);
    pthread_mutex_unlock(&q->lock);
    for (int i = 0; i < q->n_threads; i++)
        pthread_join(q->threads[i], NULL);
    for (struct diskq_job *j = dropped; j;) {
        struct diskq_job *next = j->next;
        j->failed = 1;
        j->err = ECANCELED;
        diskq_push(&q->finished, j);
        j = next;
    }
    diskq_on_wake(q->efd, EV_READ, q); /* run the remaining done() callbacks */
    event_free(q->ev);
    close(q->efd);
    pthread_mutex_destroy(&q->lock);
    pthread_cond_destroy(&q->cond);
    free(q);
}
