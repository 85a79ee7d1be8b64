/*
 * addr: RFC 5321 section 4.1.2 paths and mailboxes, parsed from (pointer,
 * length) buffers with no I/O. Owns the grammar of Local-part (dot-atom with
 * RFC 5322 atext, both rules from proto/rfc5322, or a Quoted-string of qtextSMTP / quoted-pairSMTP), Domain
 * (LDH labels of at most 63 octets, no trailing dot), address literals
 * ([IPv4], [IPv6:...] checked with inet_pton, general [tag:content]), the
 * null path <> and <Postmaster>. An obsolete source route (RFC 5321 4.1.1.3,
 * appendix C) is checked and dropped, never used: it cannot steer relaying.
 * Limits (RFC 5321 4.5.3.1): local part 64 octets as written, domain 255;
 * they are reported only for otherwise well-formed addresses. The 256-octet
 * path limit is not enforced: a 64-octet local part and a 255-octet domain
 * do not fit in it, and the caller's line-length limit already bounds input.
 * With ADDR_ALLOW_UTF8 (RFC 6531 3.3) the local part's atext and qtext and
 * the domain's labels also take octets over 127; such an address must then
 * be valid UTF-8 in NFC without control characters, and its domain a valid
 * IDN (proto/intl), else it is a syntax error.
 * Must never read past the given length or accept a byte it cannot store.
 */
#include "proto/addr.h"
#include "proto/rfc5322.h"
#include "proto/intl.h"
#include "lib/str.h"
#include <arpa/inet.h>
#include <string.h>
#include <strings.h>

/* Where the parts of a mailbox lie in the input; filled by addr_scan_*. */
struct addr_span {
    const char *local;
    size_t local_len;
    int quoted;          /* local part is a Quoted-string */
    const char *domain;  /* NULL for <Postmaster> */
    size_t domain_len;
    int utf8_ok;         /* ADDR_ALLOW_UTF8: octets over 127 may appear */
};

static int addr_is_high(unsigned char c)
{
    return c > 127;
}

