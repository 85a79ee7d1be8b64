/*
 * fuzz_smtp_parse: libFuzzer harness for every function proto/smtp_parse.h
 * exports, on arbitrary bytes (an exact-size heap copy: ASan sees any read
 * past the end). Complements fuzz_smtp_params with model and round-trip
 * properties:
 * - smtp_parse_command equals a model: the verb is the text before the
 *   first space, matched case-insensitively; else an HTTP method or a
 *   header-field name followed by ':' is SMTP_FORBIDDEN; the argument is
 *   exactly the bytes after that space;
 * - smtp_line_limit equals a model from the first five octets;
 * - an address that MAIL or RCPT accepts has no CR, LF or NUL, its parts
 *   fit their RFC 5321 limits, and "<" + addr_format() + ">" parses back to
 *   an equal address (the queue file stores the formatted form);
 * - parameters never change the address: success without EHLO implies the
 *   same result with EHLO; "from:"/"to:" in any case give the same result;
 * - NOTIFY: whatever smtp_notify_parse accepts, smtp_notify_format prints
 *   and smtp_notify_parse reads back to the same bits; the format is
 *   NUL-terminated within any output size the input chooses.
 * Build: tests/fuzz/run.sh.
 */
#include <assert.h>
#include <ctype.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include "proto/smtp_parse.h"

static const struct { const char *name; enum smtp_verb verb; } verbs[] = {
    { .name = "HELO", .verb = SMTP_HELO }, { .name = "EHLO", .verb = SMTP_EHLO },
    { .name = "MAIL", .verb = SMTP_MAIL }, { .name = "RCPT", .verb = SMTP_RCPT },
    { .name = "DATA", .verb = SMTP_DATA }, { .name = "RSET", .verb = SMTP_RSET },
    { .name = "VRFY", .verb = SMTP_VRFY }, { .name = "EXPN", .verb = SMTP_EXPN },
    { .name = "HELP", .verb = SMTP_HELP }, { .name = "NOOP", .verb = SMTP_NOOP },
    { .name = "QUIT", .verb = SMTP_QUIT }, { .name = "STARTTLS", .verb = SMTP_STARTTLS },
    { .name = "AUTH", .verb = SMTP_AUTH }, { .name = "BDAT", .verb = SMTP_BDAT },
    { .name = "GET", .verb = SMTP_FORBIDDEN }, { .name = "POST", .verb = SMTP_FORBIDDEN },
    { .name = "CONNECT", .verb = SMTP_FORBIDDEN }, { .name = "PUT", .verb = SMTP_FORBIDDEN },
    { .name = "HEAD", .verb = SMTP_FORBIDDEN }, { .name = "OPTIONS", .verb = SMTP_FORBIDDEN },
    { .name = "DELETE", .verb = SMTP_FORBIDDEN }, { .name = "PATCH", .verb = SMTP_FORBIDDEN },
};

/* "^[A-Za-z][A-Za-z0-9-]*:" */
static int model_header_line(const char *s, size_t n)
{
    if (n == 0 || !isalpha((unsigned char)s[0]))
        return 0;
    size_t i = 1;
    while (i < n && (isalnum((unsigned char)s[i]) || s[i] == '-'))
        i++;
    return i < n && s[i] == ':';
}

static void check_command(const char *s, size_t n)
{
    struct smtp_cmd cmd;
    enum smtp_verb v = smtp_parse_command(s, n, &cmd);
    const char *sp = memchr(s, ' ', n);
    size_t tok = sp ? (size_t)(sp - s) : n;
    enum smtp_verb want = SMTP_UNKNOWN;
    for (size_t i = 0; i < sizeof verbs / sizeof verbs[0] && want == SMTP_UNKNOWN; i++)
        if (strlen(verbs[i].name) == tok && strncasecmp(s, verbs[i].name, tok) == 0)
            want = verbs[i].verb;
    if (want == SMTP_UNKNOWN && model_header_line(s, n))
        want = SMTP_FORBIDDEN;
    assert(v == want && cmd.verb == want);
    assert(cmd.arg_len == (sp ? n - tok - 1 : 0));
    if (sp)
        assert(cmd.arg == sp + 1);
}

static void check_line_limit(const char *s, size_t n)
{
    size_t want = SMTP_LINE_MAX;
    if (n >= 5 && strncasecmp(s, "MAIL ", 5) == 0)
        want = SMTP_MAIL_LINE_MAX;
    else if (n >= 5 && strncasecmp(s, "RCPT ", 5) == 0)
        want = SMTP_RCPT_LINE_MAX;
    assert(smtp_line_limit(s, n) == want);
}

