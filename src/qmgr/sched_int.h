/*
 * sched_int: internal state of the scheduler, shared by sched.c (the
 * in-memory queue, timer, durable records), sched_local.c (Maildir
 * deliveries on the disk workers) and sched_remote.c (deliveries through
 * the SMTP client). A message with work in flight (busy > 0) belongs to
 * that work: nothing else reads or changes its recipients meanwhile.
 */
#ifndef POSTINO_SCHED_INT_H
#define POSTINO_SCHED_INT_H
#include "qmgr/sched.h"
#include "lib/log.h"
#include "mail/maildir.h"
#include "smtpc/smtp_client.h"

struct qmsg {
    struct envelope env;
    struct qmsg *prev, *next;   /* all messages */
    struct qmsg *rnext;         /* ready list (waiting for a local-delivery slot) */
    unsigned busy;              /* jobs in flight */
    int ready;
    unsigned char *changed;     /* per recipient: new state not yet recorded on disk */
    size_t changed_cap;
    size_t disk_rcpts;          /* recipients the queue file knows (later ones: "rcpt" records) */
};

struct sched {
    struct event_base *base;
    const struct conf *conf;    /* held; the loop thread's, replaced by sched_set_conf */
    struct queue *queue;
    struct diskq *dq;
    struct smtpc *smtpc;        /* NULL: remote recipients wait */
    struct qmsg *all;
    struct qmsg *ready_head, *ready_tail;
    size_t count;
    unsigned inflight;          /* local jobs */
    int stopping;
    struct event *tick;
};

/* A disk job of the scheduler: local delivery (write, publish, record) or record only. */
struct sched_job {
    struct diskq_job job;
    struct sched *s;
    const struct conf *conf;    /* held: the settings of the job, whatever a reload does */
    struct qmsg *m;
    struct maildir_msg *out;    /* local delivery: per recipient, the copy being written */
    size_t n_out;               /* recipients when the job started (out has room for them) */
    int record_fd;              /* queue file opened to append the states */
    off_t record_old;           /* its length before that append */
    int removed;                /* the queue file was retired */
    struct sched_notice *notices; /* notice job: the notices being queued */
    size_t n_notices;
};

struct sched_job *sched_job_new(struct sched *s, struct qmsg *m);
void sched_job_free(struct sched_job *sj);
/* The record stage (worker thread): appends changed states, or retires the file when done. */
void sched_record_stage(struct diskq_job *j);
/* After a job's stages: forget what was recorded, remove a retired message. 1 if m is gone. */
int sched_job_recorded(struct sched_job *sj);

int64_t sched_now(void);
/*
 * Logs recipient i's outcome: "ID: to=<R> [relay=H ]status=S[ (REPLY)][ TEXT]" with, in
 * json, f's event, the enhanced status code (f.dsn, else the one starting f.reply, else
 * the one of full) and the delay since arrival. f.queue_id and f.to are filled here.
 */
void sched_log_rcpt(enum log_level lvl, const struct envelope *e, size_t i, struct log_fields f,
                    const char *full, const char *text, int64_t now);
/* Makes room in m->changed for every recipient (notices to postmaster may add one). */
void sched_changed_fit(struct qmsg *m);
/* 1 if recipient r waits and is due; *remote tells where it goes. */
int sched_due(const struct sched *s, const struct envelope *e, size_t i, int64_t now, int *remote);
/* Sets recipient i's state and marks it for the next record; c: the settings of the
 * work that decided it (the job's on a worker, the scheduler's in the loop). */
void sched_outcome(const struct conf *c, struct qmsg *m, size_t i, enum rcpt_status st,
                   const char *reply);
/* A temporary failure: next attempt after the backoff, or failed 4.4.7 past queue_lifetime. */
void sched_defer(const struct conf *c, struct qmsg *m, size_t i, const char *why, int64_t now);
/* Writes the changed states durably (or retires the file when done), then kicks m again. */
void sched_record_start(struct sched *s, struct qmsg *m);
/* A job of m finished (busy--); when none is left, records or kicks. */
void sched_job_done(struct sched *s, struct qmsg *m);
void sched_kick(struct sched *s, struct qmsg *m);
#define SCHED_MAX_LOCAL 512   /* local delivery jobs in flight */

/* sched_local.c */
void sched_local_start(struct sched *s, struct qmsg *m);
/* A local job ended: frees its slot and starts waiting ones. */
void sched_local_finished(struct sched *s);
/* sched_notice.c: 1 if m owes notices now; starts the job that queues them. */
int sched_notice_owed(const struct conf *c, const struct qmsg *m, int64_t now);
void sched_notice_start(struct sched *s, struct qmsg *m);
void sched_notice_free(struct sched_job *sj);
/* A notice (null sender) failed for recipient i: it goes to the postmaster instead. */
void sched_notice_to_postmaster(const struct conf *c, struct qmsg *m, size_t i);

/* sched_remote.c: starts every due remote delivery of m; returns how many. */
unsigned sched_remote_start(struct sched *s, struct qmsg *m, int64_t now);

#endif
