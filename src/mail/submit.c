/*
 * submit: the local submission message filter (submit.h). Field names and
 * folding are proto/rfc5322's; the address lists are proto/addrlist's.
 */
#include "mail/submit.h"
#include "lib/alloc.h"
#include "lib/str.h"
#include "proto/addrlist.h"
#include "proto/rfc5322.h"
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void submit_init(struct submit *s, const struct submit_opts *o)
{
    memset(s, 0, sizeof *s);
    s->o = *o;
    if (s->o.head_max == 0)
        s->o.head_max = SUBMIT_HEAD_MAX;
    if (s->o.line_max == 0)
        s->o.line_max = SUBMIT_LINE_MAX;
    buf_init(&s->line, BUF_UNLIMITED);
    buf_init(&s->head, s->o.head_max);
}

void submit_free(struct submit *s)
{
    buf_free(&s->line);
    buf_free(&s->head);
    free(s->fields);
    s->fields = NULL;
}

static int submit_fail(struct submit *s, enum submit_err err, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(s->why, sizeof s->why, fmt, ap);
    va_end(ap);
    s->err = err;
    return -1;
}

static int submit_out(struct submit *s, const char *p, size_t n)
{
    if (s->err)
        return -1;
    s->octets += n;
    if (s->o.max_size && s->octets > s->o.max_size)
        return submit_fail(s, SUBMIT_TOO_BIG, "message larger than max_message_size (%llu octets)",
                           (unsigned long long)s->o.max_size);
    for (size_t i = 0; i < n && !s->has8bit; i++)
        if ((unsigned char)p[i] >= 0x80)
            s->has8bit = 1;
    s->o.emit(s->o.ctx, p, n);
    return 0;
}

/* Field k of the header section: its text (through the last CRLF) and name length. */
static const char *submit_field(const struct submit *s, size_t k, size_t *len, size_t *name)
{
    size_t start = s->fields[k];
    size_t end = k + 1 < s->n_fields ? s->fields[k + 1] : s->head.len;
    *len = end - start;
    *name = rfc5322_field_name(s->head.data + start, *len, NULL);
    return s->head.data + start;
}

static int submit_has(const struct submit *s, const char *want)
{
    size_t len, name;
    for (size_t k = 0; k < s->n_fields; k++) {
        const char *f = submit_field(s, k, &len, &name);
        if (rfc5322_field_is(f, name, want))
            return 1;
    }
    return 0;
}

/* -t: the recipient fields are the Resent- ones when there are any (RFC 5322 3.6.6). */
static int submit_is_rcpt_field(const char *f, size_t name, int resent)
{
    if (resent)
        return rfc5322_field_is(f, name, "Resent-To") ||
               rfc5322_field_is(f, name, "Resent-Cc") ||
               rfc5322_field_is(f, name, "Resent-Bcc");
    return rfc5322_field_is(f, name, "To") || rfc5322_field_is(f, name, "Cc") ||
           rfc5322_field_is(f, name, "Bcc");
}

static int submit_extract(struct submit *s)
{
    int resent = submit_has(s, "Resent-To") || submit_has(s, "Resent-Cc") ||
                 submit_has(s, "Resent-Bcc");
    size_t len, name;
    for (size_t k = 0; k < s->n_fields; k++) {
        const char *f = submit_field(s, k, &len, &name);
        if (!submit_is_rcpt_field(f, name, resent))
            continue;
        const char *colon = memchr(f, ':', len);
        const char *err = NULL;
        if (addrlist_parse(colon + 1, len - (size_t)(colon + 1 - f), s->o.default_domain,
                           s->o.on_rcpt, s->o.ctx, &err) != 0)
            return submit_fail(s, SUBMIT_BAD_HEADER, "%.*s: header: %s", (int)name, f,
                               err ? err : "bad address");
    }
    return 0;
}

static int submit_add(struct submit *s, const char *name, const char *value)
{
    if (!value || submit_has(s, name))
        return 0;
    char line[1024];
    int n = snprintf(line, sizeof line, "%s: %s\r\n", name, value);
    if (n < 0 || (size_t)n >= sizeof line)
        return submit_fail(s, SUBMIT_BAD_HEADER, "%s header too long", name);
    return submit_out(s, line, (size_t)n);
}

/* The end of the header section: recipients, then the fields (without Bcc under -t), then the additions. */
static int submit_head_end(struct submit *s)
{
    if (s->o.extract && submit_extract(s) < 0)
        return -1;
    size_t len, name;
    for (size_t k = 0; k < s->n_fields; k++) {
        const char *f = submit_field(s, k, &len, &name);
        if (s->o.extract &&
            (rfc5322_field_is(f, name, "Bcc") || rfc5322_field_is(f, name, "Resent-Bcc")))
            continue;
        if (submit_out(s, f, len) < 0)
            return -1;
    }
    if (submit_add(s, "From", s->o.from) < 0 || submit_add(s, "Date", s->o.date) < 0 ||
        submit_add(s, "Message-ID", s->o.message_id) < 0)
        return -1;
    s->state = SUBMIT_BODY;
    return 0;
}

