/*
 * metrics: postino's own counters and histograms (the families of
 * `listen metrics`, postino.conf(5) "METRICS") and their rendering in the
 * Prometheus text format (lib/prom.h). Counters are relaxed atomics and the
 * histograms take a lock: local deliveries record their outcome on the disk
 * workers, everything else on the event-loop thread. The queue gauges are
 * not kept here: the scrape computes them (qmgr) and passes them to
 * metrics_format. No sockets, no files.
 */
#ifndef POSTINO_METRICS_H
#define POSTINO_METRICS_H
#include <stddef.h>
#include <stdint.h>
#include "lib/buf.h"
#include "mail/conf.h"
#include "mail/envelope.h"
#include "mail/notify.h"

#define METRICS_SERVICES (LISTEN_POP3S + 1)   /* the mail listeners, by enum listen_kind */

enum metrics_qstate { METRICS_Q_PENDING, METRICS_Q_DEFERRED, METRICS_Q_HELD, METRICS_N_QSTATE };

/* What the scrape computes from the live server. */
struct metrics_gauges {
    uint64_t queue_messages[METRICS_N_QSTATE];
    uint64_t queue_recipients[METRICS_N_QSTATE];
    double oldest_age_seconds;                  /* 0 when the queue is empty */
};

/* The hooks: one call where the event happens. */
/* A client connection accepted (counted, and open until metrics_disconnect). */
void metrics_connect(enum listen_kind service);
void metrics_disconnect(enum listen_kind service);
/* An SMTP reply (its text, or its start): when its last line is a final one ("DDD " or
 * "DDD\r"), it counts by class 2xx, 4xx, 5xx; continuation lines alone do not. */
void metrics_smtp_reply(const char *text);
/* A message committed: its size, and the seconds from the end of DATA to the 250. */
void metrics_received(uint64_t bytes, double commit_seconds);
/* A recipient's new state; delivered and relayed observe the delay since arrival (ms). */
void metrics_outcome(enum rcpt_status status, int64_t since_arrival_ms);
/* A notice queued. */
void metrics_notice(enum notify_kind kind);
/* A monotonic clock in seconds, for the commit time. */
double metrics_now(void);

/* Appends every family to out. g NULL: gauges left out. */
void metrics_format(const struct metrics_gauges *g, struct buf *out);
/* Sets every counter and histogram back to zero (tests). */
void metrics_reset(void);

#endif
