/*
 * maildrop: writing and checking local submission drop files (maildrop.h).
 */
#include "mail/maildrop.h"
#include "lib/fsio.h"
#include "lib/str.h"
#include "proto/addr.h"
#include "proto/intl.h"
#include "proto/smtp_parse.h"
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#define MAILDROP_ID_LEN 16
#define MAILDROP_RAND_LEN 16

int maildrop_path(const char *data_dir, char *out, size_t size)
{
    return str_fmt(out, size, "%s/" MAILDROP_DIR, data_dir);
}

int maildrop_init(const char *data_dir)
{
    char dir[PATH_MAX];
    struct stat st;
    if (maildrop_path(data_dir, dir, sizeof dir) < 0) {
        errno = ENAMETOOLONG;
        return -1;
    }
    int created = mkdir(dir, 01733) == 0;
    if (!created && errno != EEXIST)
        return -1;
    if (stat(dir, &st) < 0)
        return -1;
    /* the owner (the server's user) puts a wrong mode right; a local user just uses it */
    if ((st.st_mode & 07777) != 01733 && st.st_uid == geteuid() && chmod(dir, 01733) < 0)
        return -1;
    return created ? fsio_fsync_dir(data_dir) : 0;
}

/*
 * Makes the rename durable. A local user cannot open the 1733 directory to
 * fsync it (no read permission): then the whole file system is synced.
 */
static int maildrop_sync_dir(const struct queue_writer *w)
{
    if (fsio_fsync_dir(w->dir) == 0)
        return 0;
    if (errno != EACCES)
        return -1;
    int fd = open(w->path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    int r = syncfs(fd);
    int saved = errno;
    close(fd);
    errno = saved;
    return r;
}

/* 16 random hex digits: a name other users cannot guess. -1 without a random source. */
static int maildrop_random(char out[MAILDROP_RAND_LEN + 1])
{
    static const char hex[] = "0123456789abcdef";
    unsigned char r[MAILDROP_RAND_LEN / 2];
    if (getrandom(r, sizeof r, 0) != (ssize_t)sizeof r)
        return -1;
    for (size_t i = 0; i < sizeof r; i++) {
        out[2 * i] = hex[r[i] >> 4];
        out[2 * i + 1] = hex[r[i] & 15];
    }
    out[MAILDROP_RAND_LEN] = '\0';
    return 0;
}

int maildrop_open(const char *data_dir, struct envelope *e, struct queue_writer *w)
{
    char dir[PATH_MAX], name[MAILDROP_NAME_MAX], rnd[MAILDROP_RAND_LEN + 1];
    if (maildrop_path(data_dir, dir, sizeof dir) < 0) {
        errno = ENAMETOOLONG;
        return -1;
    }
    for (int tries = 0; tries < 8; tries++) {
        if (tries > 0 || !e->id[0]) /* the caller may have chosen the id (a Message-ID uses it) */
            queue_new_id(e->id);
        if (maildrop_random(rnd) < 0)
            return -1;
        str_fmt(name, sizeof name, "%s.%s", e->id, rnd);
        /* readable by the server's user, who may not be the submitter; the
         * directory cannot be listed, and the name is not guessable */
        if (queue_writer_open_at(w, e, dir, name, 0644) == 0)
            return 0;
        if (errno != EEXIST)
            return -1;
        queue_writer_abort(w);
    }
    return -1;
}

int maildrop_commit(struct queue_writer *w)
{
    if (queue_writer_finish(w) < 0 || fsync(w->fd) < 0 || queue_writer_publish(w) < 0 ||
        maildrop_sync_dir(w) < 0) {
        int saved = errno;
        queue_writer_abort(w);
        errno = saved;
        return -1;
    }
    return 0;
}

static int maildrop_hex(const char *s, size_t n, const char *digits)
{
    for (size_t i = 0; i < n; i++)
        if (!s[i] || !strchr(digits, s[i]))
            return 0;
    return 1;
}

int maildrop_name_id(const char *name, char id[QUEUE_ID_MAX + 1])
{
    if (strlen(name) != MAILDROP_ID_LEN + 1 + MAILDROP_RAND_LEN ||
        !maildrop_hex(name, MAILDROP_ID_LEN, "0123456789ABCDEF") || name[MAILDROP_ID_LEN] != '.' ||
        !maildrop_hex(name + MAILDROP_ID_LEN + 1, MAILDROP_RAND_LEN, "0123456789abcdef"))
        return -1;
    str_ncopy(id, QUEUE_ID_MAX + 1, name, MAILDROP_ID_LEN);
    return 0;
}

static int maildrop_printable(const char *s, size_t max)
{
    size_t n = 0;
    for (; s[n]; n++)
        if ((unsigned char)s[n] < 0x20 || (unsigned char)s[n] > 0x7e || n >= max)
            return 0;
    return 1;
}

/* 1 if s is a good mailbox with a domain; UTF-8 only in an SMTPUTF8 message (RFC 6531). */
static int maildrop_mailbox_ok(const char *s, int utf8)
{
    struct addr a;
    return addr_parse_mailbox_flags(s, strlen(s), utf8 ? ADDR_ALLOW_UTF8 : 0, &a) == ADDR_OK &&
           a.domain[0];
}

/* An ORCPT "type;value": printable ASCII, or a UTF-8 value of type utf-8 with SMTPUTF8. */
static int maildrop_orcpt_ok(const char *o, int utf8)
{
    const char *semi = strchr(o, ';');
    if (!semi)
        return 0;
    if (utf8 && semi - o == 5 && strncmp(o, "utf-8", 5) == 0)
        return strlen(o) <= DSN_ORCPT_MAX + 32 && intl_utf8_ok(o, strlen(o));
    return maildrop_printable(o, DSN_ORCPT_MAX + 32);
}

static const char *maildrop_check_rcpt(const struct env_rcpt *r, int utf8)
{
    if (!r->addr || !maildrop_mailbox_ok(r->addr, utf8))
        return "bad recipient address";
    if (r->notify > 15 || ((r->notify & NOTIFY_NEVER) && r->notify != NOTIFY_NEVER))
        return "bad NOTIFY";
    if (r->orcpt && !maildrop_orcpt_ok(r->orcpt, utf8))
        return "bad ORCPT";
    if (r->parent != -1 || r->status != RCPT_PENDING || r->attempts || r->dsn_sent ||
        r->last_reply || r->remote_mta || r->tls)
        return "recipient carries delivery state";
    return NULL;
}

const char *maildrop_check(const struct envelope *e)
{
    if (!e->sender || (e->sender[0] && !maildrop_mailbox_ok(e->sender, e->smtputf8)))
        return "bad sender address";
    if (e->n_rcpts == 0)
        return "no recipients";
    if (e->n_rcpts > MAILDROP_RCPT_MAX)
        return "too many recipients";
    if (e->envid && !maildrop_printable(e->envid, DSN_ENVID_MAX))
        return "bad ENVID";
    for (size_t i = 0; i < e->n_rcpts; i++) {
        const char *why = maildrop_check_rcpt(&e->rcpts[i], e->smtputf8);
        if (why)
            return why;
    }
    return NULL;
}
