/*
 * quarantine: damaged queue files go to DATA_DIR/corrupt/, the sender is told
 * through a replacement queue file (see quarantine.h).
 */
#include "mail/quarantine.h"
#include "proto/esc.h"
#include "lib/alloc.h"
#include "lib/fsio.h"
#include "lib/str.h"
#include "mail/dsn.h"
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define QUARANTINE_NAMES 100              /* ID, ID.1 ... ID.99 */
#define QUARANTINE_HEAD_MAX (256 * 1024)  /* the header section kept from cut content */

int quarantine_dir(const char *data_dir, char *out, size_t size)
{
    return str_fmt(out, size, "%s/corrupt", data_dir);
}

/* 1 if a and b are the same file. */
static int quarantine_same(const char *a, const char *b)
{
    struct stat sa, sb;
    return stat(a, &sa) == 0 && stat(b, &sb) == 0 && sa.st_dev == sb.st_dev &&
           sa.st_ino == sb.st_ino;
}

/* Hard-links path into dir as ID (or ID.N when taken by another file); moved = the link. */
static int quarantine_link(const char *dir, const char *path, const char *id, char *moved,
                           size_t size)
{
    for (int i = 0; i < QUARANTINE_NAMES; i++) {
        int r = i ? str_fmt(moved, size, "%s/%s.%d", dir, id, i)
                  : str_fmt(moved, size, "%s/%s", dir, id);
        if (r < 0) {
            errno = ENAMETOOLONG;
            return -1;
        }
        if (link(path, moved) == 0 || quarantine_same(path, moved)) /* or linked before a crash */
            return fsio_fsync_dir(dir);
        if (errno != EEXIST)
            return -1;
    }
    errno = EEXIST;
    return -1;
}

/* 1 if the file holds all e->size content octets followed by "end\n". */
static int quarantine_content_intact(int fd, const struct envelope *e)
{
    char end[4];
    struct stat st;
    return fstat(fd, &st) == 0 && (uint64_t)st.st_size >= e->content_offset + e->size + 4 &&
           pread(fd, end, 4, (off_t)(e->content_offset + e->size)) == 4 &&
           memcmp(end, "end\n", 4) == 0;
}

/* Copies n octets of fd from off into the writer; -1 on a read error or early end. */
static int quarantine_copy(int fd, uint64_t off, uint64_t n, struct queue_writer *w)
{
    char chunk[16384];
    while (n > 0) {
        ssize_t got = pread(fd, chunk, n < sizeof chunk ? (size_t)n : sizeof chunk, (off_t)off);
        if (got <= 0) {
            errno = got < 0 ? errno : EIO;
            return -1;
        }
        queue_writer_write(w, chunk, (size_t)got);
        off += (uint64_t)got;
        n -= (uint64_t)got;
    }
    return 0;
}

/* Writes the content of the replacement: all of it, or the header section that survived. */
static int quarantine_content(int fd, const struct envelope *orig, int intact,
                              struct queue_writer *w)
{
    if (intact)
        return quarantine_copy(fd, orig->content_offset, orig->size, w);
    uint64_t want = orig->size < QUARANTINE_HEAD_MAX ? orig->size : QUARANTINE_HEAD_MAX;
    char *p = xmalloc(want ? (size_t)want : 1);
    ssize_t got = pread(fd, p, (size_t)want, (off_t)orig->content_offset);
    if (got > 0)
        queue_writer_write(w, p, dsn_header_length(p, (size_t)got));
    free(p);
    return 0;
}

/* The envelope of the replacement: every recipient still waiting has failed. */
static void quarantine_fail_waiting(struct envelope *e, int intact)
{
    e->hold = 0;
    if (!intact)
        e->ret = DSN_RET_HDRS;
    for (size_t i = 0; i < e->n_rcpts; i++) {
        struct env_rcpt *r = &e->rcpts[i];
        if (r->status != RCPT_PENDING && r->status != RCPT_DEFERRED)
            continue;
        r->status = RCPT_FAILED;
        free(r->last_reply);
        char why[128];
        str_fmt(why, sizeof why, "%s %s", esc_code(5, ESC_OTHER_MAIL_SYSTEM).s, QUARANTINE_REASON);
        r->last_reply = xstrdup(why);
        free(r->remote_mta);
        r->remote_mta = NULL;
        free(r->tls);
        r->tls = NULL;
    }
}

/* Writes and fsyncs the replacement of path (not yet renamed over it). */
static int quarantine_write(struct queue *q, int fd, struct envelope *e, struct queue_writer *w)
{
    int intact = quarantine_content_intact(fd, e);
    quarantine_fail_waiting(e, intact); /* the content's place and size stay */
    if (queue_writer_open(q, e, w) < 0 || quarantine_content(fd, e, intact, w) < 0 ||
        queue_writer_finish(w) < 0 || fsync(w->fd) < 0) {
        int saved = errno;
        queue_writer_abort(w);
        errno = saved;
        return -1;
    }
    return 0;
}

/* Puts the replacement in place of the damaged file (already linked in corrupt/). */
static int quarantine_replace(struct queue_writer *w)
{
    if (queue_writer_replace(w) < 0 || fsio_fsync_dir(w->dir) < 0) {
        int saved = errno;
        if (!w->renamed)
            queue_writer_abort(w);
        errno = saved;
        return w->renamed ? 1 : -1; /* renamed: in place, only the fsync is unsure */
    }
    return 1;
}

/* No head: nothing to tell anybody; the damaged file leaves the queue. */
static int quarantine_unlink(const struct queue *q, const char *path, const char *id)
{
    char dir[PATH_MAX];
    if (queue_dir_of(q, id, dir, sizeof dir) < 0 || unlink(path) < 0)
        return -1;
    return fsio_fsync_dir(dir) < 0 ? -1 : 0;
}

int quarantine_file(struct queue *q, const char *data_dir, const char *path, const char *id,
                    char *moved, size_t size)
{
    char dir[PATH_MAX];
    struct envelope e;
    struct queue_writer w;
    if (quarantine_dir(data_dir, dir, sizeof dir) < 0 || fsio_mkdir_p(dir, 0700) < 0)
        return -1;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    int head = queue_load_salvage(fd, &e) >= 0;
    int r = head || errno == EINVAL ? 0 : -1;
    if (r == 0 && head)
        r = quarantine_write(q, fd, &e, &w);
    int saved = errno;
    close(fd);
    envelope_free(&e);
    errno = saved;
    if (r == 0 && quarantine_link(dir, path, id, moved, size) < 0) {
        saved = errno;
        if (head)
            queue_writer_abort(&w);
        errno = saved;
        return -1;
    }
    if (r < 0)
        return -1;
    return head ? quarantine_replace(&w) : quarantine_unlink(q, path, id);
}

long quarantine_count(const char *data_dir)
{
    char dir[PATH_MAX];
    if (quarantine_dir(data_dir, dir, sizeof dir) < 0)
        return -1;
    DIR *d = opendir(dir);
    if (!d)
        return errno == ENOENT ? 0 : -1;
    long n = 0;
    struct dirent *de;
    while ((de = readdir(d)))
        n += de->d_name[0] != '.';
    closedir(d);
    return n;
}
