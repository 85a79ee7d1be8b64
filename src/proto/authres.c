/*
 * authres: Authentication-Results formatting and authserv-id parsing
 * (RFC 8601; see authres.h). The CFWS and quoted-string rules are those of
 * RFC 5322 3.2.2 and 3.2.4; token is RFC 2045's.
 */
#include "proto/authres.h"
#include "proto/rfc5322.h"
#include "lib/str.h"
#include <string.h>

#define AUTHRES_FIELD "Authentication-Results"

const char *authres_result_name(enum authres_result r)
{
    switch (r) {
    case AUTHRES_NONE: return "none";
    case AUTHRES_PASS: return "pass";
    case AUTHRES_FAIL: return "fail";
    case AUTHRES_SOFTFAIL: return "softfail";
    case AUTHRES_NEUTRAL: return "neutral";
    case AUTHRES_TEMPERROR: return "temperror";
    case AUTHRES_PERMERROR: return "permerror";
    case AUTHRES_POLICY: return "policy";
    }
    return "none";
}

/* RFC 2045 token: printable ASCII but SPACE and tspecials. */
static int authres_is_token_char(unsigned char c)
{
    return c > ' ' && c < 0x7f && !strchr("()<>@,;:\\\"/[]?=", c);
}

/* A value as a token, else as a quoted-string; control octets are left out. */
static int authres_put_value(struct buf *out, const char *v)
{
    size_t i;
    for (i = 0; v[i] && authres_is_token_char((unsigned char)v[i]); i++)
        ;
    if (i > 0 && !v[i])
        return buf_appends(out, v);
    int rc = buf_putc(out, '"');
    for (; *v && rc == 0; v++) {
        unsigned char c = (unsigned char)*v;
        if (c < ' ' || c == 0x7f)
            continue;
        if (c == '"' || c == '\\')
            rc = buf_putc(out, '\\');
        if (rc == 0)
            rc = buf_putc(out, (char)c);
    }
    return rc == 0 ? buf_putc(out, '"') : rc;
}

/* A comment of postino's own words: no parentheses, backslashes or controls. */
static int authres_put_comment(struct buf *out, const char *s)
{
    int rc = buf_appends(out, " (");
    for (; *s && rc == 0; s++)
        if ((unsigned char)*s >= ' ' && *s != 0x7f && !strchr("()\\", *s))
            rc = buf_putc(out, *s);
    return rc == 0 ? buf_putc(out, ')') : rc;
}

static int authres_put_entry(struct buf *out, const struct authres_entry *e)
{
    int rc = buf_printf(out, "\t%s=%s", e->method, authres_result_name(e->result));
    if (rc == 0 && e->comment && e->comment[0])
        rc = authres_put_comment(out, e->comment);
    for (size_t p = 0; p < 3 && rc == 0 && e->props[p][0]; p++) {
        rc = buf_printf(out, " %s=", e->props[p][0]);
        if (rc == 0)
            rc = authres_put_value(out, e->props[p][1] ? e->props[p][1] : "");
    }
    return rc;
}

int authres_format(struct buf *out, const char *authserv_id, const struct authres_entry *e,
                   size_t n)
{
    int rc = buf_appends(out, AUTHRES_FIELD ": ");
    if (rc == 0)
        rc = authres_put_value(out, authserv_id);
    if (rc == 0 && n == 0)
        rc = buf_appends(out, "; none");
    for (size_t i = 0; i < n && rc == 0; i++) {
        rc = buf_appends(out, ";\r\n");
        if (rc == 0)
            rc = authres_put_entry(out, &e[i]);
    }
    return rc == 0 ? buf_appends(out, "\r\n") : rc;
}

/* Past CFWS at s[i..n): white space, line breaks, nested comments. */
static size_t authres_skip_cfws(const char *s, size_t n, size_t i)
{
    int depth = 0;
    for (; i < n; i++) {
        char c = s[i];
        if (depth > 0 && c == '\\' && i + 1 < n)
            i++;
        else if (c == '(')
            depth++;
        else if (c == ')' && depth > 0)
            depth--;
        else if (depth == 0 && c != ' ' && c != '\t' && c != '\r' && c != '\n')
            break;
    }
    return i;
}

/* The quoted-string at s[i] (its opening quote) into id. */
static int authres_quoted(const char *s, size_t n, size_t i, char *id, size_t size)
{
    size_t len = 0;
    for (i++; i < n && s[i] != '"'; i++) {
        if (s[i] == '\\' && i + 1 < n)
            i++;
        if (s[i] == '\r' || s[i] == '\n')
            continue;
        if (((unsigned char)s[i] < ' ' && s[i] != '\t') || s[i] == 0x7f)
            return -1;      /* not qtext, nor WSP */
        if (len + 1 >= size)
            return -1;
        id[len++] = s[i];
    }
    id[len] = '\0';
    return i < n && len > 0 ? 0 : -1;
}

int authres_authserv_id(const char *field, size_t n, char *id, size_t size)
{
    size_t colon = 0, name_len = rfc5322_field_name(field, n, &colon);
    if (size == 0 || !name_len || !rfc5322_field_is(field, name_len, AUTHRES_FIELD))
        return -1;
    size_t i = authres_skip_cfws(field, n, colon + 1);
    if (i < n && field[i] == '"')
        return authres_quoted(field, n, i, id, size);
    size_t start = i;
    while (i < n && authres_is_token_char((unsigned char)field[i]))
        i++;
    if (i == start || i - start >= size)
        return -1;
    memcpy(id, field + start, i - start);
    id[i - start] = '\0';
    return 0;
}
