/*
 * smtp_reply: reply assembly and EHLO keywords for SMTP clients (see
 * smtp_reply.h). RFC 5321 4.2 (reply lines), 4.1.1.1 (EHLO), RFC 1870
 * (SIZE), RFC 3463 / RFC 2034 (enhanced status codes). Pure: no I/O, no
 * policy; what a code means is the caller's business.
 */
#include "proto/smtp_reply.h"
#include <string.h>
#include <strings.h>

void smtp_reply_init(struct smtp_reply *r, struct smtp_reply_limits lim)
{
    r->lim = lim;
    buf_init(&r->text, lim.text_max);
    smtp_reply_reset(r);
}

void smtp_reply_reset(struct smtp_reply *r)
{
    r->code = 0;
    r->lines = 0;
    r->status = SMTP_REPLY_MORE;
    buf_reset(&r->text);
}

void smtp_reply_free(struct smtp_reply *r)
{
    buf_free(&r->text);
}

static int smtp_reply_digit(char c)
{
    return c >= '0' && c <= '9';
}

/* The code of a well-formed line, or 0. */
static int smtp_reply_line_code(const char *line, size_t len, size_t line_max)
{
    if (len < 3 || len > line_max || line[0] < '2' || line[0] > '5' ||
        !smtp_reply_digit(line[1]) || !smtp_reply_digit(line[2]))
        return 0;
    if (len > 3 && line[3] != ' ' && line[3] != '-')
        return 0;
    if (memchr(line, '\0', len))
        return 0;
    return (line[0] - '0') * 100 + (line[1] - '0') * 10 + (line[2] - '0');
}

/* Appends the line's code (first line) and its text to r->text; -1 when full. */
static int smtp_reply_collect(struct smtp_reply *r, const char *line, size_t len)
{
    if (r->lines == 0 && buf_append(&r->text, line, 3) < 0)
        return -1;
    if (len > 4 && (buf_putc(&r->text, ' ') < 0 || buf_append(&r->text, line + 4, len - 4) < 0))
        return -1;
    return 0;
}

enum smtp_reply_status smtp_reply_feed(struct smtp_reply *r, const char *line, size_t len)
{
    if (r->status == SMTP_REPLY_BAD)
        return SMTP_REPLY_BAD;
    if (r->status == SMTP_REPLY_DONE)
        smtp_reply_reset(r);
    int code = smtp_reply_line_code(line, len, r->lim.line_max);
    if (code == 0 || (r->lines > 0 && code != r->code) || r->lines >= r->lim.lines_max ||
        smtp_reply_collect(r, line, len) < 0) {
        r->code = 0;
        r->status = SMTP_REPLY_BAD;
        return SMTP_REPLY_BAD;
    }
    r->code = code;
    r->lines++;
    r->status = (len > 3 && line[3] == '-') ? SMTP_REPLY_MORE : SMTP_REPLY_DONE;
    return r->status;
}

enum smtp_reply_status smtp_reply_feed_ehlo(struct smtp_reply *r, const char *line, size_t len,
                                            struct smtp_ehlo *ehlo)
{
    enum smtp_reply_status s = smtp_reply_feed(r, line, len);
    if (s != SMTP_REPLY_BAD && r->lines > 1 && len > 4) /* the first line is the greeting */
        smtp_ehlo_add(ehlo, line + 4, len - 4);
    return s;
}

const char *smtp_reply_text(struct smtp_reply *r)
{
    return buf_cstr(&r->text);
}

/* Length of a run of 1..max digits at s, 0 if none or too many. */
static size_t smtp_reply_digits(const char *s, size_t max)
{
    size_t n = 0;
    while (smtp_reply_digit(s[n]))
        if (++n > max)
            return 0;
    return n;
}

int smtp_reply_esc(const char *text, char *out, size_t size)
{
    if (strlen(text) < 4 || text[3] != ' ' || size < 16)
        return -1;
    const char *p = text + 4;
    if (p[0] != text[0] || (p[0] != '2' && p[0] != '4' && p[0] != '5') || p[1] != '.')
        return -1;
    size_t subject = smtp_reply_digits(p + 2, 3);
    if (subject == 0 || p[2 + subject] != '.')
        return -1;
    size_t detail = smtp_reply_digits(p + 3 + subject, 3);
    size_t n = 3 + subject + detail;
    if (detail == 0 || (p[n] != '\0' && p[n] != ' '))
        return -1;
    memcpy(out, p, n);
    out[n] = '\0';
    return 0;
}

