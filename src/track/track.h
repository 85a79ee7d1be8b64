/*
 * track: the tracking store, what became of every message postino accepted
 * (INTERFACE.md "Authentication and tracking"). This header is the part the
 * SMTP server needs at the end of DATA: matching an incoming delivery-status
 * notice to a message sent earlier.
 */
#ifndef POSTINO_TRACK_H
#define POSTINO_TRACK_H
#include <stddef.h>
#include "lib/buf.h"
#include "mail/conf.h"
#include "mail/envelope.h"
#include "mail/queue.h"

struct track;

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

#endif
