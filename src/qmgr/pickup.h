/*
 * pickup: takes local submissions (`postino sendmail`) from the drop
 * directory DATA_DIR/maildrop (mail/maildrop.h) into the queue. The
 * directory is scanned at start, whenever a file is renamed into it
 * (inotify), and every PICKUP_RESCAN_S seconds in case a wake-up was
 * missed. Each drop file is checked like network input, copied into a new
 * queue file under the id its name carries (with a Received: header naming
 * the submitting uid, and aliases expanded as at SMTP DATA), committed
 * durably by the disk workers, and only then removed. A crash in between
 * leaves both files: the next pickup finds the queue file under that id and
 * only removes the drop file, so no message is lost or doubled. A file that
 * fails the checks is renamed NAME.bad and logged, never silently dropped.
 */
#ifndef POSTINO_PICKUP_H
#define POSTINO_PICKUP_H
#include <event2/event.h>
#include "mail/conf.h"
#include "mail/queue.h"
#include "net/diskq.h"
#include "qmgr/sched.h"

#define PICKUP_RESCAN_S 10

struct pickup;

/* Creates the drop directory if needed and removes drop files already queued
 * (call before sched_load). NULL on failure (logged). */
struct pickup *pickup_new(struct event_base *base, const struct conf *c, struct queue *q,
                          struct diskq *dq, struct sched *s);
/* Starts watching and the first scan (after sched_load, so nothing is loaded twice). */
void pickup_start(struct pickup *p);
/* A reload: drop files picked up from now on are queued under c (held). */
void pickup_set_conf(struct pickup *p, const struct conf *c);
/* Stops watching and scanning; jobs in flight still finish through the disk workers. */
void pickup_stop(struct pickup *p);
/* Frees it: only after diskq_free, which runs the last jobs' completions. */
void pickup_free(struct pickup *p);

#endif