void smtp_ehlo_init(struct smtp_ehlo *e)
{
    e->ext = 0;
    e->size_limit = 0;
    e->auth = 0;
}

static int smtp_ehlo_kw_char(char c)
{
    return smtp_reply_digit(c) || (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || c == '-';
}

int smtp_ehlo_split(const char *text, size_t len, struct smtp_ehlo_keyword *out)
{
    size_t n = 0;
    while (n < len && smtp_ehlo_kw_char(text[n]))
        n++;
    if (n == 0 || text[0] == '-' || (n < len && text[n] != ' ' && text[n] != '='))
        return -1; /* '=': the pre-RFC "AUTH=LOGIN" form some servers still send */
    out->kw = text;
    out->kw_len = n;
    out->args = n < len ? text + n + 1 : text + n;
    out->args_len = n < len ? len - n - 1 : 0;
    return 0;
}

int smtp_ehlo_is(const struct smtp_ehlo_keyword *k, const char *kw)
{
    return strlen(kw) == k->kw_len && strncasecmp(k->kw, kw, k->kw_len) == 0;
}

/* RFC 1870: "SIZE" or "SIZE n"; n saturates, anything but digits means no limit. */
static uint64_t smtp_ehlo_size(const char *s, size_t len)
{
    uint64_t v = 0;
    for (size_t i = 0; i < len; i++) {
        if (!smtp_reply_digit(s[i]))
            return 0;
        unsigned d = (unsigned)(s[i] - '0');
        v = v > (UINT64_MAX - d) / 10 ? UINT64_MAX : v * 10 + d;
    }
    return v;
}

static const struct { const char *kw; unsigned bit; } smtp_ehlo_table[] = {
    { "PIPELINING", SMTP_EXT_PIPELINING }, { "SIZE", SMTP_EXT_SIZE },
    { "8BITMIME", SMTP_EXT_8BITMIME },     { "DSN", SMTP_EXT_DSN },
    { "STARTTLS", SMTP_EXT_STARTTLS },     { "AUTH", SMTP_EXT_AUTH },
    { "CHUNKING", SMTP_EXT_CHUNKING },     { "BINARYMIME", SMTP_EXT_BINARYMIME },
    { "SMTPUTF8", SMTP_EXT_SMTPUTF8 },
};

/* RFC 4954 3: "AUTH mech mech ...": the mechanisms of SMTP_AUTH_* among them. */
static unsigned smtp_ehlo_auth(const char *s, size_t len)
{
    unsigned mechs = 0;
    size_t i = 0;
    while (i < len) {
        while (i < len && s[i] == ' ')
            i++;
        size_t start = i;
        while (i < len && s[i] != ' ')
            i++;
        size_t n = i - start;
        if (n == 5 && strncasecmp(s + start, "PLAIN", 5) == 0)
            mechs |= SMTP_AUTH_PLAIN;
        else if (n == 5 && strncasecmp(s + start, "LOGIN", 5) == 0)
            mechs |= SMTP_AUTH_LOGIN;
    }
    return mechs;
}

void smtp_ehlo_add(struct smtp_ehlo *e, const char *text, size_t len)
{
    struct smtp_ehlo_keyword k;
    if (smtp_ehlo_split(text, len, &k) < 0)
        return;
    for (size_t i = 0; i < sizeof smtp_ehlo_table / sizeof smtp_ehlo_table[0]; i++)
        if (smtp_ehlo_is(&k, smtp_ehlo_table[i].kw))
            e->ext |= smtp_ehlo_table[i].bit;
    if (smtp_ehlo_is(&k, "SIZE"))
        e->size_limit = smtp_ehlo_size(k.args, k.args_len);
    if (smtp_ehlo_is(&k, "AUTH"))
        e->auth |= smtp_ehlo_auth(k.args, k.args_len);
}
