/*
 * queue: durable on-disk queue (see queue.h and docs/queue-format.md).
 */
#include "mail/queue.h"
#include "lib/alloc.h"
#include "lib/fsio.h"
#include "lib/str.h"
#include "proto/esc.h"
#include "proto/rfc5322.h"
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <unistd.h>

#define QUEUE_WRITE_CHUNK 65536
#define QUEUE_HEAD_MAX (8u << 20)
/* The part of a header section a rewrite looks at for fields to leave out. */
#define QUEUE_REWRITE_HEAD_MAX (256u << 10)

/* Loads the names of the files in pool/ (removing any past the maximum). */
static int queue_pool_load(struct queue *q)
{
    char pool[PATH_MAX], path[PATH_MAX];
    str_fmt(pool, sizeof pool, "%s/pool", q->dir);
    DIR *d = opendir(pool);
    if (!d)
        return -1;
    struct dirent *de;
    while ((de = readdir(d))) {
        if (de->d_name[0] == '.')
            continue;
        if (q->pool_n < QUEUE_POOL_MAX && strlen(de->d_name) <= QUEUE_ID_MAX)
            str_copy(q->pool[q->pool_n++], QUEUE_ID_MAX + 1, de->d_name);
        else if (str_fmt(path, sizeof path, "%s/%s", pool, de->d_name) == 0)
            unlink(path);
    }
    closedir(d);
    return 0;
}

int queue_init(struct queue *q, const char *data_dir)
{
    memset(q, 0, sizeof *q);
    pthread_mutex_init(&q->pool_lock, NULL);
    q->pool = xcalloc(QUEUE_POOL_MAX, sizeof *q->pool);
    if (str_fmt(q->dir, sizeof q->dir, "%s/queue", data_dir) < 0) {
        errno = ENAMETOOLONG;
        return -1;
    }
    char sub[PATH_MAX];
    for (int i = 0; i <= 256; i++) {
        if ((i < 256 ? str_fmt(sub, sizeof sub, "%s/%02X", q->dir, i)
                     : str_fmt(sub, sizeof sub, "%s/pool", q->dir)) < 0 ||
            fsio_mkdir_p(sub, 0700) < 0)
            return -1;
    }
    if (queue_pool_load(q) < 0)
        return -1;
    return fsio_fsync_dir(q->dir);
}

void queue_fini(struct queue *q)
{
    free(q->pool);
    q->pool = NULL;
    q->pool_n = 0;
    pthread_mutex_destroy(&q->pool_lock);
}

/* Pops a pooled file name into name; 0 if the pool is empty. */
static int queue_pool_pop(struct queue *q, char *name)
{
    int got = 0;
    pthread_mutex_lock(&q->pool_lock);
    if (q->pool && q->pool_n > 0) {
        memcpy(name, q->pool[--q->pool_n], QUEUE_ID_MAX + 1);
        got = 1;
    }
    pthread_mutex_unlock(&q->pool_lock);
    return got;
}

/* Reserves a pool slot for name; 0 if the pool is full. */
static int queue_pool_push(struct queue *q, const char *name)
{
    int ok = 0;
    pthread_mutex_lock(&q->pool_lock);
    if (q->pool && q->pool_n < QUEUE_POOL_MAX) {
        str_copy(q->pool[q->pool_n++], QUEUE_ID_MAX + 1, name);
        ok = 1;
    }
    pthread_mutex_unlock(&q->pool_lock);
    return ok;
}

void queue_new_id(char id[QUEUE_ID_MAX + 1])
{
    static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
    static unsigned counter;
    static uint64_t last_sec;
    struct timeval tv;
    gettimeofday(&tv, NULL);
    pthread_mutex_lock(&lock);
    if ((uint64_t)tv.tv_sec != last_sec) {
        last_sec = (uint64_t)tv.tv_sec;
        counter = (unsigned)getpid() & 0xfff; /* vary the start across restarts */
    }
    unsigned n = counter++;
    pthread_mutex_unlock(&lock);
    /* seconds (8) + microseconds (5) + counter (3): last two digits spread evenly */
    str_fmt(id, QUEUE_ID_MAX + 1, "%08lX%05lX%03X", (unsigned long)tv.tv_sec & 0xffffffffUL,
            (unsigned long)tv.tv_usec & 0xfffffUL, n & 0xfffu);
}

int queue_dir_of(const struct queue *q, const char *id, char *out, size_t size)
{
    size_t n = strlen(id);
    if (n < 2)
        return -1;
    return str_fmt(out, size, "%s/%.2s", q->dir, id + n - 2);
}

