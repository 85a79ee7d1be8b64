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
#include "lib/slotmap.h"
#include "lib/strmap.h"
#include "mail/parking.h"
#include "mail/timerq.h"

/*
 * A message the scheduler works on now ("hot"): its whole envelope, loaded.
 * Hot messages are few (SCHED_ACTIVE_MAX): a message with nothing to do now
 * is parked (sched_park) back to its slot alone and read from its queue file
 * again when it is due.
 */
struct qmsg {
    struct envelope env;
    uint32_t slot;              /* its resident record */
    struct qmsg *rnext;         /* ready list (waiting for a local-delivery slot) */
    unsigned busy;              /* jobs in flight */
    int ready;
    unsigned char *changed;     /* per recipient: new state not yet recorded on disk */
    size_t changed_cap;
    size_t disk_rcpts;          /* recipients the queue file knows (later ones: "rcpt" records) */
};

/* What a slot's flags say. */
enum qslot_flag {
    QSLOT_USED = 1,             /* a queued message */
    QSLOT_HOLD = 2,             /* held by the operator: no timer entry */
    QSLOT_FLUSH = 4,            /* flushed while parked: deferred recipients due at load */
    QSLOT_LOADING = 8,          /* its envelope is being read by the loader */
    QSLOT_WAITING = 16,         /* in the due list, waiting for room among the hot */
    QSLOT_GONE = 32,            /* deleted while loading or waiting: freed when that ends */
    QSLOT_NOTICE = 64,          /* its due time is a notice's (never skipped for a dead hop) */
};

#define SCHED_DEST_NONE UINT32_MAX  /* no single next hop: local, mixed, or unknown */

/*
 * What stays resident for every queued message, hot or parked (56 bytes;
 * with its timer entry and index cell about 84 bytes a message).
 */
struct qslot {
    char id[QUEUE_ID_MAX + 1];
    uint8_t flags;              /* enum qslot_flag */
    uint32_t dest;              /* parked: the one next hop of its waiting recipients */
    uint32_t n_pending;         /* parked: waiting recipients never tried (metrics) */
    uint32_t n_deferred;        /* parked: waiting recipients tried before */
    int64_t arrival;
    struct qmsg *hot;           /* loaded, or NULL (parked) */
};

/* A next hop that parked messages wait for (interned: the slots keep its number). */
struct sched_dest {
    char *key;                  /* route_hop_key, or NULL when the entry is free */
    uint32_t refs;              /* parked slots naming it */
};

#define SCHED_SLOT_PAGE 4096u   /* slots are allocated by pages: their addresses never move */

struct sched {
    struct event_base *base;
    const struct conf *conf;    /* held; the loop thread's, replaced by sched_set_conf */
    struct queue *queue;
    struct diskq *dq;
    struct diskq *loader;       /* reads envelopes and scans the queue, apart from commits */
    struct smtpc *smtpc;        /* NULL: remote recipients wait */
    struct qmsg *ready_head, *ready_tail;
    unsigned inflight;          /* local jobs */
    int stopping;
    /* resident records */
    struct qslot **pages;
    uint32_t n_pages, n_slots;  /* slots ever used (the next new one) */
    uint32_t *free_slots;
    uint32_t n_free, cap_free;
    struct slotmap index;       /* queue id -> slot */
    size_t count;               /* queued messages */
    size_t n_hot;
    /* time */
    struct timerq tq;           /* parked slots by due time */
    struct event *wake;
    int64_t wake_at;            /* when wake fires, INT64_MAX if not armed */
    /* due and waiting for room among the hot (a ring of slots) */
    uint32_t *due;
    size_t due_head, due_len, due_cap;
    unsigned loads;             /* load jobs in flight */
    /* next hops of parked messages */
    struct sched_dest *dests;
    uint32_t n_dests, cap_dests;
    uint32_t *free_dests;
    uint32_t n_free_dests;
    struct strmap dest_map;     /* key -> its number plus one */
    /* the start-up scan */
    int scan_dir;               /* the next subdirectory to read */
    int scan_done;              /* subdirectories read, QUEUE_SUBDIRS when the scan is over */
    int64_t scan_started, scan_clean_before;
    struct event *scan_retry;   /* reads failed subdirectories again */
    uint8_t scan_retry_dirs[QUEUE_SUBDIRS / 8];
    size_t scan_loaded;
};

/* sched_slots.c: the resident records, the timer and the due list. */
struct qslot *sched_slot(const struct sched *s, uint32_t slot);
/* A new slot for id (not queued yet), in the index. */
uint32_t sched_slot_new(struct sched *s, const char *id, int64_t arrival);
/* The slot of queue id, or SLOTMAP_NONE. */
uint32_t sched_slot_find(const struct sched *s, const char *id);
/* Forgets a slot (out of the index, the timer and its next hop). */
void sched_slot_free(struct sched *s, uint32_t slot);
/* A parked slot is due at `due`. */
void sched_slot_due(struct sched *s, uint32_t slot, int64_t due);
/* Applies p to a parked slot: counts, next hop, hold, timer. */
void sched_slot_park(struct sched *s, uint32_t slot, const struct parking *p);
/* A hot message with nothing to do now goes back to its slot alone. 1 if parked. */
int sched_park(struct sched *s, struct qmsg *m);
/* A hot message leaves (done): its slot is freed. */
void sched_unlink(struct sched *s, struct qmsg *m);
/* Interned next hops. */
const char *sched_dest_key(const struct sched *s, uint32_t d);
void sched_slots_init(struct sched *s);
void sched_slots_free(struct sched *s);
/* Arms the wake-up for the earliest due slot. */
void sched_arm(struct sched *s);
/* Puts a due slot on the due list (it waits to be loaded). */
void sched_due_push(struct sched *s, uint32_t slot);
uint32_t sched_due_pop(struct sched *s);

/* sched_load.c: reading envelopes back, and the start-up scan. */
/* Starts load jobs for due slots while there is room among the hot. */
void sched_load_pump(struct sched *s);
/* Reads queue id's envelope now, on the calling thread (operator commands). 0 or -1. */
int sched_load_now(struct sched *s, const char *id, struct envelope *e);
/* A new hot message for a loaded envelope in slot (contents moved). */
struct qmsg *sched_hot_new(struct sched *s, uint32_t slot, struct envelope *e);

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
/* 1 if some recipient's new state is not recorded on disk yet. */
int sched_changed_any(const struct qmsg *m);
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
#define SCHED_ACTIVE_MAX 10000 /* hot messages (loaded envelopes) at most */
#define SCHED_LOADERS 2         /* loader threads: reading files keeps two disk requests going */

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
