/*
 * dsn_text: the words of a notice (see dsn.h). Values from the envelope or
 * the network pass through dsn_put_clean: one line of printable US-ASCII
 * (the delivery-status part must be 7bit, RFC 3464 2.1); dsn_put_wrapped
 * breaks lines at spaces (RFC 5322 2.1.1: 78 octets for header fields, 76
 * for the text, never past 998). Part 1, the human-readable text/plain
 * explanation (RFC 6522 3), is composed here: postino's own prose, one
 * paragraph per recipient. Pure: no I/O, no clock.
 */
#include "mail/dsn.h"
#include "mail/dsn_int.h"
#include "lib/str.h"
#include <string.h>
#include <unistr.h>

#define TEXT_WIDTH 76

/*
 * Appends s as printable US-ASCII on one line, at most max octets: controls
 * (CR and LF included) become spaces, runs of spaces collapse, the ends are
 * trimmed, octets >= 0x80 become '?'. NULL appends nothing.
 */
void dsn_put_clean(struct buf *b, const char *s, size_t max)
{
    dsn_put_clean_as(b, s, max, 0);
}

void dsn_put_clean_as(struct buf *b, const char *s, size_t max, int utf8)
{
    size_t start = b->len;
    int space = 0;
    utf8 = utf8 && s && u8_check((const uint8_t *)s, strlen(s)) == NULL;
    for (; s && *s && b->len - start < max; s++) {
        unsigned char c = (unsigned char)*s;
        if (c <= ' ' || c == 0x7f) {
            space = 1;
            continue;
        }
        if (space && b->len > start)
            (void)buf_putc(b, ' ');
        space = 0;
        (void)buf_putc(b, c >= 0x80 && !utf8 ? '?' : (char)c);
    }
    if (!utf8)
        return;
    /* the cut at max may fall inside a character: drop its first octets */
    const uint8_t *bad = u8_check((const uint8_t *)b->data + start, b->len - start);
    if (bad)
        b->len = (size_t)((const char *)bad - b->data);
}

/*
 * Appends prefix and the space-separated words of text, breaking lines
 * before width where a space allows and never past DSN_LINE_MAX (a longer
 * word is split); continuation lines start with indent. Ends with CRLF.
 */
void dsn_put_wrapped(struct buf *b, const char *prefix, const char *text, const char *indent,
                        size_t width)
{
    size_t col = strlen(prefix), ind = strlen(indent);
    int words = 0;
    dsn_puts(b, prefix);
    for (;;) {
        while (*text == ' ')
            text++;
        if (!*text)
            break;
        size_t wl = strcspn(text, " "), sep = words ? 1 : 0;
        if (words && (col + sep + wl > width || col + sep >= DSN_LINE_MAX)) {
            dsn_puts(b, "\r\n");
            dsn_puts(b, indent);
            col = ind;
            words = sep = 0;
        }
        size_t room = DSN_LINE_MAX - col - sep, take = wl < room ? wl : room;
        if (sep)
            dsn_puts(b, " ");
        dsn_put(b, text, take);
        col += sep + take;
        words++;
        text += take;
        if (take < wl) { /* the rest of an overlong word goes on the next line */
            dsn_puts(b, "\r\n");
            dsn_puts(b, indent);
            col = ind;
            words = 0;
        }
    }
    dsn_puts(b, "\r\n");
}

/*
 * The human-readable part is postino's own prose (not another MTA's template,
 * so that bounce parsers do not mistake the notice for one of theirs). It
 * says who reports, what happened to each recipient, quotes a remote server's
 * answer as such and gives postino's own reasons as its own.
 */
static const char *const intro[] = {
    "Your message could not be delivered to the recipients below, and no further attempt "
    "will be made.",
    "Your message has not reached the recipients below yet. Delivery is still being retried, "
    "so you do not need to send it again.",
    "Your message was delivered to the mailboxes of the recipients below.",
    "Your message was handed on to the next server for the recipients below. That server "
    "does not send delivery reports, so you may hear nothing more about them.",
    "Your message reached the addresses below, which are aliases or mailing lists; each "
    "passed it on to its own recipients.",
};

/* s without a leading reply code ("550 ") and RFC 3463 code ("5.3.4 "): the words. */
static const char *reason_words(const char *s)
{
    size_t n;
    while (*s == ' ')
        s++;
    if (dsn_reply_coded(s))
        s += s[3] ? 4 : 3;
    if (dsn_status_parse(s, &n) > 0 && (s[n] == ' ' || s[n] == '\0'))
        s += n;
    while (*s == ' ')
        s++;
    return s;
}

/* Appends "    prefix VALUE suffix", VALUE cleaned, wrapped under the recipient. */
static void text_line(struct buf *t, struct buf *s, const char *prefix, const char *value,
                      size_t max, const char *suffix)
{
    buf_reset(s);
    dsn_puts(s, prefix);
    dsn_put_clean(s, value, max);
    dsn_puts(s, suffix);
    dsn_put_wrapped(t, "    ", buf_cstr(s), "    ", TEXT_WIDTH);
}

