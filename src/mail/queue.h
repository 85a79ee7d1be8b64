/*
 * queue: postino's durable message queue on disk (docs/queue-format.md).
 * One file per message, DATA_DIR/queue/XX/ID, XX being the last two hex
 * digits of the id (256 small directories). The file holds the envelope
 * head, the content, "end", then appended state records.
 *
 * A message is written under a temporary name, fsync'd, renamed to XX/ID
 * (never replacing an existing file), and the directory fsync'd: only then
 * is it acknowledged.
 *
 * Files are recycled: a finished message's file moves to DATA_DIR/queue/pool
 * and the next message is written over it. Creating and deleting a file per
 * message makes ext4's inode allocator scan every recently freed inode on
 * each create (about 1 ms of kernel time under load); renaming a recycled
 * file costs no inode at all. The temporary name is pool/NAME for a recycled
 * file and XX/ID.tmp for a new one; both are garbage after a crash. A crash leaves either a .tmp (removed at start) or a complete
 * file. State changes are appended and fsync'd, whole or not at all (a
 * failed or short append is cut back); a torn last record is ignored on
 * reading and cut off at the server's start (queue_load_repair). This
 * module does file I/O only: no sockets, no events.
 * The directory fsyncs are left to the caller so one fsync serves a batch.
 */
#ifndef POSTINO_QUEUE_H
#define POSTINO_QUEUE_H
#include <limits.h>
#include <pthread.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include "lib/buf.h"
#include "mail/envelope.h"

#define QUEUE_POOL_MAX 1024

struct queue {
    char dir[PATH_MAX];   /* DATA_DIR/queue */
    /* recycled files in DATA_DIR/queue/pool (queue_init fills it; used by the server only) */
    pthread_mutex_t pool_lock;
    char (*pool)[QUEUE_ID_MAX + 1];
    size_t pool_n;
};

/* An incoming message being written. */
struct queue_writer {
    int fd;
    char tmp_path[PATH_MAX];
    char path[PATH_MAX];
    char dir[PATH_MAX];
    size_t size_offset;       /* where the size digits are */
    size_t head_len;          /* where the content starts */
    uint64_t file_len;        /* bytes written so far */
    int recycled;             /* written over a pooled file (tmp_path is in pool/) */
    struct queue *queue;      /* for a recycled file: where to give it back */
    char pool_name[QUEUE_ID_MAX + 1];
    uint64_t content_len;
    struct buf pending;       /* write-behind buffer */
    int error;                /* errno of the first failure, 0 if none */
    int renamed;              /* the file is in place under its final name */
};

/* Creates DATA_DIR/queue, its 256 subdirectories and the pool, and loads the pool. */
int queue_init(struct queue *q, const char *data_dir);
/* Releases the pool list (not the files). */
void queue_fini(struct queue *q);
/* A new unique id (16 upper-case hex digits, time based). */
void queue_new_id(char id[QUEUE_ID_MAX + 1]);
/* DATA_DIR/queue/XX/ID and DATA_DIR/queue/XX. */
int queue_path(const struct queue *q, const char *id, char *out, size_t size);
int queue_dir_of(const struct queue *q, const char *id, char *out, size_t size);

/* Takes a pooled file (or creates XX/ID.tmp) and writes the envelope head. */
int queue_writer_open(struct queue *q, const struct envelope *e, struct queue_writer *w);
/* Same for a file outside the queue: dir/name, written as dir/name.tmp with
 * the given mode (the local submission drop files, mail/maildrop.h). */
int queue_writer_open_at(struct queue_writer *w, const struct envelope *e, const char *dir,
                         const char *name, mode_t mode);
/* Buffers content; errors are remembered in w->error and reported by finish. */
void queue_writer_write(struct queue_writer *w, const void *p, size_t n);
/* Flushes, writes "end" and patches the size. No fsync. */
int queue_writer_finish(struct queue_writer *w);
/* A message's content in a queue file, for the checks that read it on a worker. */
struct queue_content {
    int fd;                 /* open for reading */
    uint64_t off, size;     /* where the content starts, its octets */
};

