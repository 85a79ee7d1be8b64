/*
 * str: small bounded string helpers. str_fmt is the only way postino formats
 * into a fixed array: it reports truncation instead of hiding it.
 */
#ifndef POSTINO_STR_H
#define POSTINO_STR_H
#include <stdarg.h>
#include <stddef.h>

/* snprintf that returns 0, or -1 if the output was truncated (dst is still terminated). */
int str_fmt(char *dst, size_t size, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
int str_vfmt(char *dst, size_t size, const char *fmt, va_list ap)
    __attribute__((format(printf, 3, 0)));
/* Bounded copy; -1 if src did not fit (dst holds the truncated, terminated prefix). */
int str_copy(char *dst, size_t size, const char *src);
int str_ncopy(char *dst, size_t size, const char *src, size_t n);
void str_lower(char *s);
int str_ieq(const char *a, const char *b);
/* Case-insensitive prefix test: returns length of prefix if s starts with it, else 0. */
size_t str_iprefix(const char *s, const char *prefix);
/* Trims ASCII white space from both ends in place; returns s. */
char *str_trim(char *s);

#endif
