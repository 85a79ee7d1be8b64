/*
 * log: one line per event, with a timestamp and level, to stderr or to the
 * configured log_file. Thread-safe (one write(2) per line). No mail knowledge.
 */
#ifndef POSTINO_LOG_H
#define POSTINO_LOG_H

enum log_level { LOG_DEBUG, LOG_INFO, LOG_WARN, LOG_ERR };

/* Sends log lines to path (appending); NULL = stderr. Returns -1 if it cannot open. */
int log_open(const char *path);
/* Opens the log file's path again (after a rotation renamed it) and writes there from
 * now on. 1 if reopened, 0 when logging to stderr, -1 (errno) if it cannot: the old
 * file stays in use. */
int log_reopen(void);
void log_set_level(enum log_level lvl);
void log_msg(enum log_level lvl, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#define log_debug(...) log_msg(LOG_DEBUG, __VA_ARGS__)
#define log_info(...) log_msg(LOG_INFO, __VA_ARGS__)
#define log_warn(...) log_msg(LOG_WARN, __VA_ARGS__)
#define log_err(...) log_msg(LOG_ERR, __VA_ARGS__)

#endif
