/*
 * mime: MIME structure as other hosts write it (mime.h): RFC 2045 5.1 (the
 * Content-Type grammar: token, tspecials, quoted-string, parameters in any
 * order; RFC 822 comments and folding read as white space), RFC 2045 6
 * (Content-Transfer-Encoding, quoted-printable, base64), RFC 2046 5.1.1
 * (boundary delimiter lines, transport padding, the close delimiter).
 * Must never read past the given length nor copy past a given size.
 */
#include "proto/mime.h"
#include "lib/alloc.h"
#include "lib/str.h"
#include "proto/rfc5322.h"
#include "proto/sasl.h"
#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

void mime_entity_split(const char *p, size_t len, struct mime_entity *e)
{
    size_t h = p ? rfc5322_header_length(p, len, NULL) : 0;
    *e = (struct mime_entity){.head = p, .head_len = h, .body = p ? p + h : p,
                              .body_len = p ? len - h : 0};
}

/* ---- structured field values (RFC 2045 5.1) ---- */

/* A cursor over one field value; folding and comments count as white space. */
struct mime_lex {
    const char *p;
    size_t n;
    size_t i;
};

static int mime_is_space(char c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

static void mime_skip_cfws(struct mime_lex *x)
{
    size_t depth = 0;
    while (x->i < x->n) {
        char c = x->p[x->i];
        if (depth > 0 && c == '\\' && x->i + 1 < x->n) {
            x->i += 2;
            continue;
        }
        if (c == '(')
            depth++;
        else if (c == ')' && depth > 0)
            depth--;
        else if (depth == 0 && !mime_is_space(c))
            return;
        x->i++;
    }
}

static int mime_is_token_char(unsigned char c)
{
    return c > ' ' && c < 0x7f && strchr("()<>@,;:\\\"/[]?=", c) == NULL;
}

/* Length of the token at the cursor (0 if none); the cursor moves past it. */
static size_t mime_token(struct mime_lex *x, const char **tok)
{
    size_t start = x->i;
    while (x->i < x->n && mime_is_token_char((unsigned char)x->p[x->i]))
        x->i++;
    *tok = x->p + start;
    return x->i - start;
}

/* Appends c to out[0..*k) within size (room kept for the NUL); 0 once it no longer fits. */
static int mime_put(char *out, size_t size, size_t *k, char c)
{
    if (*k + 1 >= size)
        return 0;
    out[(*k)++] = c;
    return 1;
}

/* Reads a quoted-string (the cursor on its '"') into out; folding is removed. */
static int mime_quoted(struct mime_lex *x, char *out, size_t size)
{
    size_t k = 0;
    int fits = 1;
    x->i++;
    while (x->i < x->n && x->p[x->i] != '"') {
        char c = x->p[x->i++];
        if (c == '\\' && x->i < x->n)
            c = x->p[x->i++];
        else if (c == '\r' || c == '\n')
            continue;
        fits = fits && mime_put(out, size, &k, c);
    }
    if (x->i < x->n)
        x->i++; /* the closing quote */
    out[k] = '\0';
    return fits && k > 0 ? 0 : -1;
}

/* Reads a parameter value, token or quoted-string, into out. 0, or -1 if none or too long. */
static int mime_value(struct mime_lex *x, char *out, size_t size)
{
    out[0] = '\0';
    if (x->i < x->n && x->p[x->i] == '"')
        return mime_quoted(x, out, size);
    const char *t;
    size_t n = mime_token(x, &t);
    if (n == 0 || n >= size)
        return -1;
    memcpy(out, t, n);
    out[n] = '\0';
    return 0;
}

/* Opens a cursor on the value of e's field name. -1 if there is none. */
static int mime_field(const struct mime_entity *e, const char *name, struct mime_lex *x)
{
    struct rfc5322_field f;
    if (!e->head || rfc5322_find_field(e->head, e->head_len, name, &f) < 0)
        return -1;
    *x = (struct mime_lex){.p = e->head + f.colon + 1, .n = f.end - f.colon - 1, .i = 0};
    return 0;
}

/* Reads "type/subtype" at the cursor into out, lower case. 0, or -1. */
static int mime_type_at(struct mime_lex *x, char *out, size_t size)
{
    const char *t, *s;
    mime_skip_cfws(x);
    size_t tn = mime_token(x, &t);
    mime_skip_cfws(x);
    if (tn == 0 || x->i >= x->n || x->p[x->i] != '/')
        return -1;
    x->i++;
    mime_skip_cfws(x);
    size_t sn = mime_token(x, &s);
    if (sn == 0 || tn + 1 + sn >= size)
        return -1;
    memcpy(out, t, tn);
    out[tn] = '/';
    memcpy(out + tn + 1, s, sn);
    out[tn + 1 + sn] = '\0';
    str_lower(out);
    return 0;
}

int mime_content_type(const struct mime_entity *e, char *out, size_t size)
{
    struct mime_lex x;
    char t[MIME_TYPE_MAX];
    if (mime_field(e, "Content-Type", &x) < 0 || mime_type_at(&x, t, sizeof t) < 0)
        str_copy(t, sizeof t, "text/plain");
    if (str_copy(out, size, t) < 0) {
        if (size)
            out[0] = '\0';
        return -1;
    }
    return 0;
}

/* Moves the cursor past the next ';' outside quoted strings and comments. 0 at the end. */
static int mime_next_param(struct mime_lex *x)
{
    for (;;) {
        mime_skip_cfws(x);
        if (x->i >= x->n)
            return 0;
        char c = x->p[x->i];
        if (c == ';') {
            x->i++;
            return 1;
        }
        if (c == '"') {
            char skip[2];
            mime_quoted(x, skip, sizeof skip);
        } else {
            x->i++;
        }
    }
}

int mime_content_param(const struct mime_entity *e, const char *name, char *out, size_t size)
{
    struct mime_lex x;
    char t[MIME_TYPE_MAX];
    if (size == 0)
        return -1;
    out[0] = '\0';
    if (mime_field(e, "Content-Type", &x) < 0 || mime_type_at(&x, t, sizeof t) < 0)
        return -1;
    while (mime_next_param(&x)) {
        const char *a;
        mime_skip_cfws(&x);
        size_t an = mime_token(&x, &a);
        mime_skip_cfws(&x);
        if (an == 0 || x.i >= x.n || x.p[x.i] != '=')
            continue;
        x.i++;
        mime_skip_cfws(&x);
        if (rfc5322_field_is(a, an, name))
            return mime_value(&x, out, size);
    }
    return -1;
}

enum mime_encoding mime_transfer_encoding(const struct mime_entity *e)
{
    static const struct {
        const char *name;
        enum mime_encoding enc;
    } names[] = {{"7bit", MIME_ENC_IDENTITY},   {"8bit", MIME_ENC_IDENTITY},
                 {"binary", MIME_ENC_IDENTITY}, {"quoted-printable", MIME_ENC_QUOTED_PRINTABLE},
                 {"base64", MIME_ENC_BASE64}};
    struct mime_lex x;
    const char *t;
    if (mime_field(e, "Content-Transfer-Encoding", &x) < 0)
        return MIME_ENC_IDENTITY;
    mime_skip_cfws(&x);
    size_t n = mime_token(&x, &t);
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        if (rfc5322_field_is(t, n, names[i].name))
            return names[i].enc;
    return MIME_ENC_UNKNOWN;
}

/* ---- transfer encodings (RFC 2045 6.7, 6.8) ---- */

/* Value of one hex digit (upper case as RFC 2045 6.7 writes it, lower case read too), or -1. */
static int mime_hex(char c)
{
    static const char digits[] = "0123456789ABCDEF";
    const char *d = c ? strchr(digits, toupper((unsigned char)c)) : NULL;
    return d ? (int)(d - digits) : -1;
}

/* Length of a soft line break at p[i] ('=', white space, the line end), or 0. */
static size_t mime_soft_break(const char *p, size_t n, size_t i)
{
    size_t j = i + 1;
    while (j < n && (p[j] == ' ' || p[j] == '\t'))
        j++;
    if (j == n)
        return j - i;
    if (p[j] == '\n')
        return j + 1 - i;
    if (p[j] == '\r')
        return (j + 1 < n && p[j + 1] == '\n' ? j + 2 : j + 1) - i;
    return 0;
}

static int mime_qp_decode(const char *p, size_t n, struct buf *out)
{
    size_t i = 0, run = 0; /* p[run..i) is copied as it is */
    while (i < n) {
        if (p[i] != '=') {
            i++;
            continue;
        }
        if (buf_append(out, p + run, i - run) < 0)
            return -1;
        size_t soft = mime_soft_break(p, n, i);
        int hi = i + 2 < n ? mime_hex(p[i + 1]) : -1, lo = i + 2 < n ? mime_hex(p[i + 2]) : -1;
        if (soft) {
            i += soft;
        } else if (hi >= 0 && lo >= 0) {
            if (buf_putc(out, (char)(hi * 16 + lo)) < 0)
                return -1;
            i += 3;
        } else {
            if (buf_putc(out, '=') < 0) /* lenient: a stray '=' is itself */
                return -1;
            i++;
        }
        run = i;
    }
    return buf_append(out, p + run, n - run);
}

static int mime_base64_decode(const char *p, size_t n, struct buf *out)
{
    char *clean = xmalloc(n + 1);
    size_t k = 0;
    for (size_t i = 0; i < n; i++)
        if (!mime_is_space(p[i]))
            clean[k++] = p[i];
    size_t cap = k / 4 * 3 + 3, got = 0;
    unsigned char *dec = xmalloc(cap);
    int rc = sasl_base64_decode(clean, k, dec, cap, &got);
    if (rc == 0)
        rc = buf_append(out, dec, got);
    free(dec);
    free(clean);
    return rc;
}

int mime_decode(enum mime_encoding enc, const char *p, size_t n, struct buf *out)
{
    switch (enc) {
    case MIME_ENC_IDENTITY:
        return buf_append(out, p, n);
    case MIME_ENC_QUOTED_PRINTABLE:
        return mime_qp_decode(p, n, out);
    case MIME_ENC_BASE64:
        return mime_base64_decode(p, n, out);
    case MIME_ENC_UNKNOWN:
        break;
    }
    return -1;
}

/* ---- multipart bodies (RFC 2046 5.1.1) ---- */

int mime_parts_init(struct mime_parts *m, const char *body, size_t len, const char *boundary)
{
    size_t bl = boundary ? strlen(boundary) : 0;
    *m = (struct mime_parts){.body = body, .len = body ? len : 0, .blen = bl,
                             .state = MIME_PARTS_PREAMBLE};
    if (bl == 0 || bl > MIME_BOUNDARY_MAX) {
        m->state = MIME_PARTS_BROKEN;
        return -1;
    }
    memcpy(m->boundary, boundary, bl + 1);
    return 0;
}

/* 1 if l[0..n) is a delimiter line: "--" boundary, "--" if it is the close one
 * (*close), then transport padding (white space) only. */
static int mime_delimiter(const struct mime_parts *m, const char *l, size_t n, int *close)
{
    if (n < 2 + m->blen || l[0] != '-' || l[1] != '-' || memcmp(l + 2, m->boundary, m->blen))
        return 0;
    size_t i = 2 + m->blen;
    *close = i + 1 < n && l[i] == '-' && l[i + 1] == '-';
    if (*close)
        i += 2;
    while (i < n && (l[i] == ' ' || l[i] == '\t'))
        i++;
    return i == n;
}

/* The next delimiter line at or after m->pos: its start *at; m->pos moves past it. */
static int mime_find_delimiter(struct mime_parts *m, size_t *at, int *close)
{
    size_t next;
    while (m->pos < m->len) {
        size_t start = m->pos;
        size_t n = rfc5322_line(m->body, m->len, start, &next);
        m->pos = next;
        if (mime_delimiter(m, m->body + start, n, close)) {
            *at = start;
            return 1;
        }
    }
    return 0;
}

int mime_parts_next(struct mime_parts *m, const char **part, size_t *part_len)
{
    size_t at, from;
    int close;
    if (m->state == MIME_PARTS_PREAMBLE) {
        if (!mime_find_delimiter(m, &at, &close)) {
            m->state = MIME_PARTS_BROKEN;
            return -1;
        }
        m->state = close ? MIME_PARTS_CLOSED : MIME_PARTS_IN_PART;
    }
    if (m->state == MIME_PARTS_CLOSED)
        return 0;
    if (m->state == MIME_PARTS_BROKEN)
        return -1;
    from = m->pos;
    if (!mime_find_delimiter(m, &at, &close)) {
        m->state = MIME_PARTS_BROKEN;
        return -1;
    }
    /* the line break before a delimiter line belongs to the delimiter */
    size_t end = at;
    if (end > from && m->body[end - 1] == '\n')
        end--;
    if (end > from && m->body[end - 1] == '\r')
        end--;
    *part = m->body + from;
    *part_len = end - from;
    m->state = close ? MIME_PARTS_CLOSED : MIME_PARTS_IN_PART;
    return 1;
}
