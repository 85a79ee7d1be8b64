/*
 * diskq: the disk workers. Slow, blocking file work (fsync, rename, Maildir
 * writes) runs on a few threads so the event loop never waits on the disk.
 * Jobs are taken in batches and run in stages, each stage for every job of
 * the batch before the next begins:
 *
 *   write   create/write files, no fsync; name the fds that must be synced
 *   (fsync of every named fd: the first one commits the file system journal
 *    for the whole batch, the rest find their data already on disk)
 *   publish rename into place; name the directories to sync
 *   (fsync of every distinct directory, once per batch)
 *   record  append state / unlink; name fds and directories again
 *   (fsync of those)
 *   done    back in the event-loop thread
 *
 * That is postino's group commit: one fsync round serves every session that
 * finished DATA meanwhile, and a batch costs a few journal commits however
 * many messages it holds. A failed fsync fails the jobs that named it and
 * skips their later stages; a failed job's undo then runs on the worker.
 * Commit jobs go before delivery jobs.
 */
#ifndef POSTINO_DISKQ_H
#define POSTINO_DISKQ_H
#include <limits.h>
#include <event2/event.h>

#define DISKQ_MAX_DIRS 8

enum diskq_prio { DISKQ_URGENT = 0, DISKQ_NORMAL = 1 };

struct diskq_job {
    struct diskq_job *next;
    /* set by the submitter; any stage may be NULL but done */
    void (*write)(struct diskq_job *j);
    void (*publish)(struct diskq_job *j);
    void (*record)(struct diskq_job *j);
    void (*done)(struct diskq_job *j);     /* in the loop thread */
    /* optional, worker thread: the job failed (a write or an fsync); undo what its
     * stages left on disk (e.g. cut an appended record whose fsync failed) */
    void (*undo)(struct diskq_job *j);
    void *ctx;
    /* named by the stages: what to fsync after the stage */
    int *fds;
    int n_fds, cap_fds;
    char dirs[DISKQ_MAX_DIRS][PATH_MAX];
    int n_dirs;
    int failed;            /* the job failed (err holds errno); later stages are skipped */
    int err;
};

struct diskq;

struct diskq *diskq_new(struct event_base *base, int workers);
/*
 * A pool whose workers take at most batch_max jobs at a time. With batch_max 1
 * it is a plain worker pool for slow, blocking work that is not disk work (the
 * DNS-bound message checks): one slow job never holds others up behind it in a
 * batch. Such jobs usually have only a write stage and name nothing to sync.
 * Its threads start with its first job: a server whose mail never needs the
 * pool spends no memory on it.
 */
struct diskq *diskq_new_pool(struct event_base *base, int workers, int batch_max);
void diskq_submit(struct diskq *q, struct diskq_job *j, enum diskq_prio prio);
/* Names fd to be fsync'd after the current stage (the job still owns and closes it). */
void diskq_job_sync_fd(struct diskq_job *j, int fd);
/* Names dir to be fsync'd after the current stage; -1 if the list is full (sync it yourself). */
int diskq_job_sync_dir(struct diskq_job *j, const char *dir);
/* Frees the job's fd list (call from done or before reuse). */
void diskq_job_release(struct diskq_job *j);
/* Number of jobs submitted and not yet done. */
unsigned diskq_pending(const struct diskq *q);
/* Finishes urgent jobs, drops normal jobs not started (their done() gets failed=ECANCELED), joins the threads. */
void diskq_free(struct diskq *q);

#endif
