/*
 * maildrop: the local submission drop directory, DATA_DIR/maildrop.
 * `postino sendmail` writes each message there as one file in the queue
 * file format (docs/queue-format.md), named ID.RANDOM, written as
 * NAME.tmp, fsync'd, renamed into place and the directory fsync'd: from
 * then on the message is durable whether or not a server runs. The
 * server's pickup (qmgr/pickup.c) moves it into the queue at start and as
 * soon as a file appears.
 *
 * The directory has mode 1733, like a mail spool: any local user may
 * create a file in it, none may list it or remove another user's file.
 * A drop file is as untrusted as a network client: maildrop_check
 * validates everything in it before the server acts on it.
 */
#ifndef POSTINO_MAILDROP_H
#define POSTINO_MAILDROP_H
#include <stddef.h>
#include "mail/envelope.h"
#include "mail/queue.h"

#define MAILDROP_DIR "maildrop"
#define MAILDROP_NAME_MAX 48
/* the most recipients one drop file may carry */
#define MAILDROP_RCPT_MAX 10000

/* DATA_DIR/maildrop. */
int maildrop_path(const char *data_dir, char *out, size_t size);
/* Creates DATA_DIR/maildrop with mode 1733 if needed (the server does this at start). */
int maildrop_init(const char *data_dir);
/* Gives e a new queue id (unless e->id is set) and starts its drop file; the content follows with
 * queue_writer_write. -1 with errno on failure. */
int maildrop_open(const char *data_dir, struct envelope *e, struct queue_writer *w);
/* Finishes, fsyncs, renames into place and fsyncs the directory. On failure
 * (-1, errno) the temporary file is removed: nothing half-written stays. */
int maildrop_commit(struct queue_writer *w);
/* The queue id carried by a drop file name ("ID.RANDOM"); -1 if name is not one. */
int maildrop_name_id(const char *name, char id[QUEUE_ID_MAX + 1]);
/* NULL if an envelope read from a drop file is acceptable, else the reason. */
const char *maildrop_check(const struct envelope *e);

#endif
