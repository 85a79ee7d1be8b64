/*
 * rfc5322: date-time formatting (RFC 5322 3.3), locale-independent.
 */
#include "proto/rfc5322.h"
#include "lib/str.h"

int rfc5322_date(time_t t, char *out, size_t size)
{
    static const char *days[] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
    static const char *months[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                   "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
    struct tm tm;
    /* RFC 5322 3.3 wants a 4-digit year from 1900 on: a clock or a queue file
     * with an absurd time is clamped, never overflows tm_year + 1900. */
    if (t < 0)
        t = 0;
    if (t > RFC5322_TIME_MAX)
        t = RFC5322_TIME_MAX;
    if (!gmtime_r(&t, &tm))
        return -1;
    return str_fmt(out, size, "%s, %02d %s %04d %02d:%02d:%02d +0000", days[tm.tm_wday],
                   tm.tm_mday, months[tm.tm_mon], tm.tm_year + 1900, tm.tm_hour, tm.tm_min,
                   tm.tm_sec);
}
