/*
 * fuzz_rfc5322: libFuzzer harness for proto/rfc5322's header scanning and
 * the notice composer's uses of it (mail/dsn: header length, Message-ID,
 * status from a reply). The first input byte picks a field name and a
 * default class; the rest is a message. Checks, with small scanners of its
 * own: the header section is a prefix of the input made of field lines and
 * continuation lines (ending with an empty line exactly when *blank says so)
 * and scanning that prefix again gives the same length; a found field lies
 * inside the header section, has the name asked for, only WSP between its
 * name and colon, no earlier field of that name, and its value unfolds to
 * one line (every line end but the last is followed by WSP); every folding
 * break is CRLF or LF before WSP or the end; a Message-ID found or accepted
 * has the shape "<" dot-atom-text "@" right ">" with no space or control, fits
 * its buffer and comes from the Message-ID field; an accepted dot-atom has
 * no empty atom; a status taken from a reply is "C.S.D" (class 2, 4 or 5,
 * 1-3 digits each) whose class is the reply code's when there is one.
 * Build: tests/fuzz/run.sh.
 */
#include <assert.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include "mail/dsn.h"
#include "proto/rfc5322.h"

static const char *const names[] = {"Message-ID", "To", "Subject", "Received", "X-A", "a"};
#define N_NAMES (sizeof names / sizeof names[0])

static int wsp(char c)
{
    return c == ' ' || c == '\t';
}

/* Index past the line end at or after i (CRLF, LF or a bare CR), and the content's end. */
static size_t next_line(const char *p, size_t len, size_t i, size_t *content_end)
{
    while (i < len && p[i] != '\r' && p[i] != '\n')
        i++;
    *content_end = i;
    if (i < len && p[i] == '\r' && i + 1 < len && p[i + 1] == '\n')
        return i + 2;
    return i < len ? i + 1 : i;
}

/* Length of the field name ending in *WSP ":" on the line p[0..n), 0 if none. */
static size_t name_of(const char *p, size_t n)
{
    size_t i = 0;
    while (i < n && p[i] >= '!' && p[i] <= '~' && p[i] != ':')
        i++;
    size_t j = i;
    while (j < n && wsp(p[j]))
        j++;
    return i > 0 && j < n && p[j] == ':' ? i : 0;
}

/* The header section: field lines and continuations, then maybe an empty line. */
static void check_header(const char *m, size_t len, size_t hlen, int blank)
{
    size_t pos = 0, end;
    assert(hlen <= len);
    while (pos < hlen) {
        size_t next = next_line(m, len, pos, &end);
        assert(next <= hlen);
        if (end == pos) { /* the empty line ends the section */
            assert(blank && next == hlen);
            break;
        }
        assert(name_of(m + pos, end - pos) > 0 || (pos > 0 && wsp(m[pos])));
        pos = next;
    }
    if (blank)
        assert(hlen > 0 && (m[hlen - 1] == '\n' || m[hlen - 1] == '\r'));
    int again;
    assert(rfc5322_header_length(m, hlen, &again) == hlen && again == blank);
    assert(dsn_header_length(m, len) == hlen);
}

/* Every line end of the value but the last is folding; rfc5322_fold agrees. */
static void check_value(const char *v, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        size_t f = rfc5322_fold(v, n, i);
        assert(f <= 2);
        if (f) {
            assert(v[i] == '\n' || (v[i] == '\r' && v[i + 1] == '\n'));
            assert(i + f == n || wsp(v[i + f]));
        }
        if (v[i] != '\r' && v[i] != '\n')
            continue;
        size_t after = i + (v[i] == '\r' && i + 1 < n && v[i + 1] == '\n' ? 2 : 1);
        assert(after == n || wsp(v[after]));
        i = after - 1;
    }
}

static void check_field(const char *m, size_t len, size_t hlen, const char *name)
{
    struct rfc5322_field f;
    if (rfc5322_find_field(m, len, name, &f) < 0)
        return;
    size_t nl = strlen(name), end;
    assert(f.start < f.colon && f.colon < f.end && f.end <= hlen);
    assert(f.name_len == nl && strncasecmp(m + f.start, name, nl) == 0);
    for (size_t i = f.start + nl; i < f.colon; i++)
        assert(wsp(m[i]));
    assert(m[f.colon] == ':');
    check_value(m + f.colon + 1, f.end - f.colon - 1);
    /* no field of that name before it */
    for (size_t pos = 0, next; pos < f.start; pos = next) {
        next = next_line(m, len, pos, &end);
        size_t k = wsp(m[pos]) ? 0 : name_of(m + pos, end - pos);
        assert(!(k == nl && strncasecmp(m + pos, name, nl) == 0));
    }
}

