/*
 * maildir: Maildir delivery (see maildir.h).
 */
#include "mail/maildir.h"
#include "lib/buf.h"
#include "lib/fsio.h"
#include "lib/str.h"
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define MAILDIR_CHUNK 65536

int maildir_unique_name(char *out, size_t size, uint64_t sec, const char *id, size_t n,
                        const char *host)
{
    char h[256];
    size_t j = 0;
    for (const char *p = host; *p && j + 5 < sizeof h; p++) {
        if (*p == '/' || *p == ':') {
            str_fmt(h + j, sizeof h - j, "\\%03o", (unsigned)(unsigned char)*p);
            j += 4;
        } else {
            h[j++] = *p;
        }
    }
    h[j] = '\0';
    return str_fmt(out, size, "%llu.Q%s_%zu.%s", (unsigned long long)sec, id, n, h);
}

int maildir_component_ok(const char *s)
{
    if (!*s || *s == '.')
        return 0;
    for (; *s; s++)
        if (*s == '/' || (unsigned char)*s < 0x20 || *s == 0x7f)
            return 0;
    return 1;
}

int maildir_box_path(char *out, size_t size, const char *data_dir, const char *domain,
                     const char *local)
{
    if (!maildir_component_ok(domain) || !maildir_component_ok(local)) {
        errno = EINVAL;
        return -1;
    }
    if (str_fmt(out, size, "%s/mail/%s/%s", data_dir, domain, local) < 0) {
        errno = ENAMETOOLONG;
        return -1;
    }
    return 0;
}

size_t maildir_crlf_to_lf(struct maildir_lf *st, const char *in, size_t n, char *out)
{
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        char c = in[i];
        if (st->held_cr) {
            st->held_cr = 0;
            if (c != '\n')
                out[o++] = '\r';
        }
        if (c == '\r')
            st->held_cr = 1;
        else
            out[o++] = c;
    }
    return o;
}

/* Creates the mailbox folders when missing. */
static int maildir_create(const char *box)
{
    static const char *subs[] = {"tmp", "new", "cur"};
    char p[PATH_MAX];
    for (size_t i = 0; i < 3; i++)
        if (str_fmt(p, sizeof p, "%s/%s", box, subs[i]) < 0 || fsio_mkdir_p(p, 0700) < 0)
            return -1;
    return 0;
}

/* Copies content from fd to out converting line ends. */
static int maildir_copy(int fd, uint64_t offset, uint64_t size, int out)
{
    static _Thread_local char in[MAILDIR_CHUNK], conv[MAILDIR_CHUNK + 1];
    struct maildir_lf st = {0};
    while (size > 0) {
        size_t want = size < MAILDIR_CHUNK ? (size_t)size : MAILDIR_CHUNK;
        ssize_t r = pread(fd, in, want, (off_t)offset);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0) {
            if (r == 0)
                errno = EIO; /* queue file shorter than its envelope says */
            return -1;
        }
        size_t n = maildir_crlf_to_lf(&st, in, (size_t)r, conv);
        if (fsio_write_all(out, conv, n) < 0)
            return -1;
        offset += (uint64_t)r;
        size -= (uint64_t)r;
    }
    return st.held_cr ? fsio_write_all(out, "\r", 1) : 0;
}

/* Return-Path, then the first delivered_to_at octets of content and Delivered-To. */
static int maildir_write_head(int out, const struct maildir_head *head, int fd, uint64_t offset,
                              uint64_t size)
{
    struct buf lines;
    buf_init(&lines, 4096);
    int r = buf_printf(&lines, "Return-Path: <%s>\n", head->return_path);
    if (r == 0)
        r = fsio_write_all(out, lines.data, lines.len);
    if (r == 0 && head->delivered_to) {
        if (head->delivered_to_at > size) {
            errno = EINVAL;
            r = -1;
        } else {
            r = maildir_copy(fd, offset, head->delivered_to_at, out);
        }
        buf_reset(&lines);
        if (r == 0 && (r = buf_printf(&lines, "Delivered-To: %s\n", head->delivered_to)) == 0)
            r = fsio_write_all(out, lines.data, lines.len);
    }
    buf_free(&lines);
    return r;
}

static int maildir_open_tmp(const char *box, const char *name, char *tmp, size_t size)
{
    if (str_fmt(tmp, size, "%s/tmp/%s", box, name) < 0) {
        errno = ENAMETOOLONG;
        return -1;
    }
    /* O_TRUNC: a stale copy left in tmp/ by a crash is simply rewritten */
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0 && errno == ENOENT && maildir_create(box) == 0)
        fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    return fd;
}

int maildir_write(const char *data_dir, const char *domain, const char *local, const char *name,
                  const struct maildir_head *head, int fd, uint64_t offset, uint64_t size,
                  struct maildir_msg *m)
{
    char box[PATH_MAX];
    m->fd = -1;
    m->tmp[0] = '\0';
    if (!maildir_component_ok(name)) {
        errno = EINVAL;
        return -1;
    }
    if (maildir_box_path(box, sizeof box, data_dir, domain, local) < 0)
        return -1;
    if (str_fmt(m->dst, sizeof m->dst, "%s/new/%s", box, name) < 0 ||
        str_fmt(m->new_dir, sizeof m->new_dir, "%s/new", box) < 0) {
        errno = ENAMETOOLONG;
        return -1;
    }
    m->fd = maildir_open_tmp(box, name, m->tmp, sizeof m->tmp);
    if (m->fd < 0)
        return -1;
    int r = maildir_write_head(m->fd, head, fd, offset, size);
    uint64_t done = head->delivered_to ? head->delivered_to_at : 0;
    if (r == 0)
        r = maildir_copy(fd, offset + done, size - done, m->fd);
    if (r < 0) {
        int saved = errno;
        maildir_abort(m);
        errno = saved;
    }
    return r;
}

int maildir_publish(struct maildir_msg *m)
{
    int r = close(m->fd);
    m->fd = -1;
    if (r == 0 && renameat2(AT_FDCWD, m->tmp, AT_FDCWD, m->dst, RENAME_NOREPLACE) < 0) {
        if (errno != EEXIST)
            r = -1;
        else
            unlink(m->tmp); /* delivered before a crash: keep the first copy */
    }
    if (r < 0) {
        int saved = errno;
        unlink(m->tmp);
        errno = saved;
    }
    return r;
}

void maildir_abort(struct maildir_msg *m)
{
    if (m->fd >= 0)
        close(m->fd);
    m->fd = -1;
    if (m->tmp[0])
        unlink(m->tmp);
    m->tmp[0] = '\0';
}
