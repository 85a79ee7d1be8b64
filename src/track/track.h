/*
 * track: the tracking store, what became of every message postino accepted
 * (INTERFACE.md "Authentication and tracking"): an SQLite database,
 * DATA_DIR/track.db, in WAL mode.
 *
 *   - Writing (the server): track_add_message / track_add_event copy the
 *     record into a bounded in-memory queue and return at once; they never
 *     wait for the database, so the event loop and the disk workers may call
 *     them. One writer thread takes everything queued and commits it in one
 *     transaction per batch (synchronous=NORMAL: no fsync per message; the
 *     data is a journal, not mail), and deletes rows older than
 *     track_retention now and then.
 *   - Reading (`postino track`, notice matching): a read-only connection of
 *     its own; in WAL mode readers never block the writer nor it them.
 *
 * The server's feed is process-wide, as the log is: the scheduler records
 * outcomes where it logs them (qmgr/sched.c) through track_feed().
 */
#ifndef POSTINO_TRACK_H
#define POSTINO_TRACK_H
#include <stddef.h>
#include <stdint.h>
#include "lib/buf.h"
#include "mail/conf.h"
#include "mail/envelope.h"
#include "mail/queue.h"

#define TRACK_DB_NAME "track.db"
/* Records waiting for the writer; more are dropped (and counted), never waited for. */
#define TRACK_QUEUE_MAX 100000

struct track;

/* A message taken in (kind "received" for each of its recipients). */
struct track_message {
    const char *queue_id, *message_id, *envid, *sender, *client, *login;
    const char *subject;              /* decoded, for the sender's Web story; may be NULL */
    int64_t arrival;                  /* ms since the epoch */
    const char *const *rcpts;         /* rcpts[0..n_rcpts) */
    size_t n_rcpts;
};

/* One step of one recipient's journey. NULL strings are stored as NULL. */
struct track_event {
    int64_t time;                     /* ms since the epoch */
    const char *queue_id, *rcpt;
    const char *kind;                 /* relayed, delivered, deferred, failed, expired,
                                       * expanded, notice-sent, notice-received,
                                       * deleted (by the operator) */
    const char *host, *address;       /* the next hop (or the reporting hop of a notice) */
    const char *reply;                /* the full reply or diagnostic */
    const char *action, *status;      /* RFC 3464 Action and Status (notices received) */
    const char *reporting_mta;        /* notices received */
};

/* Opens (creates) DATA_DIR/track.db and starts its writer. NULL on error (logged). */
struct track *track_open(const char *data_dir, int64_t retention_ms);
/* Writes what is queued, stops the writer, closes. NULL is fine. */
void track_close(struct track *t);
/* Any thread; copies; never blocks on the database. t NULL: nothing. */
void track_add_message(struct track *t, const struct track_message *m);
void track_add_event(struct track *t, const struct track_event *ev);
/* A reload's track_retention (the next purge uses it). NULL is fine. */
void track_set_retention(struct track *t, int64_t retention_ms);
/* Tests: returns once everything queued before the call is committed. */
void track_flush(struct track *t);
/* Records dropped because the queue was full. */
uint64_t track_dropped(const struct track *t);

/* The server's store (NULL when none): set once at start, cleared at stop. */
void track_feed_set(struct track *t);
struct track *track_feed(void);

/* Reading: a message's journey. */
struct track_row {
    int64_t time;
    char *rcpt, *kind, *host, *address, *reply, *action, *status, *reporting_mta;
};
struct track_journey {
    char *queue_id, *message_id, *envid, *sender, *client, *login, *subject;
    char *rcpts;                      /* one a line */
    int64_t arrival;
    struct track_row *rows;           /* time order */
    size_t n_rows;
};

/*
 * Finds the message whose queue id, Message-ID (with or without <>) or ENVID
 * is key, arrived at or after since_ms (the latest if several), and reads
 * its journey. 1 found, 0 none, -1 error (message in err). Opens the store
 * read-only: works whether the server runs or not.
 */
int track_lookup(const char *data_dir, const char *key, int64_t since_ms,
                 struct track_journey *out, char *err, size_t err_size);
void track_journey_free(struct track_journey *j);
/* The journey of the message with exactly queue id qid. 1 found, 0 none, -1 error. */
int track_read(const char *data_dir, const char *qid, struct track_journey *out, char *err,
               size_t err_size);

/* A message someone sent, for their list (track_sent_list). */
struct track_sent {
    char *queue_id, *subject, *rcpts;  /* rcpts one a line; subject may be NULL */
    int64_t arrival;
};
/*
 * The messages whose login (or, without a login, sender) is addr, newest
 * first: up to limit from offset into *out (free with track_sent_free), the
 * count of all of them in *total. 0, or -1 with err set. A store that does not
 * exist yet has none.
 */
int track_sent_list(const char *data_dir, const char *addr, size_t offset, size_t limit,
                    struct track_sent **out, size_t *n, size_t *total, char *err,
                    size_t err_size);
void track_sent_free(struct track_sent *v, size_t n);

/*
 * For a message from <> to local recipients (worker thread): when it is a
 * delivery-status notice (RFC 3464), matches it to a message sent in the
 * retention window, records the later hop's report, and appends
 * "X-Postino-Track: matched QUEUEID\r\n" or "X-Postino-Track: unmatched\r\n"
 * to fields; unmatched with reject_unmatched_dsn on writes the 550 5.7.1
 * reply into refuse. Does nothing for other messages or when t is NULL.
 */
void track_notice_check(struct track *t, const struct conf *c, const struct envelope *e,
                        const struct queue_content *m, struct buf *fields, char *refuse,
                        size_t size);

/* A queue_rewrite keep() for a notice being checked: 0 for an X-Postino-Track field that
 * came with it (only this host's verdict may reach the mailbox). */
int track_keep_field(const char *field, size_t n, void *unused);

#endif