int queue_path(const struct queue *q, const char *id, char *out, size_t size)
{
    size_t n = strlen(id);
    if (n < 2)
        return -1;
    return str_fmt(out, size, "%s/%.2s/%s", q->dir, id + n - 2, id);
}

/* Opens a pooled file to be written over; -1 if none is available. */
static int queue_writer_recycle(struct queue *q, struct queue_writer *w)
{
    char name[QUEUE_ID_MAX + 1];
    while (queue_pool_pop(q, name)) {
        if (str_fmt(w->tmp_path, sizeof w->tmp_path, "%s/pool/%s", q->dir, name) < 0)
            continue;
        w->fd = open(w->tmp_path, O_RDWR | O_CLOEXEC);
        if (w->fd >= 0) {
            w->recycled = 1;
            w->queue = q;
            memcpy(w->pool_name, name, sizeof name);
            return 0;
        }
    }
    return -1;
}

/* A writer with the envelope head in its buffer, no file yet (paths set by the caller first). */
static int queue_writer_head(struct queue_writer *w, const struct envelope *e)
{
    if (envelope_format_head(e, &w->pending, &w->size_offset) < 0) {
        errno = EINVAL;
        return -1;
    }
    w->head_len = w->pending.len;
    return 0;
}

static void queue_writer_init(struct queue_writer *w)
{
    memset(w, 0, sizeof *w);
    w->fd = -1;
    buf_init(&w->pending, BUF_UNLIMITED);
}

int queue_writer_open(struct queue *q, const struct envelope *e, struct queue_writer *w)
{
    queue_writer_init(w);
    if (queue_path(q, e->id, w->path, sizeof w->path) < 0 ||
        queue_dir_of(q, e->id, w->dir, sizeof w->dir) < 0) {
        errno = ENAMETOOLONG;
        return -1;
    }
    if (queue_writer_head(w, e) < 0)
        return -1;
    if (queue_writer_recycle(q, w) == 0)
        return 0;
    if (str_fmt(w->tmp_path, sizeof w->tmp_path, "%s.tmp", w->path) < 0)
        return -1;
    w->fd = open(w->tmp_path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    return w->fd < 0 ? -1 : 0;
}

int queue_writer_open_at(struct queue_writer *w, const struct envelope *e, const char *dir,
                         const char *name, mode_t mode)
{
    char tmp[PATH_MAX];
    queue_writer_init(w);
    if (str_copy(w->dir, sizeof w->dir, dir) < 0 ||
        str_fmt(w->path, sizeof w->path, "%s/%s", dir, name) < 0 ||
        str_fmt(tmp, sizeof tmp, "%s.tmp", w->path) < 0) {
        errno = ENAMETOOLONG;
        return -1;
    }
    if (queue_writer_head(w, e) < 0)
        return -1;
    w->fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode);
    if (w->fd < 0)
        return -1;
    str_copy(w->tmp_path, sizeof w->tmp_path, tmp); /* ours now: abort may remove it */
    return fchmod(w->fd, mode); /* whatever the umask */
}

static void queue_writer_flush(struct queue_writer *w)
{
    if (!w->error && w->pending.len && fsio_write_all(w->fd, w->pending.data, w->pending.len) < 0)
        w->error = errno;
    w->file_len += w->pending.len;
    buf_reset(&w->pending);
}

void queue_writer_write(struct queue_writer *w, const void *p, size_t n)
{
    w->content_len += n;
    if (w->error)
        return;
    buf_append(&w->pending, p, n);
    if (w->pending.len >= QUEUE_WRITE_CHUNK)
        queue_writer_flush(w);
}

int queue_writer_finish(struct queue_writer *w)
{
    char digits[ENVELOPE_SIZE_WIDTH + 1];
    buf_appends(&w->pending, "end\n");
    queue_writer_flush(w);
    str_fmt(digits, sizeof digits, "%0*llu", ENVELOPE_SIZE_WIDTH,
            (unsigned long long)w->content_len);
    if (!w->error &&
        pwrite(w->fd, digits, ENVELOPE_SIZE_WIDTH, (off_t)w->size_offset) != ENVELOPE_SIZE_WIDTH)
        w->error = errno ? errno : EIO;
    /* a recycled file may be longer than this message: cut the old tail */
    if (!w->error && w->recycled && ftruncate(w->fd, (off_t)w->file_len) < 0)
        w->error = errno;
    if (w->error) {
        errno = w->error;
        return -1;
    }
    return 0;
}

