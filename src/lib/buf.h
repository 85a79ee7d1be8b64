/*
 * buf: the one growable byte buffer of postino. Every buffer has a hard
 * maximum size; appends that would pass it fail (return -1) and leave the
 * buffer unchanged, so untrusted input can never grow memory without bound.
 * Contents may hold NUL bytes; buf_cstr() adds a terminator past len.
 */
#ifndef POSTINO_BUF_H
#define POSTINO_BUF_H
#include <stdarg.h>
#include <stddef.h>

#define BUF_UNLIMITED ((size_t)-1)

struct buf {
    char *data;   /* NULL until the first append */
    size_t len;   /* bytes used */
    size_t cap;   /* bytes allocated */
    size_t max;   /* hard limit on len */
};

void buf_init(struct buf *b, size_t max);
void buf_free(struct buf *b);
void buf_reset(struct buf *b);
int buf_append(struct buf *b, const void *p, size_t n);
int buf_appends(struct buf *b, const char *s);
int buf_putc(struct buf *b, char c);
int buf_printf(struct buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
int buf_vprintf(struct buf *b, const char *fmt, va_list ap);
/* NUL-terminates (without counting it in len) and returns data; "" when empty. */
const char *buf_cstr(struct buf *b);
/* Drops the first n bytes. */
void buf_consume(struct buf *b, size_t n);
/* Takes the contents as a malloc'd NUL-terminated string; the buffer is reset. */
char *buf_detach(struct buf *b);

#endif
