/*
 * dsn_int: what the files of the notice composer share (mail/dsn.c builds
 * the notice, its header, status and original parts; mail/dsn_text.c writes
 * its lines and the human-readable part). Not for use outside mail/dsn*.c.
 */
#ifndef POSTINO_DSN_INT_H
#define POSTINO_DSN_INT_H
#include <stddef.h>
#include <stdint.h>
#include "lib/buf.h"
#include "mail/dsn.h"

#define DSN_DATE_MAX 64
#define DSN_LISTED_DROPS 10  /* dropped header names named in the text part */

/* Why the third part holds what it holds. */
enum dsn_orig_why {
    ORIG_FULL,          /* the whole message */
    ORIG_HDRS_ASKED,    /* RET=HDRS */
    ORIG_HDRS_DEFAULT,  /* no RET and not a failure */
    ORIG_HDRS_NOT_FAILURE,  /* RET=FULL, but not a failure: RET governs failure notices only */
    ORIG_INCOMPLETE,    /* the caller gave only the header section */
    ORIG_TOO_BIG,       /* past return_limit */
    ORIG_LONG_LINE,     /* a line over 998 octets */
    ORIG_NUL,           /* a NUL octet (not allowed in 8bit data, RFC 2045 2.8) */
};

struct dsn_orig {
    struct buf content;  /* CRLF lines */
    enum dsn_orig_why why;
    size_t n_dropped;    /* header fields that could not be folded */
    struct buf dropped;  /* their names, ", "-separated (at most DSN_LISTED_DROPS) */
};

/* Scratch-buffer appends: those buffers are unlimited, so these cannot fail. */
static inline void dsn_put(struct buf *b, const void *p, size_t n)
{
    (void)buf_append(b, p, n);
}

static inline void dsn_puts(struct buf *b, const char *s)
{
    (void)buf_appends(b, s);
}

/* Appends s as one line of printable US-ASCII, at most max octets (dsn_text.c). */
void dsn_put_clean(struct buf *b, const char *s, size_t max);
/* dsn_put_clean, but with utf8 set a value that is valid UTF-8 keeps its non-ASCII
 * characters (RFC 6533 notices); never ends inside a character. */
void dsn_put_clean_as(struct buf *b, const char *s, size_t max, int utf8);
/* Appends prefix and the words of text wrapped before width, continuation
 * lines starting with indent, never past DSN_LINE_MAX; ends with CRLF. */
void dsn_put_wrapped(struct buf *b, const char *prefix, const char *text, const char *indent,
                     size_t width);
/* Part 1: text/plain, the human-readable explanation (dsn_text.c). */
void dsn_build_text(const struct dsn_input *in, const struct dsn_rcpt **v, const char *host,
                    const struct dsn_orig *o, struct buf *t);

/* The RFC 5322 date of ms since the epoch, clamped to 1970..9999 (dsn.c). */
void dsn_format_date(int64_t ms, char out[DSN_DATE_MAX]);
/* Parses "C.S.D" (class 2/4/5, 1-3 digits each) at s: the class, *len set; -1 if none. */
int dsn_status_parse(const char *s, size_t *len);
/* The Status of r: as given if valid, else from its diagnostic, else X.0.0 by action. */
void dsn_rcpt_status(const struct dsn_rcpt *r, char out[DSN_STATUS_MAX]);

#endif