/* Copies the header section of the content (what fits in QUEUE_REWRITE_HEAD_MAX),
 * field by field, leaving out those keep() refuses; its length in *len, the
 * octets left out in *dropped. */
static int queue_writer_copy_fields(struct queue_writer *w, int in, int out,
                                    const struct queue_rewrite *r, uint64_t *len,
                                    uint64_t *dropped)
{
    size_t want = w->content_len < QUEUE_REWRITE_HEAD_MAX ? (size_t)w->content_len
                                                          : QUEUE_REWRITE_HEAD_MAX;
    char *p = xmalloc(want ? want : 1);
    ssize_t got = pread(in, p, want, (off_t)w->head_len);
    size_t hl = got > 0 ? rfc5322_header_length(p, (size_t)got, NULL) : 0;
    int rc = 0;
    for (size_t pos = 0; pos < hl && rc == 0;) {
        size_t end = rfc5322_field_end(p, hl, pos);
        if (end <= pos)
            end = hl;
        if (r->keep(p + pos, end - pos, r->arg))
            rc = fsio_write_all(out, p + pos, end - pos);
        else
            *dropped += end - pos;
        pos = end;
    }
    free(p);
    *len = hl;
    return rc;
}

/* Writes the new file: the head, the fields, the old content (less the fields
 * keep() refuses) and "end", then patches the size. */
static int queue_writer_copy_with(struct queue_writer *w, int in, int out,
                                  const struct queue_rewrite *r, uint64_t *content_len)
{
    char digits[ENVELOPE_SIZE_WIDTH + 1];
    uint64_t header = 0, dropped = 0;
    if (fsio_copy_range(in, 0, w->head_len, out) < 0 ||
        fsio_write_all(out, r->fields, r->n) < 0 ||
        (r->keep && queue_writer_copy_fields(w, in, out, r, &header, &dropped) < 0) ||
        fsio_copy_range(in, w->head_len + header, w->file_len - w->head_len - header, out) < 0)
        return -1;
    *content_len = w->content_len + r->n - dropped;
    str_fmt(digits, sizeof digits, "%0*llu", ENVELOPE_SIZE_WIDTH, (unsigned long long)*content_len);
    if (pwrite(out, digits, ENVELOPE_SIZE_WIDTH, (off_t)w->size_offset) != ENVELOPE_SIZE_WIDTH) {
        errno = errno ? errno : EIO;
        return -1;
    }
    return 0;
}

int queue_writer_rewrite(struct queue_writer *w, const struct queue_rewrite *r)
{
    char tmp[PATH_MAX];
    struct stat st;
    uint64_t content_len = 0;
    if (r->n == 0 && !r->keep)
        return 0;
    if (w->error || fstat(w->fd, &st) < 0 ||
        str_fmt(tmp, sizeof tmp, "%s.pre", w->tmp_path) < 0)
        return -1;
    int in = open(w->tmp_path, O_RDONLY | O_CLOEXEC);
    if (in < 0)
        return -1;
    unlink(tmp); /* a leftover of a crash */
    int out = open(tmp, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, st.st_mode & 07777);
    if (out < 0 || queue_writer_copy_with(w, in, out, r, &content_len) < 0 ||
        rename(tmp, w->tmp_path) < 0) {
        int err = errno;
        close(in);
        if (out >= 0) {
            close(out);
            unlink(tmp);
        }
        errno = err;
        return -1;
    }
    close(in);
    close(w->fd);
    w->fd = out;
    w->file_len = w->file_len - w->content_len + content_len;
    w->content_len = content_len;
    return 0;
}

/* Closes the file and renames it into place with renameat2 flags. */
static int queue_writer_rename(struct queue_writer *w, unsigned flags)
{
    if (close(w->fd) < 0) {
        w->fd = -1;
        w->error = errno;
        return -1;
    }
    w->fd = -1;
    if (renameat2(AT_FDCWD, w->tmp_path, AT_FDCWD, w->path, flags) < 0) {
        w->error = errno;
        return -1;
    }
    w->renamed = 1;
    buf_free(&w->pending);
    return 0;
}

int queue_writer_publish(struct queue_writer *w)
{
    return queue_writer_rename(w, RENAME_NOREPLACE);
}

int queue_writer_replace(struct queue_writer *w)
{
    return queue_writer_rename(w, 0);
}

void queue_writer_abort(struct queue_writer *w)
{
    if (w->fd >= 0) {
        close(w->fd);
        w->fd = -1;
    }
    if (w->tmp_path[0] && !w->recycled)
        unlink(w->tmp_path);
    if (w->recycled && !w->renamed && !queue_pool_push(w->queue, w->pool_name))
        unlink(w->tmp_path); /* back to the pool for the next message */
    if (w->renamed) /* committed but not durably: the client was told 451 */
        unlink(w->path);
    buf_free(&w->pending);
}

