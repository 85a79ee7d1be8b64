/*
 * sched: the scheduler of the queue. It hands due recipients to local
 * delivery (Maildir, on the disk workers), records each outcome durably in
 * the queue file, retries temporary failures with exponential backoff
 * between retry_min and retry_max, fails what outlives queue_lifetime
 * (4.4.7), and removes a message once no recipient waits. Remote recipients
 * go to the SMTP client (smtpc/smtp_client), grouped by next hop.
 *
 * Its cost follows the work, not the backlog: every queued message keeps a
 * small resident record (id, next due time, next hop, counts), a message
 * with nothing to do now is parked (its envelope freed) on a timer heap
 * that wakes the loop only when something is due, and its envelope is read
 * back from its queue file then. At most SCHED_ACTIVE_MAX envelopes are in
 * memory. At start the queue is read in the background while mail is
 * taken. Runs in the event-loop thread; a message with a job in flight
 * belongs to that job until its done() runs.
 */
#ifndef POSTINO_SCHED_H
#define POSTINO_SCHED_H
#include <event2/event.h>
#include "mail/conf.h"
#include "mail/envelope.h"
#include "mail/queue.h"
#include "net/diskq.h"

struct sched;

struct sched *sched_new(struct event_base *base, const struct conf *c, struct queue *q,
                        struct diskq *dq);
/* A reload: work started from now on runs under c (held); jobs in flight keep theirs.
 * Queued messages stay as they are (their recipients are routed again when due). */
void sched_set_conf(struct sched *s, const struct conf *c);
/* Starts reading the queue in the background (at start-up): each message is
 * scheduled as its subdirectory is read, while the server takes mail. before
 * (or NULL) runs first on a loader thread and may block: the files may still be
 * being given to run_as (cmd/privilege's walker). 0. */
int sched_load(struct sched *s, int (*before)(void *arg), void *arg);
/* 1 once the start-up scan has read the whole queue. */
int sched_loaded(const struct sched *s);
/* Takes over a just-committed envelope (its contents are moved; *e is left empty). */
void sched_add(struct sched *s, struct envelope *e);
struct smtpc;
/* Remote recipients are handed to this client (without one they wait). */
void sched_set_client(struct sched *s, struct smtpc *sc);
/* Starts no new work (shutdown); outcomes still arriving are recorded. */
void sched_stop(struct sched *s);
/* Makes the deferred recipients of message id (NULL: of every message) due now.
 * Returns the number of messages that had any, -1 if there is no message id. */
long sched_flush(struct sched *s, const char *id);
/* Freezes (hold 1) or unfreezes a message, durably. 0, -1 no such message, -2 I/O error. */
int sched_hold(struct sched *s, const char *id, int hold);
/* Removes a message from the queue. 0, -1 no such message, -2 I/O error,
 * -3 a delivery of it is in flight right now (try again in a moment). */
int sched_delete(struct sched *s, const char *id);
/* One recipient's state now, as the scheduler holds it (sched_rcpt_states). */
struct sched_rcpt_state {
    char *addr;
    enum rcpt_status status;
    int64_t next_attempt;       /* ms since the epoch; 0 = as soon as possible */
    char *last_reply;           /* or NULL */
    char *remote_mta;           /* or NULL */
    int busy;                   /* a delivery of the message is under way now */
};
/* Copies the recipients' state of message id (loop thread): *out (n of them, to free
 * with sched_rcpt_states_free), 0; or -1 when the message is not in the queue. */
int sched_rcpt_states(const struct sched *s, const char *id, struct sched_rcpt_state **out,
                      size_t *n);
void sched_rcpt_states_free(struct sched_rcpt_state *v, size_t n);
/* Messages in the queue (all of them have a resident record). */
size_t sched_count(const struct sched *s);
void sched_free(struct sched *s);

struct metrics_gauges;
/* sched_metrics.c: the queue gauges now (a metricsd_gauges_fn: sched is a struct sched *). */
void sched_metrics_gauges(void *sched, struct metrics_gauges *g);

#endif
