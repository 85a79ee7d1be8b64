/*
 * rfc5322: Internet message header knowledge (rfc5322.h): date-time
 * formatting (RFC 5322 3.3, locale-independent), the atext and dot-atom
 * rules (3.2.3), header lines, fields and folding (2.1, 2.2, 3.6.8), the
 * msg-id syntax (3.6.4). Must never read past the given length.
 */
#include "proto/rfc5322.h"
#include "lib/str.h"
#include <string.h>
#include <strings.h>

int rfc5322_date(time_t t, char *out, size_t size)
{
    static const char *days[] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
    static const char *months[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                   "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
    struct tm tm;
    /* RFC 5322 3.3 wants a 4-digit year from 1900 on: a clock or a queue file
     * with an absurd time is clamped, never overflows tm_year + 1900. */
    if (t < 0)
        t = 0;
    if (t > RFC5322_TIME_MAX)
        t = RFC5322_TIME_MAX;
    if (!gmtime_r(&t, &tm))
        return -1;
    return str_fmt(out, size, "%s, %02d %s %04d %02d:%02d:%02d +0000", days[tm.tm_wday],
                   tm.tm_mday, months[tm.tm_mon], tm.tm_year + 1900, tm.tm_hour, tm.tm_min,
                   tm.tm_sec);
}

/* ---- lexical rules ---- */

int rfc5322_is_wsp(int c)
{
    return c == ' ' || c == '\t';
}

int rfc5322_is_atext(int c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           (c > 0 && c < 0x80 && strchr("!#$%&'*+-/=?^_`{|}~", c) != NULL);
}

int rfc5322_dot_atom_ok(const char *s, size_t n)
{
    if (n == 0 || s[0] == '.' || s[n - 1] == '.')
        return 0;
    for (size_t i = 0; i < n; i++)
        if (s[i] == '.' ? s[i - 1] == '.' : !rfc5322_is_atext((unsigned char)s[i]))
            return 0;
    return 1;
}

/* ---- lines and fields ---- */

size_t rfc5322_line(const char *p, size_t len, size_t pos, size_t *next)
{
    size_t i = pos;
    while (i < len && p[i] != '\r' && p[i] != '\n')
        i++;
    size_t n = i - pos;
    if (i < len)
        i += (p[i] == '\r' && i + 1 < len && p[i + 1] == '\n') ? 2 : 1;
    *next = i;
    return n;
}

size_t rfc5322_fold(const char *s, size_t len, size_t i)
{
    size_t n;
    if (i + 1 < len && s[i] == '\r' && s[i + 1] == '\n')
        n = 2;
    else if (i < len && s[i] == '\n')
        n = 1;
    else
        return 0;
    return i + n == len || rfc5322_is_wsp(s[i + n]) ? n : 0;
}

size_t rfc5322_field_name(const char *l, size_t n, size_t *colon)
{
    size_t i = 0;
    /* ftext: printable US-ASCII but ':' (%d33-57 / %d59-126) */
    while (i < n && (unsigned char)l[i] > ' ' && (unsigned char)l[i] < 0x7f && l[i] != ':')
        i++;
    size_t j = i;
    while (j < n && rfc5322_is_wsp(l[j]))
        j++;
    if (i == 0 || j >= n || l[j] != ':')
        return 0;
    if (colon)
        *colon = j;
    return i;
}

int rfc5322_field_is(const char *f, size_t name_len, const char *want)
{
    return name_len == strlen(want) && strncasecmp(f, want, name_len) == 0;
}

size_t rfc5322_field_end(const char *p, size_t len, size_t pos)
{
    size_t next;
    rfc5322_line(p, len, pos, &next);
    while (next < len && rfc5322_is_wsp(p[next]))
        rfc5322_line(p, len, next, &next);
    return next;
}

size_t rfc5322_header_length(const char *msg, size_t len, int *blank)
{
    size_t pos = 0, next;
    int in_field = 0;
    if (blank)
        *blank = 0;
    while (pos < len) {
        size_t n = rfc5322_line(msg, len, pos, &next);
        if (n == 0) {
            if (blank)
                *blank = 1;
            return next;
        }
        /* a line starting with WSP continues the field before it (2.2.3) */
        if (!(in_field && rfc5322_is_wsp(msg[pos])) && !rfc5322_field_name(msg + pos, n, NULL))
            return pos;
        in_field = 1;
        pos = next;
    }
    return len;
}

/* The next field of the header section msg[0..hlen) at or after *pos (lines that open
 * no field are skipped); *pos moves past it. 1 with *f filled, or 0 at the end. */
static int rfc5322_next_field(const char *msg, size_t hlen, size_t *pos, struct rfc5322_field *f)
{
    size_t next, colon;
    while (*pos < hlen) {
        size_t at = *pos;
        size_t n = rfc5322_line(msg, hlen, at, &next);
        size_t end = rfc5322_field_end(msg, hlen, at);
        size_t name_len = n ? rfc5322_field_name(msg + at, n, &colon) : 0;
        *pos = end > at ? end : next;
        if (name_len) {
            *f = (struct rfc5322_field){
                .start = at, .name_len = name_len, .colon = at + colon, .end = end};
            return 1;
        }
    }
    return 0;
}

int rfc5322_find_field(const char *msg, size_t len, const char *name, struct rfc5322_field *f)
{
    size_t hlen = msg ? rfc5322_header_length(msg, len, NULL) : 0, pos = 0;
    while (rfc5322_next_field(msg, hlen, &pos, f))
        if (rfc5322_field_is(msg + f->start, f->name_len, name))
            return 0;
    return -1;
}

/* 1 if the value msg[from..to) of a field, unfolded and trimmed, is value. */
static int rfc5322_value_is(const char *msg, size_t from, size_t to, const char *value)
{
    char v[RFC5322_LINE_MAX + 1];
    size_t n = 0;
    for (size_t i = from; i < to; i++)
        if (msg[i] != '\r' && msg[i] != '\n') {
            if (n == sizeof v - 1)
                return 0; /* longer than any line: not an address */
            v[n++] = msg[i];
        }
    size_t a = 0;
    while (a < n && rfc5322_is_wsp((unsigned char)v[a]))
        a++;
    while (n > a && rfc5322_is_wsp((unsigned char)v[n - 1]))
        n--;
    if (n - a >= 2 && v[a] == '<' && v[n - 1] == '>') {
        a++;
        n--;
    }
    size_t want = strlen(value);
    return n - a == want && strncasecmp(v + a, value, want) == 0;
}

int rfc5322_field_has_value(const char *msg, size_t len, const char *name, const char *value)
{
    size_t hlen = msg ? rfc5322_header_length(msg, len, NULL) : 0, pos = 0;
    struct rfc5322_field f;
    while (rfc5322_next_field(msg, hlen, &pos, &f))
        if (rfc5322_field_is(msg + f.start, f.name_len, name) &&
            rfc5322_value_is(msg, f.colon + 1, f.end, value))
            return 1;
    return 0;
}

/* ---- msg-id ---- */

/* 1 if s[0..n) is "[" *dtext "]" (dtext: printable US-ASCII but "[", "]", "\"). */
static int rfc5322_domain_literal_ok(const char *s, size_t n)
{
    if (n < 2 || s[0] != '[' || s[n - 1] != ']')
        return 0;
    for (size_t i = 1; i + 1 < n; i++)
        if ((unsigned char)s[i] <= ' ' || (unsigned char)s[i] >= 0x7f || strchr("[]\\", s[i]))
            return 0;
    return 1;
}

int rfc5322_msgid_ok(const char *s, size_t n)
{
    if (n < 5 || n >= RFC5322_MSGID_MAX || s[0] != '<' || s[n - 1] != '>')
        return 0;
    const char *at = memchr(s, '@', n);
    if (!at || !rfc5322_dot_atom_ok(s + 1, (size_t)(at - s - 1)))
        return 0;
    const char *right = at + 1;
    size_t rn = (size_t)(s + n - 1 - right);
    if (rn >= 2 && right[0] == '[' && right[rn - 1] == ']')
        return rfc5322_domain_literal_ok(right, rn);
    return rfc5322_dot_atom_ok(right, rn);
}

int rfc5322_find_message_id(const char *msg, size_t len, char *out, size_t size)
{
    struct rfc5322_field f;
    if (rfc5322_find_field(msg, len, "Message-ID", &f) < 0)
        return -1;
    const char *v = msg + f.colon + 1, *stop = msg + f.end;
    const char *lt = memchr(v, '<', (size_t)(stop - v));
    const char *gt = lt ? memchr(lt, '>', (size_t)(stop - lt)) : NULL;
    size_t n = gt ? (size_t)(gt - lt + 1) : 0;
    if (!gt || !rfc5322_msgid_ok(lt, n) || n >= size)
        return -1;
    memcpy(out, lt, n);
    out[n] = '\0';
    return 0;
}