/* A line starting with WSP continues the field before it (RFC 5322 2.2.3). */
static int submit_is_fold(const struct submit *s, const char *p)
{
    return rfc5322_is_wsp(p[0]) && s->n_fields > 0;
}

static int submit_head_line(struct submit *s, const char *p, size_t n)
{
    if (n == 0)
        return submit_head_end(s) < 0 ? -1 : submit_out(s, "\r\n", 2);
    int fold = submit_is_fold(s, p);
    if (!fold && !rfc5322_field_name(p, n, NULL)) {
        /* not a header field: the body begins without its blank line; add one */
        if (submit_head_end(s) < 0 || submit_out(s, "\r\n", 2) < 0)
            return -1;
        return submit_out(s, p, n) < 0 ? -1 : submit_out(s, "\r\n", 2);
    }
    if (!fold) {
        if (s->n_fields == s->cap_fields) {
            s->cap_fields = s->cap_fields ? s->cap_fields * 2 : 32;
            s->fields = xrealloc(s->fields, s->cap_fields * sizeof *s->fields);
        }
        s->fields[s->n_fields++] = s->head.len;
    }
    if (buf_append(&s->head, p, n) < 0 || buf_append(&s->head, "\r\n", 2) < 0)
        return submit_fail(s, SUBMIT_BAD_HEADER, "header section larger than %zu octets",
                           s->o.head_max);
    return 0;
}

static int submit_line(struct submit *s)
{
    const char *p = s->line.data;
    size_t n = s->line.len;
    int first = s->lines++ == 0;
    int r = 0;
    if (s->partial) {
        s->partial = 0;
        r = submit_out(s, p, n) < 0 ? -1 : submit_out(s, "\r\n", 2);
    } else if (s->o.dot_ends && n == 1 && p[0] == '.') {
        if (s->state == SUBMIT_HEAD)
            r = submit_head_end(s);
        s->state = SUBMIT_END;
    } else if (first && n >= 5 && memcmp(p, "From ", 5) == 0) {
        /* a mailbox "From " separator line is not part of the message */
    } else if (s->state == SUBMIT_HEAD) {
        r = submit_head_line(s, p, n);
    } else if (s->state == SUBMIT_BODY) {
        r = submit_out(s, p, n) < 0 ? -1 : submit_out(s, "\r\n", 2);
    }
    buf_reset(&s->line);
    return r;
}

/*
 * The line being assembled passed line_max: in the body it goes out in
 * pieces (it cannot be a lone "."); in the header section it is either a
 * field, which is too long, or the first line of a body without its blank line.
 * Either way the line buffer stays bounded whatever the input.
 */
static int submit_long_line(struct submit *s)
{
    if (s->state == SUBMIT_HEAD) {
        /* decided on the first line_max + 1 octets only, so that where
         * the input was cut into pieces does not change the outcome */
        const char *p = s->line.data;
        int fold = submit_is_fold(s, p);
        if (fold || rfc5322_field_name(p, s->o.line_max + 1, NULL) ||
            (s->lines == 0 && s->line.len >= 5 && memcmp(p, "From ", 5) == 0))
            return submit_fail(s, SUBMIT_BAD_HEADER, "header section larger than %zu octets",
                               s->o.head_max);
        if (submit_head_end(s) < 0 || submit_out(s, "\r\n", 2) < 0)
            return -1;
    }
    if (s->state != SUBMIT_BODY)
        return 0;
    if (submit_out(s, s->line.data, s->line.len) < 0)
        return -1;
    buf_reset(&s->line);
    s->partial = 1;
    return 0;
}

int submit_feed(struct submit *s, const char *p, size_t n)
{
    for (size_t i = 0; i < n && s->state != SUBMIT_END; i++) {
        if (s->err)
            return -1;
        char c = p[i];
        if (s->cr) {
            s->cr = 0;
            if (submit_line(s) < 0)
                return -1;
            if (c == '\n')
                continue;
        }
        if (c == '\r') {
            s->cr = 1;
        } else if (c == '\n') {
            if (submit_line(s) < 0)
                return -1;
        } else {
            size_t run = 1;
            while (i + run < n && p[i + run] != '\r' && p[i + run] != '\n')
                run++;
            buf_append(&s->line, p + i, run);
            i += run - 1;
            if (s->line.len > s->o.line_max && submit_long_line(s) < 0)
                return -1;
        }
    }
    return s->err ? -1 : 0;
}

int submit_finish(struct submit *s)
{
    /* a line cut short by the end of the input still gets its CRLF, also when
     * the rest of an overlong one went out already (partial) */
    if (s->state != SUBMIT_END && (s->cr || s->line.len || s->partial)) {
        s->cr = 0;
        if (submit_line(s) < 0)
            return -1;
    }
    if (s->state == SUBMIT_HEAD && submit_head_end(s) < 0)
        return -1;
    return s->err ? -1 : 0;
}
