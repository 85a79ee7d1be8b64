/*
 * str: bounded string helpers (see str.h).
 */
#include "lib/str.h"
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <ctype.h>

int str_vfmt(char *dst, size_t size, const char *fmt, va_list ap)
{
    int n = vsnprintf(dst, size, fmt, ap);
    return (n < 0 || (size_t)n >= size) ? -1 : 0;
}

int str_fmt(char *dst, size_t size, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int r = str_vfmt(dst, size, fmt, ap);
    va_end(ap);
    return r;
}

int str_ncopy(char *dst, size_t size, const char *src, size_t n)
{
    if (size == 0)
        return -1;
    size_t len = strnlen(src, n);
    int r = 0;
    if (len >= size) {
        len = size - 1;
        r = -1;
    }
    memcpy(dst, src, len);
    dst[len] = '\0';
    return r;
}

int str_copy(char *dst, size_t size, const char *src)
{
    return str_ncopy(dst, size, src, (size_t)-1);
}

void str_lower(char *s)
{
    /* ASCII letters only, whatever the locale: a UTF-8 octet is never changed */
    for (; *s; s++)
        if (*s >= 'A' && *s <= 'Z')
            *s = (char)(*s - 'A' + 'a');
}

int str_ieq(const char *a, const char *b)
{
    return strcasecmp(a, b) == 0;
}

size_t str_iprefix(const char *s, const char *prefix)
{
    size_t n = strlen(prefix);
    return strncasecmp(s, prefix, n) == 0 ? n : 0;
}

char *str_trim(char *s)
{
    while (*s && isspace((unsigned char)*s))
        s++;
    size_t n = strlen(s);
    while (n && isspace((unsigned char)s[n - 1]))
        s[--n] = '\0';
    return s;
}
