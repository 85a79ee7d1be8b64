/*
 * log: one line per event, with a timestamp and level, to stderr, to the
 * configured log_file, or to syslog(3) (log_file syslog: facility mail,
 * ident "postino"). Thread-safe (one write(2) or syslog(3) call per line).
 * No mail knowledge: an event's fields are just named strings.
 *
 * Two formats (log_format): text, the Postfix-like line
 *   TIME postino[PID] LEVEL: [QUEUE_ID: ][from=<F> ][to=<T> ][relay=R ][status=S ][(REPLY) ]TEXT
 * and json, one object per line with the fields of struct log_fields that
 * are set ("time", "level", then the rest; a free-text line is its "event").
 * The text shows queue_id, from, to, relay, tls, status and, after a status
 * only, the reply; event, client, dsn and delay are in json only (they are
 * in the TEXT where a line has always said them).
 */
#ifndef POSTINO_LOG_H
#define POSTINO_LOG_H
#include <stdint.h>
#include "lib/buf.h"

enum log_level { LOG_DEBUG, LOG_INFO, LOG_WARN, LOG_ERR };
enum log_format { LOG_FORMAT_TEXT, LOG_FORMAT_JSON };

/* The named fields of one event; NULL (or has_delay 0) = absent. */
struct log_fields {
    const char *queue_id;
    const char *event;      /* short name: "received", "delivered", "deferred", ... */
    const char *client;
    const char *from, *to;
    const char *relay;
    const char *tls;        /* how the relay's connection was protected: "TLSv1.3/C/verified" */
    const char *status;
    const char *dsn;        /* enhanced status code, "2.0.0" */
    const char *reply;
    int64_t delay_ms;       /* json: "delay" in seconds (a number) */
    int has_delay;
};

/* Sends log lines to path (appending); NULL = stderr; "syslog" = syslog(3).
 * Returns -1 if it cannot open. */
int log_open(const char *path);
/* Opens the log file's path again (after a rotation renamed it) and writes there from
 * now on. 1 if reopened, 0 when logging to stderr or syslog, -1 (errno) if it cannot:
 * the old file stays in use. */
int log_reopen(void);
void log_set_level(enum log_level lvl);
void log_set_format(enum log_format fmt);
/* "text" or "json" -> format; -1 for another word. */
int log_format_parse(const char *s, enum log_format *fmt);
void log_msg(enum log_level lvl, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* A mail event: f's fields, then the free text fmt (may be NULL) in the text format. */
void log_event(enum log_level lvl, const struct log_fields *f, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/*
 * Renders one line into out (no newline; prefix = 0 leaves out the time,
 * pid and level of the text format, as syslog adds its own). Pure: the unit
 * tests call it with a fixed time. 0, or -1 when out's maximum was reached.
 */
int log_render(struct buf *out, enum log_format fmt, int prefix, enum log_level lvl,
               int64_t time_ms, long pid, const struct log_fields *f, const char *text);

#define log_debug(...) log_msg(LOG_DEBUG, __VA_ARGS__)
#define log_info(...) log_msg(LOG_INFO, __VA_ARGS__)
#define log_warn(...) log_msg(LOG_WARN, __VA_ARGS__)
#define log_err(...) log_msg(LOG_ERR, __VA_ARGS__)

#endif
