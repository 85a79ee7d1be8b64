/*
 * mailbox: Maildir snapshot, seen-marking and deletion for POP3.
 * Never writes message contents; the only changes are renames (seen) and
 * unlinks (deleted at QUIT), both the Maildir conventions readers expect,
 * and the Web reader's move to the Maildir++ .Trash folder.
 */
#include "mail/mailbox.h"
#include "lib/alloc.h"
#include "lib/fsio.h"
#include "lib/str.h"
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* Bytes plus LFs of the file at path: its size as POP3 sends it. */
static int mailbox_wire_size(const char *path, uint64_t *out)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    char buf[65536];
    uint64_t n = 0;
    ssize_t r;
    while ((r = read(fd, buf, sizeof buf)) > 0) {
        n += (uint64_t)r;
        for (const char *p = buf; (p = memchr(p, '\n', (size_t)(buf + r - p))) != NULL; p++)
            n++;
    }
    int e = errno;
    close(fd);
    if (r < 0) {
        errno = e;
        return -1;
    }
    *out = n;
    return 0;
}

static void mailbox_add(struct mailbox *mb, size_t *cap, const char *name, int in_new,
                        uint64_t size)
{
    if (mb->n == *cap) {
        *cap = *cap ? *cap * 2 : 16;
        mb->msgs = xrealloc(mb->msgs, *cap * sizeof *mb->msgs);
    }
    struct mailbox_msg *m = &mb->msgs[mb->n++];
    memset(m, 0, sizeof *m);
    m->name = xstrdup(name);
    const char *info = strstr(name, ":2,");
    m->uid = info ? xstrndup(name, (size_t)(info - name)) : xstrdup(name);
    m->in_new = in_new;
    m->size = size;
}

/* Adds every regular, non-hidden file of DIR/sub. A missing folder is empty. With
 * light, the size is the file's (one stat, nothing read). */
static int mailbox_scan(struct mailbox *mb, size_t *cap, const char *sub, int light)
{
    char dir[PATH_MAX], path[PATH_MAX];
    if (str_fmt(dir, sizeof dir, "%s/%s", mb->dir, sub) < 0)
        return errno = ENAMETOOLONG, -1;
    DIR *d = opendir(dir);
    if (!d)
        return errno == ENOENT ? 0 : -1;
    struct dirent *de;
    while ((de = readdir(d)) != NULL) {
        struct stat st;
        uint64_t size;
        if (de->d_name[0] == '.')
            continue;
        /* relative to the open folder: no walk of the whole path per message */
        if (fstatat(dirfd(d), de->d_name, &st, 0) < 0 || !S_ISREG(st.st_mode))
            continue; /* vanished meanwhile, or not a message */
        if (light)
            size = (uint64_t)st.st_size;
        else if (str_fmt(path, sizeof path, "%s/%s", dir, de->d_name) < 0 ||
                 mailbox_wire_size(path, &size) < 0)
            continue;
        mailbox_add(mb, cap, de->d_name, sub[0] == 'n', size);
    }
    closedir(d);
    return 0;
}

static int mailbox_cmp(const void *a, const void *b)
{
    const struct mailbox_msg *x = a, *y = b;
    int c = strcmp(x->uid, y->uid);
    return c ? c : strcmp(x->name, y->name);
}

static int mailbox_snapshot(struct mailbox *mb, const char *data_dir, const char *domain,
                            const char *local, int light)
{
    memset(mb, 0, sizeof *mb);
    size_t cap = 0;
    if (str_fmt(mb->dir, sizeof mb->dir, "%s/mail/%s/%s", data_dir, domain, local) < 0)
        return errno = ENAMETOOLONG, -1;
    if (mailbox_scan(mb, &cap, "new", light) < 0 || mailbox_scan(mb, &cap, "cur", light) < 0) {
        int e = errno;
        mailbox_close(mb);
        errno = e;
        return -1;
    }
    if (mb->n)
        qsort(mb->msgs, mb->n, sizeof *mb->msgs, mailbox_cmp);
    return 0;
}

int mailbox_open(struct mailbox *mb, const char *data_dir, const char *domain, const char *local)
{
    return mailbox_snapshot(mb, data_dir, domain, local, 0);
}

int mailbox_open_light(struct mailbox *mb, const char *data_dir, const char *domain,
                       const char *local)
{
    return mailbox_snapshot(mb, data_dir, domain, local, 1);
}

