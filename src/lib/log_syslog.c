/*
 * log_syslog: lines to syslog(3) (see log_syslog.h). glibc sends each line as
 * one datagram on the UNIX socket /dev/log, as Postfix does: a datagram is
 * written whole or not at all, so lines never interleave. A send blocks only
 * while the syslog daemon's receive queue is full (a daemon that stopped
 * reading): the same back pressure Postfix lives with, bounded by that queue;
 * when no daemon listens at all, glibc drops the line at once.
 */
#include "lib/log_syslog.h"
#include <syslog.h>

void log_syslog_open(void)
{
    openlog("postino", LOG_PID | LOG_NDELAY, LOG_MAIL);
}

void log_syslog_write(int level, const char *line, size_t len)
{
    static const int prio[] = {LOG_DEBUG, LOG_INFO, LOG_WARNING, LOG_ERR};
    if (level < 0 || level > 3)
        level = 3;
    syslog(prio[level], "%.*s", (int)len, line);
}
