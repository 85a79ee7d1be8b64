/*
 * smtp_reply: the client side of SMTP replies (RFC 5321 4.2), pure, no I/O.
 * Assembles a reply one line at a time ("250-..." continues, "250 ..." or a
 * bare "250" ends it), checks every line (three digits, the first 2..5,
 * then a space, a hyphen or nothing; no NUL; the same code on every line;
 * the line, line count and text limits), and collects "CODE text text ...".
 * Also reads an EHLO reply's keywords (RFC 5321 4.1.1.1: one per line after
 * the first, matched without regard to case) into extension bits and the
 * SIZE value (RFC 1870). Shared by the SMTP client and `postino send`; a
 * remote server's reply is untrusted input, so nothing here grows unbounded.
 */
#ifndef POSTINO_SMTP_REPLY_H
#define POSTINO_SMTP_REPLY_H
#include <stddef.h>
#include <stdint.h>
#include "lib/buf.h"

enum smtp_reply_status {
    SMTP_REPLY_MORE = 0,   /* a good continuation line: feed the next one */
    SMTP_REPLY_DONE = 1,   /* a good last line: code and text are complete */
    SMTP_REPLY_BAD = 2,    /* malformed, mixed codes or over a limit: the reply is void */
};

struct smtp_reply_limits {
    size_t line_max;       /* longest line, without CRLF */
    unsigned lines_max;    /* most lines in one reply */
    size_t text_max;       /* longest collected text */
};

struct smtp_reply {
    struct smtp_reply_limits lim;
    int code;              /* 200..599 once a line was accepted, else 0 */
    unsigned lines;        /* lines accepted so far */
    enum smtp_reply_status status;
    struct buf text;       /* "CODE" then " text" for each line that has text */
};

/* Extensions offered in an EHLO reply. */
#define SMTP_EXT_PIPELINING 1u
#define SMTP_EXT_SIZE 2u
#define SMTP_EXT_8BITMIME 4u
#define SMTP_EXT_DSN 8u
#define SMTP_EXT_STARTTLS 16u
#define SMTP_EXT_AUTH 32u
#define SMTP_EXT_CHUNKING 64u     /* RFC 3030 */
#define SMTP_EXT_BINARYMIME 128u  /* RFC 3030 */
#define SMTP_EXT_SMTPUTF8 256u    /* RFC 6531 */

/* SASL mechanisms listed after AUTH (RFC 4954 3) that postino's client speaks. */
#define SMTP_AUTH_PLAIN 1u
#define SMTP_AUTH_LOGIN 2u

struct smtp_ehlo {
    unsigned ext;          /* SMTP_EXT_* */
    unsigned auth;         /* SMTP_AUTH_* offered */
    uint64_t size_limit;   /* "SIZE n": n (saturated); 0 = none or no number */
};

/* One EHLO line split: keyword, then its parameters ("" when none). */
struct smtp_ehlo_keyword {
    const char *kw;
    size_t kw_len;
    const char *args;
    size_t args_len;
};

void smtp_reply_init(struct smtp_reply *r, struct smtp_reply_limits lim);
/* Forgets the reply (keeps the memory) so the next line starts a new one. */
void smtp_reply_reset(struct smtp_reply *r);
void smtp_reply_free(struct smtp_reply *r);
/*
 * Feeds one line (without CRLF) of the reply being assembled. Feeding after
 * DONE starts a new reply; after BAD the reply stays BAD until reset.
 */
enum smtp_reply_status smtp_reply_feed(struct smtp_reply *r, const char *line, size_t len);
/* As smtp_reply_feed, and records each good line after the first in ehlo. */
enum smtp_reply_status smtp_reply_feed_ehlo(struct smtp_reply *r, const char *line, size_t len,
                                            struct smtp_ehlo *ehlo);
/* The collected text, NUL-terminated ("" before the first line). */
const char *smtp_reply_text(struct smtp_reply *r);
/*
 * The enhanced status code (RFC 3463, RFC 2034) at the start of text
 * ("250 2.1.0 Ok" -> "2.1.0"): its class must match the reply code's first
 * digit. Copied into out (at least 16 bytes); 0, or -1 when there is none.
 */
int smtp_reply_esc(const char *text, char *out, size_t size);

void smtp_ehlo_init(struct smtp_ehlo *e);
/* Splits one EHLO line's text (after "250-") into keyword and parameters; -1 if it has none. */
int smtp_ehlo_split(const char *text, size_t len, struct smtp_ehlo_keyword *out);
/* Records one EHLO line's text (after "250-" / "250 ") in e. */
void smtp_ehlo_add(struct smtp_ehlo *e, const char *text, size_t len);
/* 1 if kw (case-insensitive) is the keyword of an EHLO line's text. */
int smtp_ehlo_is(const struct smtp_ehlo_keyword *k, const char *kw);

#endif