/* Opens a queued message's file for appending records. */
static int queue_open_append(const struct queue *q, const char *id)
{
    char path[PATH_MAX];
    if (queue_path(q, id, path, sizeof path) < 0) {
        errno = ENAMETOOLONG;
        return -1;
    }
    /* read too: fsio_append_records looks at the tail */
    return open(path, O_RDWR | O_APPEND | O_CLOEXEC);
}

int queue_append(const struct queue *q, const char *id, const char *data, size_t n, int sync)
{
    off_t old = 0;
    int fd = queue_append_open(q, id, data, n, &old);
    if (fd < 0)
        return -1;
    int r = 0;
    if (sync && fdatasync(fd) < 0) {
        r = -1;
        int saved = errno;
        fsio_append_undo(fd, old);
        errno = saved;
    }
    int saved = errno;
    close(fd);
    errno = saved;
    return r;
}

int queue_retire(struct queue *q, const char *id)
{
    char path[PATH_MAX], pooled[PATH_MAX];
    if (queue_path(q, id, path, sizeof path) < 0 ||
        str_fmt(pooled, sizeof pooled, "%s/pool/%s", q->dir, id) < 0)
        return -1;
    int pooled_ok = 0;
    pthread_mutex_lock(&q->pool_lock);
    if (q->pool && q->pool_n < QUEUE_POOL_MAX &&
        renameat2(AT_FDCWD, path, AT_FDCWD, pooled, RENAME_NOREPLACE) == 0) {
        str_copy(q->pool[q->pool_n++], QUEUE_ID_MAX + 1, id);
        pooled_ok = 1;
    }
    pthread_mutex_unlock(&q->pool_lock);
    if (pooled_ok)
        return 0;
    return (unlink(path) < 0 && errno != ENOENT) ? -1 : 0;
}

int queue_append_open(const struct queue *q, const char *id, const char *data, size_t n,
                      off_t *old)
{
    int fd = queue_open_append(q, id);
    if (fd >= 0 && fsio_append_records(fd, data, n, old) < 0) {
        int saved = errno;
        close(fd);
        errno = saved;
        return -1;
    }
    return fd;
}

int queue_error_full(int err)
{
    return err == ENOSPC || err == EDQUOT || err == EFBIG;
}

/* Formatted per thread: the reply stays valid until the thread's next call. */
const char *queue_error_reply(int err)
{
    static _Thread_local char reply[64];
    if (queue_error_full(err))
        esc_reply(reply, sizeof reply, 452, ESC_MAIL_SYSTEM_FULL,
                  "Error: insufficient system storage");
    else
        esc_reply(reply, sizeof reply, 451, ESC_OTHER_MAIL_SYSTEM, "Error: queue file write error");
    return reply;
}

int queue_remove(const struct queue *q, const char *id)
{
    char path[PATH_MAX];
    if (queue_path(q, id, path, sizeof path) < 0)
        return -1;
    return (unlink(path) < 0 && errno != ENOENT) ? -1 : 0;
}

/* Reads the head (until "data\n") from fd into e. -1: errno EINVAL when the head
 * is bad or incomplete, else the read error. */
static int queue_load_head(int fd, struct envelope *e)
{
    struct buf b;
    buf_init(&b, QUEUE_HEAD_MAX);
    char chunk[16384];
    int r = 1;
    while (r == 1) {
        ssize_t n = read(fd, chunk, sizeof chunk);
        if (n <= 0 || buf_append(&b, chunk, (size_t)n) < 0) {
            if (n >= 0)
                errno = EINVAL;
            r = -1;
            break;
        }
        /* parse once the head is complete, looking only at what is new */
        size_t from = b.len - (size_t)n > 5 ? b.len - (size_t)n - 5 : 0;
        if (!memmem(b.data + from, b.len - from, "\ndata\n", 6))
            continue;
        envelope_free(e);
        r = envelope_parse_head(b.data, b.len, e);
        if (r < 0)
            errno = EINVAL;
    }
    buf_free(&b);
    return r;
}

/* Reads everything after the content (from "end\n" on) into tail. */
static int queue_load_tail_bytes(int fd, const struct envelope *e, struct buf *tail)
{
    char chunk[16384];
    off_t off = (off_t)(e->content_offset + e->size);
    ssize_t n;
    while ((n = pread(fd, chunk, sizeof chunk, off)) > 0) {
        if (buf_append(tail, chunk, (size_t)n) < 0) {
            errno = EINVAL;
            return -1;
        }
        off += n;
    }
    return n < 0 ? -1 : 0;
}