/* An accepted address: clean, bounded, and its formatted form parses back to it. */
static void check_address(const struct addr *a, const char *prefix, int is_mail)
{
    assert(strlen(a->local) <= ADDR_LOCAL_MAX && strlen(a->domain) <= ADDR_DOMAIN_MAX);
    assert(!strpbrk(a->local, "\r\n") && !strpbrk(a->domain, "\r\n"));
    char text[ADDR_LOCAL_MAX + ADDR_DOMAIN_MAX + 2], line[sizeof text + 8];
    assert(addr_format(a, text, sizeof text) == 0);
    size_t len = strlen(prefix) + strlen(text) + 2;
    memcpy(line, prefix, strlen(prefix));
    line[strlen(prefix)] = '<';
    memcpy(line + strlen(prefix) + 1, text, strlen(text));
    line[len - 1] = '>';
    struct smtp_err err;
    if (is_mail) {
        struct mail_params m;
        assert(smtp_parse_mail(line, len, 0, &m, &err) == 0);
        assert(addr_equal(&m.from, a));
    } else {
        struct rcpt_params r;
        assert(smtp_parse_rcpt(line, len, 0, &r, &err) == 0);
        assert(addr_equal(&r.to, a));
    }
}

/* The first n bytes of s with the prefix's letters flipped in case, in a heap copy. */
static char *flip_prefix(const char *s, size_t n, size_t plen)
{
    char *t = malloc(n ? n : 1);
    memcpy(t, s, n);
    for (size_t i = 0; i < plen && i < n; i++)
        if (isalpha((unsigned char)t[i]))
            t[i] ^= 0x20;
    return t;
}

/* MAIL or RCPT seen the same way: parse into out (a mail_params or rcpt_params). */
struct command {
    const char *prefix;     /* "FROM:" or "TO:" */
    int is_mail;
    size_t size;            /* of the parsed struct */
    int (*parse)(const char *s, size_t n, int esmtp, void *out, struct smtp_err *err);
    const struct addr *(*address)(const void *out);
};

static int parse_mail(const char *s, size_t n, int esmtp, void *out, struct smtp_err *err)
{
    return smtp_parse_mail(s, n, esmtp, out, err);
}

static int parse_rcpt(const char *s, size_t n, int esmtp, void *out, struct smtp_err *err)
{
    return smtp_parse_rcpt(s, n, esmtp, out, err);
}

static const struct addr *mail_address(const void *out)
{
    return &((const struct mail_params *)out)->from;
}

static const struct addr *rcpt_address(const void *out)
{
    return &((const struct rcpt_params *)out)->to;
}

static const struct command commands[] = {
    { .prefix = "FROM:", .is_mail = 1, .size = sizeof(struct mail_params),
      .parse = parse_mail, .address = mail_address },
    { .prefix = "TO:", .is_mail = 0, .size = sizeof(struct rcpt_params),
      .parse = parse_rcpt, .address = rcpt_address },
};

static void check_params(const struct command *c, const char *s, size_t n)
{
    /* three parses: without EHLO, with EHLO, with EHLO and the prefix's case flipped */
    void *out[3] = { calloc(1, c->size), calloc(1, c->size), calloc(1, c->size) };
    struct smtp_err err[3];
    char *t = flip_prefix(s, n, strlen(c->prefix));
    int r0 = c->parse(s, n, 0, out[0], &err[0]), r1 = c->parse(s, n, 1, out[1], &err[1]);
    int r2 = c->parse(t, n, 1, out[2], &err[2]);
    if (r0 == 0)
        assert(r1 == 0 && memcmp(out[0], out[1], c->size) == 0);
    assert(r2 == r1);
    if (r1 < 0)
        assert(err[2].code == err[1].code && err[2].text == err[1].text);
    else
        assert(memcmp(out[1], out[2], c->size) == 0);
    if (r1 == 0)
        check_address(c->address(out[1]), c->prefix, c->is_mail);
    free(t);
    for (size_t i = 0; i < 3; i++)
        free(out[i]);
}

static void check_notify(const char *s, size_t n, size_t out_size)
{
    unsigned bits = 0, back = 0;
    char text[64], small[64];
    if (smtp_notify_parse(s, n, &bits) == 0) {
        smtp_notify_format(bits, text, sizeof text);
        assert(smtp_notify_parse(text, strlen(text), &back) == 0 && back == bits);
    }
    if (out_size == 0)
        return;
    memset(small, 'x', sizeof small);
    smtp_notify_format(bits, small, out_size);
    assert(memchr(small, '\0', out_size));
    for (size_t i = out_size; i < sizeof small; i++)
        assert(small[i] == 'x');
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *s = malloc(size ? size : 1);
    if (size)
        memcpy(s, data, size);
    check_command(s, size);
    check_line_limit(s, size);
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        check_params(&commands[i], s, size);
    check_notify(s, size, size ? data[0] % 64 : 0);
    free(s);
    return 0;
}
