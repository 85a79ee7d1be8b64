/*
 * quarantine: what becomes of a queue file that cannot be read (a damaged
 * record, a bad head, content cut short). It is never dropped: it moves to
 * DATA_DIR/corrupt/ (kept for the operator, counted by `postino queue list`)
 * and, when its envelope head still parses, a replacement takes its place in
 * the queue under the same id: the same envelope, every recipient still
 * waiting marked failed ("5.3.0 queue file damaged"), not held, with the
 * content when it is intact (else its header section and RET=HDRS). The
 * scheduler then owes the sender the failure notices and sends them through
 * its normal path (NOTIFY, RET, the null sender, retries and crash safety as
 * for any failure) before it retires the replacement.
 *
 * Order: link into corrupt/ and fsync it, then rename the replacement over
 * the damaged file (or unlink that) and fsync the queue directory. A crash in
 * between leaves the damaged file in both places; the next start finds the
 * same inode in corrupt/ and carries on. File I/O only; runs at start-up.
 */
#ifndef POSTINO_QUARANTINE_H
#define POSTINO_QUARANTINE_H
#include <stddef.h>
#include "mail/queue.h"

/* The reason recorded for the waiting recipients of a damaged file (5.3.0). */
#define QUARANTINE_REASON "queue file damaged; delivery state unknown"

/* DATA_DIR/corrupt. */
int quarantine_dir(const char *data_dir, char *out, size_t size);
/*
 * Quarantines the unreadable queue file path (message id). moved gets where
 * it went. 1: a replacement is now at path (queue_load it), 0: moved only
 * (no readable head: nobody can be told), -1: error (errno), nothing lost:
 * the damaged file is still at path.
 */
int quarantine_file(struct queue *q, const char *data_dir, const char *path, const char *id,
                    char *moved, size_t size);
/* The number of files in DATA_DIR/corrupt (0 when there is no such folder), or -1. */
long quarantine_count(const char *data_dir);

#endif