static int addr_is_alpha(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static int addr_is_letdig(unsigned char c)
{
    return addr_is_alpha(c) || (c >= '0' && c <= '9');
}

/* RFC 5321 4.1.2 qtextSMTP: %d32-33 / %d35-91 / %d93-126. */
static int addr_is_qtext(unsigned char c)
{
    return c >= 32 && c <= 126 && c != '"' && c != '\\';
}

/* RFC 5321 4.1.3 dcontent: %d33-90 / %d94-126. */
static int addr_is_dcontent(unsigned char c)
{
    return c >= 33 && c <= 126 && c != '[' && c != '\\' && c != ']';
}

/* 1 if s[0..n) is a letter-digit-hyphen string starting and ending with a letter or digit. */
static int addr_ldh_ok(const char *s, size_t n)
{
    if (n == 0 || !addr_is_letdig((unsigned char)s[0]) || !addr_is_letdig((unsigned char)s[n - 1]))
        return 0;
    for (size_t i = 0; i < n; i++)
        if (!addr_is_letdig((unsigned char)s[i]) && s[i] != '-')
            return 0;
    return 1;
}

/* 1 if s[0..n) is a domain name: dot-separated LDH labels of 1..63 octets. A label
 * with octets over 127 (a U-label, scanned only when UTF-8 is allowed) is checked
 * later as an IDN, here only for being non-empty. */
static int addr_domain_name_ok(const char *s, size_t n)
{
    size_t start = 0;
    for (size_t i = 0; i <= n; i++) {
        if (i < n && s[i] != '.')
            continue;
        size_t label = i - start;
        int ulabel = label > 0 && !intl_is_ascii(s + start, label);
        if ((!ulabel && label > 63) || (!ulabel && !addr_ldh_ok(s + start, label)) ||
            label == 0)
            return 0;
        start = i + 1;
    }
    return 1;
}

/* Checks the inside of an address literal (between the brackets). */
static int addr_literal_ok(const char *s, size_t n)
{
    char tmp[64];
    const char *colon = memchr(s, ':', n);
    if (!colon) {
        struct in_addr v4;
        return n < sizeof tmp && str_ncopy(tmp, sizeof tmp, s, n) == 0 &&
               inet_pton(AF_INET, tmp, &v4) == 1;
    }
    size_t tag = (size_t)(colon - s), rest = n - tag - 1;
    if (!addr_ldh_ok(s, tag) || rest == 0)
        return 0;
    if (tag == 4 && strncasecmp(s, "IPv6", 4) == 0) {
        struct in6_addr v6;
        return rest < sizeof tmp && str_ncopy(tmp, sizeof tmp, colon + 1, rest) == 0 &&
               inet_pton(AF_INET6, tmp, &v6) == 1;
    }
    return 1; /* General-address-literal: dcontent already checked by the scanner */
}

/* Length of the Quoted-string at s (through the closing quote), 0 if malformed. */
static size_t addr_scan_quoted(const char *s, size_t len, int utf8_ok)
{
    size_t i = 1;
    while (i < len) {
        unsigned char c = (unsigned char)s[i];
        if (c == '"')
            return i + 1;
        if (c == '\\') {
            if (i + 1 >= len || s[i + 1] < 32 || s[i + 1] > 126)
                return 0;
            i += 2;
        } else if (addr_is_qtext(c) || (utf8_ok && addr_is_high(c))) {
            i++;
        } else {
            return 0;
        }
    }
    return 0;
}

/* RFC 5322 dot-atom, with UTF-8 octets counted as atext (they are only scanned when
 * allowed): no leading, trailing or double dot. */
static int addr_dot_atom_ok(const char *s, size_t n)
{
    if (n == 0 || s[0] == '.' || s[n - 1] == '.')
        return 0;
    for (size_t i = 0; i < n; i++)
        if ((s[i] == '.' && s[i + 1] == '.') ||
            (s[i] != '.' && !addr_is_high((unsigned char)s[i]) &&
             !rfc5322_is_atext((unsigned char)s[i])))
            return 0;
    return 1;
}

/* Length of the Local-part at s, 0 if malformed; sets sp->local*. */
static size_t addr_scan_local(const char *s, size_t len, struct addr_span *sp)
{
    size_t n = 0;
    sp->quoted = len > 0 && s[0] == '"';
    if (sp->quoted) {
        n = addr_scan_quoted(s, len, sp->utf8_ok);
    } else {
        while (n < len && (s[n] == '.' || rfc5322_is_atext((unsigned char)s[n]) ||
                           (sp->utf8_ok && addr_is_high((unsigned char)s[n]))))
            n++;
        if (!addr_dot_atom_ok(s, n))
            n = 0;
    }
    sp->local = s;
    sp->local_len = n;
    return n;
}

/* Length of the Domain or address-literal at s, 0 if malformed; utf8_ok lets
 * U-label octets in. */
static size_t addr_scan_domain(const char *s, size_t len, int utf8_ok)
{
    size_t n = 0;
    if (len > 0 && s[0] == '[') {
        n = 1;
        while (n < len && addr_is_dcontent((unsigned char)s[n]))
            n++;
        if (n >= len || s[n] != ']' || !addr_literal_ok(s + 1, n - 1))
            return 0;
        return n + 1;
    }
    while (n < len && (addr_is_letdig((unsigned char)s[n]) || s[n] == '-' || s[n] == '.' ||
                       (utf8_ok && addr_is_high((unsigned char)s[n]))))
        n++;
    return addr_domain_name_ok(s, n) ? n : 0;
}

/* Scans "local@domain" at s; returns bytes used, 0 if malformed. */
static size_t addr_scan_mailbox(const char *s, size_t len, struct addr_span *sp)
{
    size_t n = addr_scan_local(s, len, sp);
    if (n == 0 || n >= len || s[n] != '@')
        return 0;
    size_t d = addr_scan_domain(s + n + 1, len - n - 1, sp->utf8_ok);
    if (d == 0)
        return 0;
    sp->domain = s + n + 1;
    sp->domain_len = d;
    return n + 1 + d;
}

/* Skips an obsolete source route "@a,@b:" at s; returns bytes used, 0 if malformed. */
static size_t addr_skip_route(const char *s, size_t len)
{
    size_t i = 0;
    for (;;) {
        if (i >= len || s[i] != '@')
            return 0;
        i++;
        size_t d = addr_scan_domain(s + i, len - i, 0);
        if (d == 0 || s[i] == '[')
            return 0;
        i += d;
        if (i < len && s[i] == ':')
            return i + 1;
        if (i >= len || s[i] != ',')
            return 0;
        i++;
    }
}

/* Length limits, checked once the syntax is known to be good. */
static enum addr_err addr_check_limits(const struct addr_span *sp)
{
    if (sp->local_len > ADDR_LOCAL_MAX)
        return ADDR_LOCAL_TOO_LONG;
    if (sp->domain && sp->domain_len > ADDR_DOMAIN_MAX)
        return ADDR_DOMAIN_TOO_LONG;
    return ADDR_OK;
}

/* Removes the quotes and quoted-pair backslashes of a Quoted-string (n <= 64). */
static size_t addr_unquote(const char *s, size_t n, char *out)
{
    size_t o = 0;
    for (size_t i = 1; i + 1 < n; i++) {
        if (s[i] == '\\')
            i++;
        out[o++] = s[i];
    }
    out[o] = '\0';
    return o;
}

/* Stores the local part: unquoted when its content is a valid dot-atom. */
static void addr_store_local(const struct addr_span *sp, char *out)
{
    char tmp[ADDR_LOCAL_MAX + 1];
    if (sp->quoted) {
        size_t n = addr_unquote(sp->local, sp->local_len, tmp);
        if (addr_dot_atom_ok(tmp, n)) {
            str_ncopy(out, ADDR_LOCAL_MAX + 1, tmp, n);
            return;
        }
    }
    str_ncopy(out, ADDR_LOCAL_MAX + 1, sp->local, sp->local_len);
}

/* 0 if the stored address is plain ASCII or good internationalized mail (RFC 6531
 * 3.3): UTF-8 in NFC without controls, the domain a valid IDN; -1 if not. */
static int addr_check_utf8(struct addr *out)
{
    char alabel[INTL_DOMAIN_MAX];
    size_t ln = strlen(out->local), dn = strlen(out->domain);
    out->utf8 = !intl_is_ascii(out->local, ln) || !intl_is_ascii(out->domain, dn);
    if (!out->utf8)
        return 0;
    if (!intl_utf8_ok(out->local, ln) || !intl_utf8_ok(out->domain, dn))
        return -1;
    return intl_domain_to_ascii(out->domain, alabel, sizeof alabel);
}

/* Checks limits and fills *out from a syntactically valid span. */
static enum addr_err addr_store(const struct addr_span *sp, struct addr *out)
{
    enum addr_err e = addr_check_limits(sp);
    if (e != ADDR_OK)
        return e;
    memset(out, 0, sizeof *out);
    addr_store_local(sp, out->local);
    if (sp->domain)
        str_ncopy(out->domain, sizeof out->domain, sp->domain, sp->domain_len);
    return addr_check_utf8(out) == 0 ? ADDR_OK : ADDR_SYNTAX;
}

/* 1 if the local part just scanned is "Postmaster" (any case, quoted or not). */
static int addr_is_postmaster(const struct addr_span *sp)
{
    char tmp[ADDR_LOCAL_MAX + 1];
    if (sp->local_len > ADDR_LOCAL_MAX)
        return 0;
    if (sp->quoted)
        addr_unquote(sp->local, sp->local_len, tmp);
    else
        str_ncopy(tmp, sizeof tmp, sp->local, sp->local_len);
    return strcasecmp(tmp, "Postmaster") == 0;
}

/* Parses what follows "<" (and any route): a mailbox or Postmaster, then ">". */
static enum addr_err addr_parse_inner(const char *s, size_t len, int allow_postmaster,
                                      int utf8_ok, struct addr *out, size_t *used)
{
    struct addr_span sp = { .utf8_ok = utf8_ok };
    size_t n = addr_scan_mailbox(s, len, &sp);
    if (n == 0 && allow_postmaster && sp.local_len > 0 && sp.local_len < len &&
        s[sp.local_len] == '>' && addr_is_postmaster(&sp)) {
        sp.domain = NULL;
        n = sp.local_len;
    }
    if (n == 0 || n >= len || s[n] != '>')
        return ADDR_SYNTAX;
    *used = n + 1;
    return addr_store(&sp, out);
}

enum addr_err addr_parse_path(const char *s, size_t len, int allow_null, int allow_postmaster,
                              struct addr *out, size_t *consumed)
{
    unsigned flags = (allow_null ? ADDR_ALLOW_NULL : 0) |
                     (allow_postmaster ? ADDR_ALLOW_POSTMASTER : 0);
    return addr_parse_path_flags(s, len, flags, out, consumed);
}

enum addr_err addr_parse_path_flags(const char *s, size_t len, unsigned flags, struct addr *out,
                                    size_t *consumed)
{
    int allow_null = (flags & ADDR_ALLOW_NULL) != 0;
    int allow_postmaster = (flags & ADDR_ALLOW_POSTMASTER) != 0;
    if (len < 2 || s[0] != '<')
        return ADDR_SYNTAX;
    if (s[1] == '>') {
        if (!allow_null)
            return ADDR_SYNTAX;
        memset(out, 0, sizeof *out);
        out->is_null = 1;
        *consumed = 2;
        return ADDR_OK;
    }
    size_t pos = 1;
    if (s[1] == '@') {
        size_t route = addr_skip_route(s + 1, len - 1);
        if (route == 0)
            return ADDR_SYNTAX;
        pos += route;
        allow_postmaster = 0; /* RFC 5321 4.1.1.3: only the bare <Postmaster> */
    }
    size_t used = 0;
    enum addr_err e = addr_parse_inner(s + pos, len - pos, allow_postmaster,
                                       (flags & ADDR_ALLOW_UTF8) != 0, out, &used);
    if (e == ADDR_OK)
        *consumed = pos + used;
    return e;
}

enum addr_err addr_parse_mailbox_n(const char *s, size_t len, struct addr *out)
{
    return addr_parse_mailbox_flags(s, len, 0, out);
}

enum addr_err addr_parse_mailbox_flags(const char *s, size_t len, unsigned flags,
                                       struct addr *out)
{
    struct addr_span sp = { .utf8_ok = (flags & ADDR_ALLOW_UTF8) != 0 };
    size_t n = addr_scan_mailbox(s, len, &sp);
    if (n == 0 || n != len)
        return ADDR_SYNTAX;
    return addr_store(&sp, out);
}

enum addr_err addr_parse_mailbox(const char *s, struct addr *out)
{
    return addr_parse_mailbox_n(s, strlen(s), out);
}

int addr_format(const struct addr *a, char *out, size_t size)
{
    if (size == 0)
        return -1;
    if (a->is_null) {
        out[0] = '\0';
        return 0;
    }
    if (a->domain[0] == '\0')
        return str_copy(out, size, a->local);
    return str_fmt(out, size, "%s@%s", a->local, a->domain);
}

int addr_is_literal(const struct addr *a)
{
    return a->domain[0] == '[';
}

int addr_equal(const struct addr *a, const struct addr *b)
{
    if (a->is_null || b->is_null)
        return a->is_null && b->is_null;
    return strcasecmp(a->local, b->local) == 0 && intl_domain_equal(a->domain, b->domain);
}