/* What a rewrite changes in a finished message (queue_writer_rewrite). */
struct queue_rewrite {
    const char *fields;     /* CRLF-terminated header fields to put on top, or NULL */
    size_t n;
    /* NULL, or called with each field of the header section (continuation
     * lines included, the blank line after the section too): 0 leaves it out */
    int (*keep)(const char *field, size_t n, void *arg);
    void *arg;
};
/*
 * After finish, before the fsync: puts r->fields at the top of the content,
 * above the Received: field postino wrote (Authentication-Results,
 * DKIM-Signature, X-Postino-Track), and leaves out the header fields r->keep
 * refuses (a forged Authentication-Results). The file is rewritten beside the
 * old one and renamed over it, so w->fd changes; runs on a worker thread (it
 * copies the message). -1 with errno on failure (the old file is unchanged).
 */
int queue_writer_rewrite(struct queue_writer *w, const struct queue_rewrite *r);
/* After the caller fsync'd w->fd: close, rename into place (never replacing).
 * The caller then fsyncs w->dir. */
int queue_writer_publish(struct queue_writer *w);
/* The same, atomically replacing a file of that name (mail/quarantine.h). */
int queue_writer_replace(struct queue_writer *w);
/* Closes and removes the temporary file (a pooled one stays in pool/ as garbage,
 * reused after the next start). */
void queue_writer_abort(struct queue_writer *w);

/*
 * Appends records to a queued message and fsyncs it (when sync). Every append
 * goes through fsio_append_records: a torn tail is cut first, and a failed or
 * short write (a full disk) or a failed fsync leaves the file as it was, so
 * the caller can simply retry later.
 */
int queue_append(const struct queue *q, const char *id, const char *data, size_t n, int sync);
/* Appends records and returns the open fd for the caller to fsync (batched) and
 * close, *old being the length before (fsio_append_undo(fd, *old) if that fsync
 * fails); -1 on error, the file unchanged. */
int queue_append_open(const struct queue *q, const char *id, const char *data, size_t n,
                      off_t *old);
/* 1 if a write failed because storage ran out (ENOSPC, EDQUOT, EFBIG): RFC 3463's
 * X.3.1 "mail system full" rather than X.3.0. */
int queue_error_full(int err);
/* The SMTP reply refusing a message the queue could not store: "452 4.3.1 ..."
 * when storage ran out, else "451 4.3.0 ...". Valid until the calling thread's next call. */
const char *queue_error_reply(int err);
/* Removes a message (the caller fsyncs its directory). ENOENT is not an error. */
int queue_remove(const struct queue *q, const char *id);
/* Removes a finished message by moving its file to the pool for reuse (or
 * unlinking it when the pool is full). The caller fsyncs its directory. */
int queue_retire(struct queue *q, const char *id);
/* Loads the envelope (head and state records) of a queued file; a torn last
 * record is ignored. -1 with errno EINVAL when the file is damaged (a bad
 * head or record, no "end" after the content), else the system's error. */
int queue_load(const char *path, struct envelope *e);
/* The same from a file just opened (read from its start). */
int queue_load_fd(int fd, struct envelope *e);
/* queue_load for the server's start: a torn last record (a power loss during
 * an append) is also cut off the file, which is fsync'd (*cut = 1), so that
 * the next append does not land after it. */
int queue_load_repair(const char *path, struct envelope *e, int *cut);
/* What can be read of a damaged file: 0 all of it (as queue_load_fd), 1 the
 * head and the records before the first bad one (or none without "end"),
 * -1 not even the head (errno EINVAL, or a read error). */
int queue_load_salvage(int fd, struct envelope *e);
/* Opens the file for reading its content (at e->content_offset, e->size bytes). */
int queue_open_content(const struct queue *q, const struct envelope *e);

/*
 * Calls cb for every committed message file (path, id). With clean_tmp,
 * leftover *.tmp files (crashes mid-write) are removed first. 0 or -1.
 */
int queue_scan(const struct queue *q, int clean_tmp,
               int (*cb)(void *ctx, const char *path, const char *id), void *ctx);
#define QUEUE_SUBDIRS 256
/* The same for subdirectory i (0 .. QUEUE_SUBDIRS-1) alone. clean_tmp: 0 keep .tmp
 * files, -1 remove them all, else remove those last changed before that time (ms
 * since the epoch: a server scanning while it already takes mail keeps its own). */
int queue_scan_dir(const struct queue *q, int i, int64_t clean_tmp,
                   int (*cb)(void *ctx, const char *path, const char *id), void *ctx);

#endif
