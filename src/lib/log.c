/*
 * log: timestamped event lines (see log.h). Each line is formatted into a
 * local buffer and written with a single write(2) so threads never interleave.
 * A reopen swaps the file under the same descriptor number with dup2(2), which
 * is atomic: a thread writing meanwhile writes its whole line to the old file
 * or to the new one.
 */
#include "lib/log.h"
#include "lib/str.h"
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

static int log_fd = 2;
static enum log_level log_min = LOG_INFO;
static long log_pid;
static char log_path[PATH_MAX]; /* "" = stderr */

static int log_open_file(const char *path)
{
    return open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640);
}

int log_open(const char *path)
{
    if (!path)
        return 0;
    if (str_copy(log_path, sizeof log_path, path) < 0) {
        log_path[0] = '\0';
        errno = ENAMETOOLONG;
        return -1;
    }
    int fd = log_open_file(path);
    if (fd < 0)
        return -1;
    log_fd = fd;
    return 0;
}

int log_reopen(void)
{
    if (!log_path[0])
        return 0;
    int fd = log_open_file(log_path);
    if (fd < 0)
        return -1;
    int r = dup2(fd, log_fd); /* log_fd is open: fd is another number */
    int saved = errno;
    close(fd);
    errno = saved;
    return r < 0 ? -1 : 1;
}

void log_set_level(enum log_level lvl)
{
    log_min = lvl;
}

void log_msg(enum log_level lvl, const char *fmt, ...)
{
    static const char *names[] = {"debug", "info", "warn", "error"};
    if (lvl < log_min)
        return;
    char line[2048];
    struct timeval tv;
    struct tm tm;
    if (!log_pid)
        log_pid = (long)getpid();
    gettimeofday(&tv, NULL);
    gmtime_r(&tv.tv_sec, &tm);
    size_t n = strftime(line, sizeof line, "%Y-%m-%dT%H:%M:%S", &tm);
    int m = snprintf(line + n, sizeof line - n, ".%03ldZ postino[%ld] %s: ",
                     (long)(tv.tv_usec / 1000), log_pid, names[lvl]);
    if (m > 0)
        n += (size_t)m;
    va_list ap;
    va_start(ap, fmt);
    m = vsnprintf(line + n, sizeof line - n - 1, fmt, ap);
    va_end(ap);
    if (m > 0)
        n += (size_t)m < sizeof line - n - 1 ? (size_t)m : sizeof line - n - 2;
    /* Never let a stray control character from the network split a log line. */
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)line[i] < 0x20)
            line[i] = '?';
    line[n++] = '\n';
    ssize_t w = write(log_fd, line, n);
    (void)w;
}
