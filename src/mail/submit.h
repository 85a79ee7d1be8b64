/*
 * submit: turns the message a local program hands to `postino sendmail`
 * into queue content. A pure state machine over input bytes, no I/O:
 * lines end in LF, CRLF or a lone CR on input and in CRLF on output; a
 * line holding only "." ends the input unless -i; a leading mbox "From "
 * line is dropped; the header section is collected so that -t can take the
 * recipients from To/Cc/Bcc (or from Resent-To/Resent-Cc/Resent-Bcc when
 * the message has any, RFC 5322 3.6.6) and remove Bcc, and so that From,
 * Date and Message-ID are added when missing (RFC 5322 3.6: From and Date
 * are required). The body is passed through as it streams.
 */
#ifndef POSTINO_SUBMIT_H
#define POSTINO_SUBMIT_H
#include <stddef.h>
#include <stdint.h>
#include "lib/buf.h"

#define SUBMIT_HEAD_MAX ((size_t)1 << 20)  /* default head_max */
#define SUBMIT_LINE_MAX ((size_t)1 << 20)  /* default line_max */

/* Receives the output; the first call comes only after every recipient. */
typedef void (*submit_emit_fn)(void *ctx, const char *p, size_t n);
/* One recipient found by -t ("local@domain"); non-zero stops with an error. */
typedef int (*submit_rcpt_fn)(void *ctx, const char *addr);

struct submit_opts {
    int extract;               /* -t */
    int dot_ends;              /* no -i: a line of a single "." ends the message */
    const char *default_domain;/* for unqualified addresses in the headers */
    const char *from;          /* value of a From: added when missing (NULL: none added) */
    const char *date;          /* value of a Date: added when missing */
    const char *message_id;    /* value of a Message-ID: added when missing */
    uint64_t max_size;         /* the most output octets; 0 = no limit */
    size_t head_max;           /* the header section kept in memory; 0 = SUBMIT_HEAD_MAX */
    size_t line_max;           /* longer lines: a body's go out in pieces, a field's is an
                                * error; 0 = SUBMIT_LINE_MAX */
    submit_rcpt_fn on_rcpt;
    submit_emit_fn emit;
    void *ctx;
};

enum submit_state { SUBMIT_HEAD, SUBMIT_BODY, SUBMIT_END };
enum submit_err { SUBMIT_OK = 0, SUBMIT_BAD_HEADER, SUBMIT_TOO_BIG };

struct submit {
    struct submit_opts o;
    enum submit_state state;
    struct buf line;           /* the input line being assembled */
    int cr;                    /* the previous input byte was a CR */
    int lines;                 /* lines seen */
    int partial;               /* part of the current (overlong body) line is out already */
    struct buf head;           /* header fields so far, CRLF line ends, folds kept */
    size_t *fields;            /* offset of each field in head */
    size_t n_fields, cap_fields;
    uint64_t octets;           /* output so far */
    int has8bit;               /* an octet >= 0x80 was output */
    enum submit_err err;
    char why[256];             /* the error, for the user */
};

void submit_init(struct submit *s, const struct submit_opts *o);
void submit_free(struct submit *s);
/* Feeds input. 0, or -1 with s->err/s->why set (the output is then unusable). */
int submit_feed(struct submit *s, const char *p, size_t n);
/* At the end of the input (or after SUBMIT_END): flushes what is left. 0 or -1. */
int submit_finish(struct submit *s);

#endif
