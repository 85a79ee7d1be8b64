/*
 * dur: durations and sizes (see dur.h).
 */
#include "lib/dur.h"
#include "lib/str.h"
#include <ctype.h>
#include <string.h>
#include <strings.h>

/* Parses the leading decimal digits; -1 if none or on overflow. */
static int dur_digits(const char **s, uint64_t *v)
{
    const char *p = *s;
    uint64_t n = 0;
    if (!isdigit((unsigned char)*p))
        return -1;
    for (; isdigit((unsigned char)*p); p++) {
        if (n > (UINT64_MAX - 9) / 10)
            return -1;
        n = n * 10 + (uint64_t)(*p - '0');
    }
    *s = p;
    *v = n;
    return 0;
}

int dur_parse(const char *s, int64_t *ms)
{
    uint64_t n, mult;
    if (dur_digits(&s, &n) < 0)
        return -1;
    if (*s == '\0' || strcmp(s, "s") == 0)
        mult = 1000;
    else if (strcmp(s, "ms") == 0)
        mult = 1;
    else if (strcmp(s, "m") == 0)
        mult = 60000;
    else if (strcmp(s, "h") == 0)
        mult = 3600000;
    else if (strcmp(s, "d") == 0)
        mult = 86400000;
    else if (strcmp(s, "w") == 0)
        mult = 7 * 86400000ULL;
    else
        return -1;
    if (n > (uint64_t)INT64_MAX / mult)
        return -1;
    *ms = (int64_t)(n * mult);
    return 0;
}

int size_parse(const char *s, uint64_t *bytes)
{
    uint64_t n, mult = 1;
    if (dur_digits(&s, &n) < 0)
        return -1;
    switch (toupper((unsigned char)*s)) {
    case '\0': mult = 1; break;
    case 'K': mult = 1024; s++; break;
    case 'M': mult = 1024 * 1024; s++; break;
    case 'G': mult = 1024ULL * 1024 * 1024; s++; break;
    default: return -1;
    }
    if ((*s == 'B' || *s == 'b') && mult > 1)
        s++;
    if (*s != '\0' || n > UINT64_MAX / mult)
        return -1;
    *bytes = n * mult;
    return 0;
}

void dur_format(int64_t ms, char *out, size_t size)
{
    static const struct { int64_t ms; const char *unit; } units[] = {
        {86400000, "d"}, {3600000, "h"}, {60000, "m"}, {1000, "s"}};
    for (size_t i = 0; i < sizeof units / sizeof units[0]; i++)
        if (ms != 0 && ms % units[i].ms == 0) {
            str_fmt(out, size, "%lld%s", (long long)(ms / units[i].ms), units[i].unit);
            return;
        }
    if (ms == 0)
        str_copy(out, size, "0");
    else
        str_fmt(out, size, "%lldms", (long long)ms);
}

void size_format(uint64_t bytes, char *out, size_t size)
{
    if (bytes != 0 && bytes % (1024 * 1024) == 0)
        str_fmt(out, size, "%lluM", (unsigned long long)(bytes / (1024 * 1024)));
    else if (bytes != 0 && bytes % 1024 == 0)
        str_fmt(out, size, "%lluK", (unsigned long long)(bytes / 1024));
    else
        str_fmt(out, size, "%llu", (unsigned long long)bytes);
}

int64_t dur_now_ms(void)
{
    struct timeval tv;
    gettimeofday(&tv, NULL);
    return (int64_t)tv.tv_sec * 1000 + tv.tv_usec / 1000;
}

struct timeval dur_timeval(int64_t ms)
{
    if (ms < 0)
        ms = 0;
    struct timeval tv = {(time_t)(ms / 1000), (suseconds_t)(ms % 1000) * 1000};
    return tv;
}
