/*
 * log: timestamped event lines (see log.h). Each line is rendered into a
 * local buffer and written with a single write(2) (or one syslog(3) call) so
 * threads never interleave. A reopen swaps the file under the same
 * descriptor number with dup2(2), which is atomic: a thread writing meanwhile
 * writes its whole line to the old file or to the new one. The text format
 * is the one postino has always written; json escapes through lib/json.
 */
#include "lib/log.h"
#include "lib/json.h"
#include "lib/log_syslog.h"
#include "lib/str.h"
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#define LOG_LINE_MAX 2048    /* a text line, newline included, as it always was */
#define LOG_RENDER_MAX 65536 /* a json line: every byte of the text escaped, and the fields */

static int log_fd = 2;
static int log_syslog;
static enum log_level log_min = LOG_INFO;
static atomic_int log_fmt = LOG_FORMAT_TEXT; /* a reload may change it while workers log */
static long log_pid;
static char log_path[PATH_MAX]; /* "" = stderr */
static const char *const log_level_names[] = {"debug", "info", "warn", "error"};

static int log_open_file(const char *path)
{
    return open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640);
}

int log_open(const char *path)
{
    if (!path)
        return 0;
    if (strcmp(path, "syslog") == 0) {
        log_syslog_open();
        log_syslog = 1;
        return 0;
    }
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
    if (!log_path[0] || log_syslog)
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

void log_set_format(enum log_format fmt)
{
    atomic_store_explicit(&log_fmt, (int)fmt, memory_order_relaxed);
}

int log_format_parse(const char *s, enum log_format *fmt)
{
    if (strcmp(s, "text") == 0)
        *fmt = LOG_FORMAT_TEXT;
    else if (strcmp(s, "json") == 0)
        *fmt = LOG_FORMAT_JSON;
    else
        return -1;
    return 0;
}

/* "2026-12-05T12:00:00.123Z" */
static int log_time(struct buf *out, int64_t time_ms)
{
    char t[40];
    struct tm tm;
    time_t sec = (time_t)(time_ms / 1000);
    gmtime_r(&sec, &tm);
    size_t n = strftime(t, sizeof t, "%Y-%m-%dT%H:%M:%S", &tm);
    return buf_append(out, t, n) | buf_printf(out, ".%03dZ", (int)(time_ms % 1000));
}

/* Appends " " then the part, or only the part at the start of the body. */
static int log_text_part(struct buf *out, size_t body, const char *fmt, const char *v)
{
    if (!v)
        return 0;
    return (out->len > body ? buf_putc(out, ' ') : 0) | buf_printf(out, fmt, v);
}

static int log_render_text(struct buf *out, int prefix, enum log_level lvl, int64_t time_ms,
                           long pid, const struct log_fields *f, const char *text)
{
    int r = 0;
    if (prefix)
        r |= log_time(out, time_ms) |
             buf_printf(out, " postino[%ld] %s: ", pid, log_level_names[lvl]);
    else if (lvl >= LOG_WARN)
        r |= buf_appends(out, lvl == LOG_WARN ? "warning: " : "error: ");
    if (f && f->queue_id)
        r |= buf_printf(out, "%s: ", f->queue_id);
    size_t body = out->len;
    if (f) {
        r |= log_text_part(out, body, "from=<%s>", f->from);
        r |= log_text_part(out, body, "to=<%s>", f->to);
        r |= log_text_part(out, body, "relay=%s", f->relay);
        r |= log_text_part(out, body, "tls=%s", f->tls);
        r |= log_text_part(out, body, "status=%s", f->status);
        if (f->status) /* a reply belongs to a status: "status=sent (250 Ok)" */
            r |= log_text_part(out, body, "(%s)", f->reply);
    }
    r |= log_text_part(out, body, "%s", text && text[0] ? text : NULL);
    if (out->len > LOG_LINE_MAX - 1)
        out->len = LOG_LINE_MAX - 1;
    /* Never let a stray control character from the network split a log line. */
    for (size_t i = 0; i < out->len; i++)
        if ((unsigned char)out->data[i] < 0x20)
            out->data[i] = '?';
    return r ? -1 : 0;
}

static int log_json_field(struct buf *out, const char *name, const char *v)
{
    if (!v)
        return 0;
    return buf_printf(out, ",\"%s\":", name) | json_str(out, v);
}

static int log_render_json(struct buf *out, enum log_level lvl, int64_t time_ms,
                           const struct log_fields *f, const char *text)
{
    static const struct log_fields none;
    if (!f)
        f = &none;
    int r = buf_appends(out, "{\"time\":\"") | log_time(out, time_ms) |
            buf_printf(out, "\",\"level\":\"%s\"", log_level_names[lvl]);
    r |= log_json_field(out, "queue_id", f->queue_id);
    r |= log_json_field(out, "event", f->event ? f->event : text ? text : "");
    r |= log_json_field(out, "client", f->client);
    r |= log_json_field(out, "from", f->from);
    r |= log_json_field(out, "to", f->to);
    r |= log_json_field(out, "relay", f->relay);
    r |= log_json_field(out, "tls", f->tls);
    r |= log_json_field(out, "status", f->status);
    r |= log_json_field(out, "dsn", f->dsn);
    r |= log_json_field(out, "reply", f->reply);
    if (f->has_delay) {
        int64_t d = f->delay_ms < 0 ? 0 : f->delay_ms;
        r |= buf_printf(out, ",\"delay\":%lld.%03d", (long long)(d / 1000), (int)(d % 1000));
    }
    return r | buf_putc(out, '}') ? -1 : 0;
}

int log_render(struct buf *out, enum log_format fmt, int prefix, enum log_level lvl,
               int64_t time_ms, long pid, const struct log_fields *f, const char *text)
{
    if (lvl > LOG_ERR)
        lvl = LOG_ERR;
    if (fmt == LOG_FORMAT_JSON)
        return log_render_json(out, lvl, time_ms, f, text);
    return log_render_text(out, prefix, lvl, time_ms, pid, f, text);
}

static void log_emit(enum log_level lvl, const struct log_fields *f, const char *text)
{
    struct timeval tv;
    struct buf line;
    if (!log_pid)
        log_pid = (long)getpid();
    gettimeofday(&tv, NULL);
    buf_init(&line, LOG_RENDER_MAX);
    int64_t ms = (int64_t)tv.tv_sec * 1000 + tv.tv_usec / 1000;
    enum log_format fmt = (enum log_format)atomic_load_explicit(&log_fmt, memory_order_relaxed);
    if (log_render(&line, fmt, !log_syslog, lvl, ms, log_pid, f, text) < 0 && !line.len) {
        buf_free(&line);
        return;
    }
    if (log_syslog) {
        log_syslog_write((int)lvl, line.data, line.len);
    } else if (buf_putc(&line, '\n') == 0) {
        ssize_t w = write(log_fd, line.data, line.len);
        (void)w;
    }
    buf_free(&line);
}

static void log_vemit(enum log_level lvl, const struct log_fields *f, const char *fmt,
                      va_list ap)
{
    char text[LOG_LINE_MAX];
    text[0] = '\0';
    if (fmt && vsnprintf(text, sizeof text, fmt, ap) < 0)
        text[0] = '\0';
    log_emit(lvl, f, text);
}

void log_msg(enum log_level lvl, const char *fmt, ...)
{
    if (lvl < log_min)
        return;
    va_list ap;
    va_start(ap, fmt);
    log_vemit(lvl, NULL, fmt, ap);
    va_end(ap);
}

void log_event(enum log_level lvl, const struct log_fields *f, const char *fmt, ...)
{
    if (lvl < log_min)
        return;
    va_list ap;
    va_start(ap, fmt);
    log_vemit(lvl, f, fmt, ap);
    va_end(ap);
}
