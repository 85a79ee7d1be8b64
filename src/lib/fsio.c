/*
 * fsio: durable file writes (see fsio.h).
 */
#include "lib/fsio.h"
#include "lib/str.h"
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int fsio_write_all(int fd, const void *p, size_t n)
{
    const char *c = p;
    while (n > 0) {
        ssize_t w = write(fd, c, n);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            return -1;
        }
        c += w;
        n -= (size_t)w;
    }
    return 0;
}

int fsio_copy_range(int in, uint64_t off, uint64_t n, int out)
{
    char chunk[65536];
    while (n > 0) {
        ssize_t got = pread(in, chunk, n < sizeof chunk ? (size_t)n : sizeof chunk, (off_t)off);
        if (got <= 0) {
            errno = got < 0 ? errno : EIO;
            return -1;
        }
        if (fsio_write_all(out, chunk, (size_t)got) < 0)
            return -1;
        off += (uint64_t)got;
        n -= (uint64_t)got;
    }
    return 0;
}

int fsio_fsync_dir(const char *dir)
{
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    int r = fsync(fd);
    int saved = errno;
    close(fd);
    errno = saved;
    return r;
}

int fsio_mkdir_p(const char *path, mode_t mode)
{
    char tmp[PATH_MAX];
    if (str_copy(tmp, sizeof tmp, path) < 0) {
        errno = ENAMETOOLONG;
        return -1;
    }
    for (char *p = tmp + 1; *p; p++) {
        if (*p != '/')
            continue;
        *p = '\0';
        if (mkdir(tmp, mode) < 0 && errno != EEXIST)
            return -1;
        *p = '/';
    }
    if (mkdir(tmp, mode) < 0 && errno != EEXIST)
        return -1;
    return 0;
}

int fsio_dirname(const char *path, char *dir, size_t size)
{
    const char *slash = strrchr(path, '/');
    if (!slash)
        return str_copy(dir, size, ".");
    if (slash == path)
        return str_copy(dir, size, "/");
    return str_ncopy(dir, size, path, (size_t)(slash - path));
}

int fsio_write_atomic(const char *path, const void *data, size_t n)
{
    char tmp[PATH_MAX], dir[PATH_MAX];
    if (str_fmt(tmp, sizeof tmp, "%s.tmp", path) < 0 || fsio_dirname(path, dir, sizeof dir) < 0) {
        errno = ENAMETOOLONG;
        return -1;
    }
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0)
        return -1;
    if (fsio_write_all(fd, data, n) < 0 || fsync(fd) < 0) {
        int saved = errno;
        close(fd);
        unlink(tmp);
        errno = saved;
        return -1;
    }
    if (close(fd) < 0 || rename(tmp, path) < 0) {
        int saved = errno;
        unlink(tmp);
        errno = saved;
        return -1;
    }
    return fsio_fsync_dir(dir);
}

int fsio_read_file(const char *path, struct buf *out, size_t max)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    char chunk[65536];
    size_t total = 0;
    for (;;) {
        ssize_t r = read(fd, chunk, sizeof chunk);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0 || (total += (size_t)(r > 0 ? r : 0)) > max ||
            (r > 0 && buf_append(out, chunk, (size_t)r) < 0)) {
            int saved = r < 0 ? errno : EFBIG;
            close(fd);
            errno = saved;
            return -1;
        }
        if (r == 0)
            break;
    }
    close(fd);
    return 0;
}

/* Offset just after the last '\n' before end, or -1 (errno EINVAL when there is none). */
static off_t fsio_last_newline_end(int fd, off_t end)
{
    char chunk[4096];
    while (end > 0) {
        size_t want = end < (off_t)sizeof chunk ? (size_t)end : sizeof chunk;
        ssize_t n = pread(fd, chunk, want, end - (off_t)want);
        if (n < 0 && errno == EINTR)
            continue;
        if (n != (ssize_t)want) {
            if (n >= 0)
                errno = EIO;
            return -1;
        }
        const char *nl = memrchr(chunk, '\n', want);
        if (nl)
            return end - (off_t)want + (off_t)(nl - chunk) + 1;
        end -= (off_t)want;
    }
    errno = EINVAL;
    return -1;
}

int fsio_append_undo(int fd, off_t old)
{
    if (ftruncate(fd, old) < 0 || fsync(fd) < 0)
        return -1;
    return 0;
}

int fsio_cut_torn_tail(int fd)
{
    struct stat st;
    if (fstat(fd, &st) < 0)
        return -1;
    if (st.st_size == 0)
        return 0;
    off_t good = fsio_last_newline_end(fd, st.st_size);
    if (good < 0)
        return -1;
    if (good == st.st_size)
        return 0;
    return fsio_append_undo(fd, good) < 0 ? -1 : 1;
}

int fsio_append_records(int fd, const void *p, size_t n, off_t *old)
{
    if (fsio_cut_torn_tail(fd) < 0)
        return -1;
    off_t end = lseek(fd, 0, SEEK_END);
    if (end < 0)
        return -1;
    if (old)
        *old = end;
    if (fsio_write_all(fd, p, n) == 0)
        return 0;
    int saved = errno;
    fsio_append_undo(fd, end); /* best effort; a torn tail left behind is cut next time */
    errno = saved;
    return -1;
}