/* One recipient's paragraph in the human-readable part. */
static void text_rcpt(struct buf *t, struct buf *s, const struct dsn_rcpt *r, int utf8)
{
    char status[DSN_STATUS_MAX], date[DSN_DATE_MAX];
    dsn_rcpt_status(r, status);
    buf_reset(s);
    dsn_puts(s, "<");
    dsn_put_clean_as(s, r->final_rcpt, 1000, utf8);
    (void)buf_printf(s, ">: %s, status %s", dsn_action_name(r->action), status);
    dsn_put_wrapped(t, "* ", buf_cstr(s), "    ", TEXT_WIDTH);
    if (r->reason && reason_words(r->reason)[0])
        text_line(t, s, "Reason: ", reason_words(r->reason), 2000, "");
    if (r->diagnostic && r->diagnostic[0] && r->remote_mta && r->remote_mta[0]) {
        buf_reset(s);
        dsn_puts(s, "The server ");
        dsn_put_clean(s, r->remote_mta, 300);
        dsn_puts(s, " answered: \"");
        dsn_put_clean(s, r->diagnostic, 2000);
        dsn_puts(s, "\"");
        dsn_put_wrapped(t, "    ", buf_cstr(s), "    ", TEXT_WIDTH);
    } else if (r->diagnostic && r->diagnostic[0]) {
        text_line(t, s, "Reason: ", r->diagnostic, 2000, "");
    }
    if (r->action == DSN_ACTION_DELAYED && r->will_retry_until_ms > 0) {
        dsn_format_date(r->will_retry_until_ms, date);
        text_line(t, s, "Delivery will be retried until ", date, DSN_DATE_MAX, ".");
    }
}

/* Indexed by enum dsn_orig_why. */
static const char *const why_text[] = {
    "Your original message is attached.",
    "The header section of your message is attached, as you asked (RET=HDRS).",
    "The header section of your message is attached.",
    "The header section of your message is attached. A whole message is returned only "
    "when its delivery failed, so it is not included here.",
    "The header section of your message is attached; the whole message was not available "
    "for return.",
    "The header section of your message is attached; the whole message is larger than the "
    "limit for returned messages.",
    "The header section of your message is attached; the whole message has lines longer "
    "than 998 octets and cannot be returned intact.",
    "The header section of your message is attached; the whole message contains NUL octets "
    "and cannot be returned intact.",
};

/* The opening sentence: who reports, about which message. */
static void text_opening(const struct dsn_input *in, const char *host, struct buf *s,
                         struct buf *t)
{
    char date[DSN_DATE_MAX];
    buf_reset(s);
    (void)buf_printf(s, "Hello. This is postino, the mail server at %s, with a report on the "
                        "message it received from you", host);
    if (in->arrival_ms > 0) {
        dsn_format_date(in->arrival_ms, date);
        (void)buf_printf(s, " on %s", date);
    }
    dsn_puts(s, ".");
    dsn_put_wrapped(t, "", buf_cstr(s), "", TEXT_WIDTH);
}

/* Part 1: text/plain, a short explanation. */
void dsn_build_text(const struct dsn_input *in, const struct dsn_rcpt **v, const char *host,
                       const struct dsn_orig *o, struct buf *t)
{
    struct buf s;
    buf_init(&s, BUF_UNLIMITED);
    dsn_puts(t, in->utf8 ? "Content-Description: Notification\r\n"
                           "Content-Type: text/plain; charset=utf-8\r\n"
                           "Content-Transfer-Encoding: 8bit\r\n\r\n"
                         : "Content-Description: Notification\r\n"
                           "Content-Type: text/plain; charset=us-ascii\r\n\r\n");
    text_opening(in, host, &s, t);
    for (size_t i = 0; i < in->n_rcpts; i++) {
        if (i == 0 || v[i]->action != v[i - 1]->action) {
            dsn_puts(t, "\r\n");
            dsn_put_wrapped(t, "", intro[v[i]->action], "", TEXT_WIDTH);
            dsn_puts(t, "\r\n");
        }
        text_rcpt(t, &s, v[i], in->utf8);
    }
    dsn_puts(t, "\r\n");
    dsn_put_wrapped(t, "", why_text[o->why], "", TEXT_WIDTH);
    if (o->n_dropped) {
        buf_reset(&s);
        (void)buf_printf(&s, "%zu header field%s of the original could not be returned (a "
                         "line longer than 998 octets that cannot be folded): ", o->n_dropped,
                         o->n_dropped == 1 ? "" : "s");
        dsn_put(&s, o->dropped.data, o->dropped.len);
        dsn_puts(&s, o->n_dropped > DSN_LISTED_DROPS ? ", ..." : ".");
        dsn_puts(t, "\r\n");
        dsn_put_wrapped(t, "", buf_cstr(&s), "", TEXT_WIDTH);
    }
    if (in->queue_id && in->queue_id[0]) {
        buf_reset(&s);
        (void)buf_printf(&s, "If you ask the administrator of %s about this report, please "
                             "quote the queue ID ", host);
        dsn_put_clean(&s, in->queue_id, 64);
        dsn_puts(&s, ".");
        dsn_puts(t, "\r\n");
        dsn_put_wrapped(t, "", buf_cstr(&s), "", TEXT_WIDTH);
    }
    buf_free(&s);
}