int queue_load_salvage(int fd, struct envelope *e)
{
    envelope_init(e);
    if (queue_load_head(fd, e) != 0) {
        envelope_free(e);
        return -1;
    }
    struct buf tail;
    buf_init(&tail, QUEUE_HEAD_MAX);
    int r = queue_load_tail_bytes(fd, e, &tail);
    if (r == 0)
        r = envelope_parse_tail(tail.data ? tail.data : "", tail.len, e) == 0 ? 0 : 1;
    buf_free(&tail);
    if (r < 0)
        envelope_free(e);
    return r;
}

int queue_load_fd(int fd, struct envelope *e)
{
    int r = queue_load_salvage(fd, e);
    if (r == 1) {
        envelope_free(e);
        errno = EINVAL;
    }
    return r == 0 ? 0 : -1;
}

/* Opens path with flags and loads it. */
static int queue_load_path(const char *path, int flags, struct envelope *e, int *cut)
{
    envelope_init(e);
    int fd = open(path, flags | O_CLOEXEC);
    if (fd < 0)
        return -1;
    int r = queue_load_fd(fd, e);
    if (r == 0 && cut) {
        int c = fsio_cut_torn_tail(fd);
        if (c < 0) {
            envelope_free(e);
            r = -1;
        }
        *cut = c > 0;
    }
    int saved = errno;
    close(fd);
    errno = saved;
    return r;
}

int queue_load(const char *path, struct envelope *e)
{
    return queue_load_path(path, O_RDONLY, e, NULL);
}

int queue_load_repair(const char *path, struct envelope *e, int *cut)
{
    *cut = 0;
    return queue_load_path(path, O_RDWR, e, cut);
}

int queue_open_content(const struct queue *q, const struct envelope *e)
{
    char path[PATH_MAX];
    if (queue_path(q, e->id, path, sizeof path) < 0)
        return -1;
    return open(path, O_RDONLY | O_CLOEXEC);
}

/* Handles one entry of a hash directory. */
/* A leftover .tmp (a crash mid-write) is removed when clean_tmp says so: always (-1),
 * or when it was last changed before that time (ms since the epoch), so that a running
 * server's own files in the middle of being written are left alone. 1 if removed. */
static int queue_scan_tmp(const char *path, int64_t clean_tmp)
{
    struct stat st;
    if (clean_tmp == 0)
        return 0;
    if (clean_tmp > 0 && (lstat(path, &st) < 0 ||
                          (int64_t)st.st_mtim.tv_sec * 1000 + st.st_mtim.tv_nsec / 1000000 >=
                              clean_tmp))
        return 0;
    return unlink(path) == 0;
}

static int queue_scan_entry(const char *dir, const char *name, int64_t clean_tmp, int *cleaned,
                            int (*cb)(void *, const char *, const char *), void *ctx)
{
    char path[PATH_MAX];
    if (name[0] == '.' || str_fmt(path, sizeof path, "%s/%s", dir, name) < 0)
        return 0;
    size_t n = strlen(name);
    if (n > 4 && strcmp(name + n - 4, ".tmp") == 0) {
        *cleaned += queue_scan_tmp(path, clean_tmp);
        return 0;
    }
    if (n > QUEUE_ID_MAX)
        return 0;
    return cb(ctx, path, name);
}

int queue_scan_dir(const struct queue *q, int i, int64_t clean_tmp,
                   int (*cb)(void *ctx, const char *path, const char *id), void *ctx)
{
    char sub[PATH_MAX];
    str_fmt(sub, sizeof sub, "%s/%02X", q->dir, i);
    DIR *d = opendir(sub);
    if (!d)
        return errno == ENOENT ? 0 : -1;
    struct dirent *de;
    int r = 0, cleaned = 0;
    while (r == 0 && (de = readdir(d)))
        r = queue_scan_entry(sub, de->d_name, clean_tmp, &cleaned, cb, ctx);
    closedir(d);
    if (r < 0)
        return -1;
    return cleaned && fsio_fsync_dir(sub) < 0 ? -1 : 0;
}

int queue_scan(const struct queue *q, int clean_tmp,
               int (*cb)(void *ctx, const char *path, const char *id), void *ctx)
{
    for (int i = 0; i < QUEUE_SUBDIRS; i++)
        if (queue_scan_dir(q, i, clean_tmp ? -1 : 0, cb, ctx) < 0)
            return -1;
    return 0;
}