/* rfc5322_field_has_value: a match needs a field of that name, and the value of the
 * first one, trimmed, when it is found there (it is, as the value is taken from it). */
static void check_has_value(const char *m, size_t len, const char *name)
{
    struct rfc5322_field f;
    char v[64];
    size_t n = 0;
    int found = rfc5322_find_field(m, len, name, &f) == 0;
    if (rfc5322_field_has_value(m, len, name, "a@b.example"))
        assert(found);
    if (!found)
        return;
    int whole = 1;
    for (size_t i = f.colon + 1; i < f.end && (whole = n < sizeof v - 1); i++)
        if (m[i] != '\r' && m[i] != '\n' && m[i] != '\0')
            v[n++] = m[i];
    v[n] = '\0';
    size_t a = strspn(v, " \t");
    while (n > a && (v[n - 1] == ' ' || v[n - 1] == '\t'))
        v[--n] = '\0';
    if (whole && n > a && !memchr(m + f.colon + 1, '\0', f.end - f.colon - 1) &&
        !(v[a] == '<' && v[n - 1] == '>'))
        assert(rfc5322_field_has_value(m, len, name, v + a));
}

/* "<" dot-atom-text "@" right ">", no space or control, shorter than the maximum. */
static void check_msgid_shape(const char *s, size_t n)
{
    assert(n >= 5 && n < RFC5322_MSGID_MAX && s[0] == '<' && s[n - 1] == '>');
    const char *at = memchr(s, '@', n);
    assert(at && at > s + 1 && at < s + n - 2);
    for (size_t i = 0; i < n; i++)
        assert((unsigned char)s[i] > ' ' && (unsigned char)s[i] < 0x7f);
    for (const char *p = s + 1; p < at; p++)
        assert(*p != '<' && *p != '>' &&
               !(p[0] == '.' && (p == s + 1 || p[1] == '.' || p[1] == '@')));
}

static void check_message_id(const char *m, size_t len, const uint8_t *raw, size_t rawlen)
{
    char id[RFC5322_MSGID_MAX], small[16];
    struct rfc5322_field f;
    int found = rfc5322_find_message_id(m, len, id, sizeof id);
    assert(dsn_find_message_id(m, len, small, sizeof small) ==
           (found == 0 && strlen(id) < sizeof small ? 0 : -1));
    if (found == 0) {
        size_t n = strlen(id);
        check_msgid_shape(id, n);
        assert(rfc5322_msgid_ok(id, n));
        assert(rfc5322_find_field(m, len, "Message-ID", &f) == 0);
        assert(memmem(m + f.colon, f.end - f.colon, id, n) != NULL);
    }
    if (rawlen && rfc5322_msgid_ok((const char *)raw, rawlen))
        check_msgid_shape((const char *)raw, rawlen);
    if (rfc5322_dot_atom_ok((const char *)raw, rawlen)) {
        assert(raw[0] != '.' && raw[rawlen - 1] != '.');
        for (size_t i = 0; i < rawlen; i++)
            assert(raw[i] == '.' ? raw[i + 1] != '.' : rfc5322_is_atext(raw[i]));
    }
}

/* The status of a reply: "C.S.D"; the reply code's class wins. */
static void check_status(const char *m, size_t len, int cls)
{
    char *reply = malloc(len + 1), st[DSN_STATUS_MAX];
    memcpy(reply, m, len);
    reply[len] = '\0';
    dsn_status_from_reply(reply, cls, st);
    assert(st[0] == '2' || st[0] == '4' || st[0] == '5');
    size_t i = 1;
    for (int part = 0; part < 2; part++) {
        assert(st[i++] == '.');
        size_t d = 0;
        while (st[i] >= '0' && st[i] <= '9')
            i++, d++;
        assert(d >= 1 && d <= 3);
    }
    assert(st[i] == '\0');
    const char *p = reply + strspn(reply, " ");
    if (dsn_reply_coded(p) && p[0] != '3')
        assert(st[0] == p[0]);
    free(reply);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    const char *name = names[data[0] % N_NAMES];
    int cls = "2455"[(data[0] >> 4) & 3] - '0';
    size_t len = size - 1;
    /* a copy of exactly len octets, so ASan sees any read past the end */
    char *m = malloc(len ? len : 1);
    memcpy(m, data + 1, len);
    int blank;
    size_t hlen = rfc5322_header_length(m, len, &blank);
    check_header(m, len, hlen, blank);
    check_field(m, len, hlen, name);
    check_has_value(m, len, name);
    check_message_id(m, len, data + 1, len);
    check_status(m, len, cls);
    free(m);
    return 0;
}
