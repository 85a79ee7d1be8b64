/*
 * queue_list: the queue listing, the one formatter behind `postino queue
 * list`, `sendmail -bp` and mailq, whether the command reads the queue files
 * itself or a local user gets the listing from the server's read-only socket
 * (qmgr/control.c): both run this code on the same files, so the output is
 * the same. Human form laid out like Postfix's mailq; --json one object per
 * message (INTERFACE.md "Commands"). Reads files only (blocking: the server
 * runs it on a disk worker); no sockets, no event loop.
 */
#ifndef POSTINO_QUEUE_LIST_H
#define POSTINO_QUEUE_LIST_H
#include <stddef.h>
#include <stdint.h>
#include "lib/buf.h"
#include "mail/envelope.h"

struct queue_listing {
    struct envelope *msgs;   /* oldest first (arrival, then id) */
    size_t n, cap;
    size_t unreadable;       /* damaged files still in the queue (the server moves them at start) */
};

/* Loads every message of DATA_DIR/queue (none if it does not exist); a file removed
 * meanwhile or unreadable is skipped. -1 with errno (EACCES: not this user's queue). */
int queue_listing_load(const char *data_dir, struct queue_listing *l);
void queue_listing_free(struct queue_listing *l);
/* Appends the listing of l to out: human (json 0) or one JSON object per line. */
void queue_listing_format(const struct queue_listing *l, int json, struct buf *out);
/*
 * The damaged files, never silently left out: "PREFIXN corrupt queue files
 * in DATA_DIR/corrupt" (moved aside, mail/quarantine.h) and the unreadable
 * ones l met still in the queue; nothing when there are none.
 */
void queue_listing_damage(const char *data_dir, const struct queue_listing *l,
                          const char *prefix, struct buf *b);
/*
 * Loads, formats and frees: the whole output of `queue list`. The damage
 * lines end the human listing; with json they go to note ("postino: "
 * lines, for standard error: standard output stays one object a line),
 * unless note is NULL. -1 with errno.
 */
int queue_list_format(const char *data_dir, int json, struct buf *out, struct buf *note);
/* "2026-12-05T08:06:00Z" for ms since the epoch. */
void queue_list_time(int64_t ms, char *out, size_t size);

#endif
