/*
 * diskq: the disk workers. Slow, blocking file work (fsync, rename, Maildir
 * writes) runs on a few threads so the event loop never waits on the disk.
 * Jobs are taken in batches and each directory touched by a batch is
 * fsync'd once for the whole batch: that is postino's group commit (one
 * fsync round serves every session that finished DATA meanwhile).
 *
 * A job has up to two phases: phase1 runs, then the batch's phase-1
 * directories are fsync'd, then phase2 runs, then the phase-2 directories
 * are fsync'd; done() is then called in the event-loop thread. Commit jobs
 * go before delivery jobs.
 */
#ifndef POSTINO_DISKQ_H
#define POSTINO_DISKQ_H
#include <limits.h>
#include <event2/event.h>

#define DISKQ_MAX_DIRS 8

enum diskq_prio { DISKQ_URGENT = 0, DISKQ_NORMAL = 1 };

struct diskq_job {
    struct diskq_job *next;
    /* set by the submitter */
    void (*phase1)(struct diskq_job *j);
    void (*phase2)(struct diskq_job *j);   /* may be NULL */
    void (*done)(struct diskq_job *j);     /* in the loop thread */
    void *ctx;
    /* set by the phases: directories to fsync after the phase, and the outcome */
    char dirs[DISKQ_MAX_DIRS][PATH_MAX];
    int n_dirs;
    int failed;            /* the job failed (err holds errno) */
    int err;
};

struct diskq;

struct diskq *diskq_new(struct event_base *base, int workers);
void diskq_submit(struct diskq *q, struct diskq_job *j, enum diskq_prio prio);
/* Adds dir to the job's fsync list (deduplicated); -1 if the list is full. */
int diskq_job_sync_dir(struct diskq_job *j, const char *dir);
/* Number of jobs submitted and not yet done. */
unsigned diskq_pending(const struct diskq *q);
/* Finishes urgent jobs, drops normal jobs not started (their done() gets failed=ECANCELED), joins the threads. */
void diskq_free(struct diskq *q);

#endif