long mailbox_find(const struct mailbox *mb, const char *uid)
{
    size_t lo = 0, hi = mb->n;
    while (lo < hi) { /* sorted by uid (mailbox_cmp) */
        size_t mid = lo + (hi - lo) / 2;
        int c = strcmp(mb->msgs[mid].uid, uid);
        if (c == 0)
            return (long)mid;
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return -1;
}

int mailbox_path(const struct mailbox *mb, size_t i, char *out, size_t size)
{
    const struct mailbox_msg *m = &mb->msgs[i];
    return str_fmt(out, size, "%s/%s/%s", mb->dir, m->in_new ? "new" : "cur", m->name);
}

int mailbox_mark_seen(struct mailbox *mb, size_t i)
{
    struct mailbox_msg *m = &mb->msgs[i];
    const char *info = strstr(m->name, ":2,");
    if (!m->in_new && info && strchr(info + 3, 'S'))
        return 0;
    char from[PATH_MAX], to[PATH_MAX], name[NAME_MAX + 1];
    int r;
    if (!info)
        r = str_fmt(name, sizeof name, "%s:2,S", m->name);
    else if (strchr(info + 3, 'S'))
        r = str_copy(name, sizeof name, m->name);
    else /* another flag is set: add S */
        r = str_fmt(name, sizeof name, "%sS", m->name);
    if (r < 0 || mailbox_path(mb, i, from, sizeof from) < 0 ||
        str_fmt(to, sizeof to, "%s/cur/%s", mb->dir, name) < 0)
        return errno = ENAMETOOLONG, -1;
    char cur[PATH_MAX];
    if (str_fmt(cur, sizeof cur, "%s/cur", mb->dir) < 0)
        return errno = ENAMETOOLONG, -1;
    if (mkdir(cur, 0700) < 0 && errno != EEXIST)
        return -1;
    if (rename(from, to) < 0)
        return -1;
    free(m->name);
    m->name = xstrdup(name);
    m->in_new = 0;
    return 0;
}

int mailbox_name_seen(const char *name)
{
    const char *info = NULL;
    for (const char *p = name; (p = strstr(p, ":2,")) != NULL; p += 3)
        info = p;
    return info && strchr(info + 3, 'S') != NULL;
}

int mailbox_msg_seen(const struct mailbox_msg *m)
{
    return !m->in_new && mailbox_name_seen(m->name);
}

/* DIR/.Trash/{tmp,new,cur} and DIR/.Trash/maildirfolder, made when missing; the
 * parent folders are fsync'd when something was made. 0 or -1 (errno). */
static int mailbox_trash_folder(const struct mailbox *mb, char *trash, size_t size)
{
    static const char *const subs[] = {"tmp", "new", "cur"};
    char path[PATH_MAX];
    int made = 0;
    if (str_fmt(trash, size, "%s/.Trash", mb->dir) < 0)
        return errno = ENAMETOOLONG, -1;
    if (mkdir(trash, 0700) == 0)
        made = 1;
    else if (errno != EEXIST)
        return -1;
    for (size_t k = 0; k < sizeof subs / sizeof subs[0]; k++) {
        if (str_fmt(path, sizeof path, "%s/%s", trash, subs[k]) < 0)
            return errno = ENAMETOOLONG, -1;
        if (mkdir(path, 0700) == 0)
            made = 1;
        else if (errno != EEXIST)
            return -1;
    }
    if (str_fmt(path, sizeof path, "%s/maildirfolder", trash) < 0)
        return errno = ENAMETOOLONG, -1;
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd >= 0) {
        close(fd);
        made = 1;
    } else if (errno != EEXIST) {
        return -1;
    }
    if (made && (fsio_fsync_dir(trash) < 0 || fsio_fsync_dir(mb->dir) < 0))
        return -1;
    return 0;
}

int mailbox_trash(struct mailbox *mb, size_t i)
{
    struct mailbox_msg *m = &mb->msgs[i];
    char trash[PATH_MAX], from[PATH_MAX], from_dir[PATH_MAX], to[PATH_MAX], to_dir[PATH_MAX];
    if (mailbox_trash_folder(mb, trash, sizeof trash) < 0)
        return -1;
    if (mailbox_path(mb, i, from, sizeof from) < 0 ||
        str_fmt(from_dir, sizeof from_dir, "%s/%s", mb->dir, m->in_new ? "new" : "cur") < 0 ||
        str_fmt(to_dir, sizeof to_dir, "%s/cur", trash) < 0 ||
        str_fmt(to, sizeof to, "%s/%s", to_dir, m->name) < 0)
        return errno = ENAMETOOLONG, -1;
    if (rename(from, to) < 0)
        return -1;
    /* both directory entries changed: fsync both, so a crash keeps the move whole */
    if (fsio_fsync_dir(to_dir) < 0 || fsio_fsync_dir(from_dir) < 0)
        return -1;
    return 0;
}

size_t mailbox_commit(struct mailbox *mb)
{
    size_t failed = 0;
    char path[PATH_MAX];
    for (size_t i = 0; i < mb->n; i++) {
        if (!mb->msgs[i].deleted)
            continue;
        if (mailbox_path(mb, i, path, sizeof path) < 0 || (unlink(path) < 0 && errno != ENOENT))
            failed++;
    }
    return failed;
}

void mailbox_close(struct mailbox *mb)
{
    for (size_t i = 0; i < mb->n; i++) {
        free(mb->msgs[i].name);
        free(mb->msgs[i].uid);
    }
    free(mb->msgs);
    mb->msgs = NULL;
    mb->n = 0;
}
