/*
 * log_syslog: the syslog(3) end of lib/log, apart because <syslog.h> defines
 * LOG_INFO and friends, which are lib/log's level names. Facility mail, ident
 * "postino", the pid in every line (LOG_PID), the socket opened at once
 * (LOG_NDELAY) so it is open before the privilege drop.
 */
#ifndef POSTINO_LOG_SYSLOG_H
#define POSTINO_LOG_SYSLOG_H
#include <stddef.h>

void log_syslog_open(void);
/* level: 0 debug, 1 info, 2 warning, 3 error (enum log_level's order). */
void log_syslog_write(int level, const char *line, size_t len);

#endif
