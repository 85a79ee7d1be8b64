/*
 * addrlist: RFC 5322 section 3.4 address-lists (To/Cc/Bcc values) turned
 * into RFC 5321 mailboxes, pure, no I/O, no allocation. Owns the header-side
 * grammar: mailbox (addr-spec or [display-name] angle-addr), groups, CFWS
 * (nested comments with quoted-pairs, folding CRLF/LF + WSP), quoted strings,
 * domain literals, and the obsolete forms of RFC 5322 4.4 that still occur
 * (obs-phrase with dots, obs-local-part "a"."b", CFWS around dots, obs-route
 * in <@a,@b:u@d> which is dropped, empty list elements, group missing ';').
 * Every address is rebuilt in fixed buffers sized by the RFC 5321 limits
 * (local part 64, domain 255) and checked with addr_parse_mailbox() before it
 * is reported, so a caller never sees an address SMTP cannot carry.
 * A mailbox is reported only once the text after it is known to be a valid
 * separator; earlier mailboxes may have been reported when an error is found.
 * The atext, dot-atom and folding rules are proto/rfc5322's.
 */
#include "proto/addrlist.h"
#include "proto/addr.h"
#include "proto/rfc5322.h"
#include "lib/str.h"
#include <string.h>

struct alist {
    const char *s;
    size_t len, pos;
    const char *default_domain;
    addrlist_cb cb;
    void *ctx;
    const char *err;  /* first syntax error */
    int stop;         /* non-zero return of cb */
};

/* Words of a phrase or local part with CFWS removed and quoting undone. */
struct alist_text {
    char buf[ADDR_LOCAL_MAX + 1];
    size_t len;
    int overflow;   /* content longer than a local part may be */
    int words;      /* atoms and quoted strings seen */
    int shape_bad;  /* not word *("." word) */
    int want_word;  /* last token was a dot (or nothing yet) */
};

struct alist_domain {
    char buf[ADDR_DOMAIN_MAX + 1];
    size_t len;
    int overflow;
};

struct alist_mailbox {
    struct alist_text local;
    struct alist_domain domain;
};

static int alist_mailbox_or_group(struct alist *p, int in_group);

static int alist_fail(struct alist *p, const char *msg)
{
    if (!p->err)
        p->err = msg;
    return -1;
}

/* The next byte, or -1 at the end of the value. */
static int alist_peek(const struct alist *p)
{
    return p->pos < p->len ? (unsigned char)p->s[p->pos] : -1;
}

/* Atom bytes of a word: atext, plus 8-bit (RFC 6532) which only a display name may keep. */
static int alist_is_word_char(int c)
{
    return rfc5322_is_atext(c) || c >= 128;
}

/* Consumes a CR or LF at pos that must be folding; -1 if it is a bare line break. */
static int alist_skip_break(struct alist *p, const char *where)
{
    size_t f = rfc5322_fold(p->s, p->len, p->pos);
    if (f == 0)
        return alist_fail(p, where);
    p->pos += f;
    return 0;
}

/* Skips white space and folding; a bare line break cannot appear in a header value. */
static int alist_skip_fws(struct alist *p)
{
    for (;;) {
        int c = alist_peek(p);
        if (c == ' ' || c == '\t') {
            p->pos++;
        } else if (c == '\r' || c == '\n') {
            if (alist_skip_break(p, "line break not followed by white space") < 0)
                return -1;
        } else {
            return 0;
        }
    }
}

/* Skips a comment at pos (which is '('), nested, iteratively so depth costs no stack. */
static int alist_skip_comment(struct alist *p)
{
    size_t depth = 0;
    while (p->pos < p->len) {
        char c = p->s[p->pos];
        if (c == '\\') {
            if (p->pos + 1 >= p->len)
                break;
            p->pos += 2;
            continue;
        }
        if (c == '\r' || c == '\n') {
            if (alist_skip_break(p, "line break in a comment is not folding") < 0)
                return -1;
            continue;
        }
        p->pos++;
        if (c == '(')
            depth++;
        else if (c == ')' && --depth == 0)
            return 0;
    }
    return alist_fail(p, "unterminated comment");
}

/* Skips CFWS: white space, folding and comments. */
static int alist_skip_cfws(struct alist *p)
{
    for (;;) {
        if (alist_skip_fws(p) < 0)
            return -1;
        if (alist_peek(p) != '(')
            return 0;
        if (alist_skip_comment(p) < 0)
            return -1;
    }
}

static void alist_text_add(struct alist_text *t, char c)
{
    if (t->len < ADDR_LOCAL_MAX)
        t->buf[t->len++] = c;
    else
        t->overflow = 1;
    t->buf[t->len] = '\0';
}

static void alist_text_word(struct alist_text *t)
{
    if (!t->want_word)
        t->shape_bad = 1;
    t->want_word = 0;
    t->words++;
}

/* Reads a quoted string at pos (which is '"'), adding its content to t. */
static int alist_quoted(struct alist *p, struct alist_text *t)
{
    p->pos++;
    while (p->pos < p->len) {
        char c = p->s[p->pos];
        if (c == '"') {
            p->pos++;
            return 0;
        }
        if (c == '\r' || c == '\n') {
            if (alist_skip_break(p, "line break in a quoted string is not folding") < 0)
                return -1;
            continue;
        }
        if (c == '\\') {
            if (p->pos + 1 >= p->len)
                break;
            c = p->s[++p->pos];
        }
        p->pos++;
        if (c == '\0')
            return alist_fail(p, "NUL byte in a quoted string");
        alist_text_add(t, c);
    }
    return alist_fail(p, "unterminated quoted string");
}

/* Reads a phrase or local part: atoms, quoted strings and dots with CFWS between. */
static int alist_words(struct alist *p, struct alist_text *t)
{
    memset(t, 0, sizeof *t);
    t->want_word = 1;
    for (;;) {
        if (alist_skip_cfws(p) < 0)
            return -1;
        int c = alist_peek(p);
        if (c == '"') {
            alist_text_word(t);
            if (alist_quoted(p, t) < 0)
                return -1;
        } else if (c == '.') {
            t->shape_bad |= t->want_word;
            t->want_word = 1;
            alist_text_add(t, '.');
            p->pos++;
        } else if (c >= 0 && alist_is_word_char(c)) {
            alist_text_word(t);
            while (alist_is_word_char(alist_peek(p)))
                alist_text_add(t, p->s[p->pos++]);
        } else {
            return 0;
        }
    }
}

static void alist_domain_add(struct alist_domain *d, char c)
{
    if (d->len < ADDR_DOMAIN_MAX)
        d->buf[d->len++] = c;
    else
        d->overflow = 1;
    d->buf[d->len] = '\0';
}

/* Reads a domain literal at pos (which is '['); white space inside is dropped. */
static int alist_literal(struct alist *p, struct alist_domain *d)
{
    alist_domain_add(d, p->s[p->pos++]);
    while (p->pos < p->len) {
        char c = p->s[p->pos];
        int quoted = c == '\\';
        if (c == '[')
            return alist_fail(p, "'[' inside a domain literal");
        if (c == '\r' || c == '\n') {
            if (alist_skip_break(p, "line break in a domain literal is not folding") < 0)
                return -1;
            continue;
        }
        if (quoted) {
            if (p->pos + 1 >= p->len)
                break;
            c = p->s[++p->pos];
        }
        p->pos++;
        if (c == '\0')
            return alist_fail(p, "NUL byte in a domain literal");
        if (quoted || (c != ' ' && c != '\t'))
            alist_domain_add(d, c);
        if (c == ']' && !quoted)
            return 0;
    }
    return alist_fail(p, "unterminated domain literal");
}

/* Reads a dot-atom domain (obs-domain: CFWS allowed around the dots). */
static int alist_domain_name(struct alist *p, struct alist_domain *d)
{
    for (;;) {
        if (!rfc5322_is_atext(alist_peek(p)))
            return alist_fail(p, d->len == 0 ? "missing domain after '@'"
                                             : "domain has an empty label");
        while (rfc5322_is_atext(alist_peek(p)))
            alist_domain_add(d, p->s[p->pos++]);
        if (alist_skip_cfws(p) < 0)
            return -1;
        if (alist_peek(p) != '.')
            return 0;
        alist_domain_add(d, p->s[p->pos++]);
        if (alist_skip_cfws(p) < 0)
            return -1;
    }
}

/* Reads the domain after '@', with the CFWS around it. */
static int alist_domain(struct alist *p, struct alist_domain *d)
{
    memset(d, 0, sizeof *d);
    if (alist_skip_cfws(p) < 0)
        return -1;
    if (alist_peek(p) == '[' ? alist_literal(p, d) < 0 : alist_domain_name(p, d) < 0)
        return -1;
    if (d->overflow)
        return alist_fail(p, "domain longer than 255 octets");
    return alist_skip_cfws(p);
}

/* Skips an obs-route "@a,@b:" at pos (which is '@'): it is checked, never used. */
static int alist_route(struct alist *p)
{
    struct alist_domain d;
    for (;;) {
        if (alist_peek(p) == '@') {
            p->pos++;
            if (alist_domain(p, &d) < 0)
                return -1;
        }
        int c = alist_peek(p);
        if (c == ':') {
            p->pos++;
            return 0;
        }
        if (c != ',')
            return alist_fail(p, "malformed route in <address>");
        p->pos++;
        if (alist_skip_cfws(p) < 0)
            return -1;
    }
}

/* After the local part's words: "@" domain, or the default domain when there is no '@'. */
static int alist_spec_rest(struct alist *p, struct alist_mailbox *m)
{
    const struct alist_text *t = &m->local;
    int c = alist_peek(p);
    if (t->words == 0)
        return alist_fail(p, c == '@' ? "missing local part before '@'"
                          : c == -1   ? "missing address"
                                      : "unexpected character where an address was expected");
    if (t->shape_bad || t->want_word)
        return alist_fail(p, "invalid local part (a display name needs <address>)");
    if (c == '@') {
        p->pos++;
        return alist_domain(p, &m->domain);
    }
    memset(&m->domain, 0, sizeof m->domain);
    if (!p->default_domain)
        return alist_fail(p, "address has no domain");
    if (str_copy(m->domain.buf, sizeof m->domain.buf, p->default_domain) < 0)
        return alist_fail(p, "default domain longer than 255 octets");
    return 0;
}

/* Reads an angle-addr at pos (which is '<'); returns 1 for "<>" (nothing to report). */
static int alist_angle(struct alist *p, struct alist_mailbox *m)
{
    p->pos++;
    if (alist_skip_cfws(p) < 0)
        return -1;
    if (alist_peek(p) == '>') {
        p->pos++;
        return 1;
    }
    if (alist_peek(p) == '@' && alist_route(p) < 0)
        return -1;
    if (alist_words(p, &m->local) < 0 || alist_spec_rest(p, m) < 0)
        return -1;
    if (alist_peek(p) == '>') {
        p->pos++;
        return 0;
    }
    return alist_fail(p, alist_peek(p) == -1 ? "unterminated '<' (missing '>')"
                                             : "unexpected character inside <address>");
}

/* The RFC 5321 form of a local part: as is if a dot-atom, else re-quoted. -1 if over 64. */
static int alist_local_form(const struct alist_text *t, char *out)
{
    size_t o = 0;
    if (rfc5322_dot_atom_ok(t->buf, t->len))
        return str_ncopy(out, ADDR_LOCAL_MAX + 1, t->buf, t->len);
    out[o++] = '"';
    for (size_t i = 0; i < t->len; i++) {
        int escape = t->buf[i] == '"' || t->buf[i] == '\\';
        if (o + (size_t)escape + 2 > ADDR_LOCAL_MAX) /* this byte, then the closing quote */
            return -1;
        if (escape)
            out[o++] = '\\';
        out[o++] = t->buf[i];
    }
    out[o++] = '"';
    out[o] = '\0';
    return 0;
}

/* Builds "local@domain", checks it as an SMTP mailbox, and reports it. */
static int alist_emit(struct alist *p, const struct alist_mailbox *m)
{
    char local[ADDR_LOCAL_MAX + 1];
    char out[ADDR_LOCAL_MAX + 1 + ADDR_DOMAIN_MAX + 1];
    struct addr a;
    if (m->local.overflow || alist_local_form(&m->local, local) < 0)
        return alist_fail(p, "local part longer than 64 octets");
    if (str_fmt(out, sizeof out, "%s@%s", local, m->domain.buf) < 0)
        return alist_fail(p, "address too long");
    switch (addr_parse_mailbox(out, &a)) {
    case ADDR_OK:
        break;
    case ADDR_LOCAL_TOO_LONG:
        return alist_fail(p, "local part longer than 64 octets");
    case ADDR_DOMAIN_TOO_LONG:
        return alist_fail(p, "domain longer than 255 octets");
    default:
        return alist_fail(p, "address is not a valid RFC 5321 mailbox");
    }
    int rc = p->cb ? p->cb(p->ctx, out) : 0;
    if (rc != 0) {
        p->stop = rc;
        return -1;
    }
    return 0;
}

/* Checks what follows a mailbox or group: ',', end, or ';' inside a group. */
static int alist_check_sep(struct alist *p, int in_group)
{
    int c = alist_peek(p);
    if (c == -1 || c == ',' || (c == ';' && in_group))
        return 0;
    if (c == ';')
        return alist_fail(p, "';' outside a group");
    if (c == '>')
        return alist_fail(p, "'>' without a matching '<'");
    return alist_fail(p, in_group ? "expected ',' or ';' after an address"
                                  : "expected ',' after an address");
}

/* Reads a group after its display name, at pos (which is ':'), through ';' or the end. */
static int alist_group(struct alist *p, const struct alist_text *name, int in_group)
{
    if (in_group)
        return alist_fail(p, "nested group");
    if (name->words == 0)
        return alist_fail(p, "group has no display name");
    p->pos++;
    for (;;) {
        if (alist_skip_cfws(p) < 0)
            return -1;
        int c = alist_peek(p);
        if (c == -1)
            return 0; /* a missing ';' at the end of the value is tolerated */
        if (c == ';') {
            p->pos++;
            return 0;
        }
        if (c == ',')
            p->pos++;
        else if (alist_mailbox_or_group(p, 1) < 0)
            return -1;
    }
}

/* Reads one mailbox and reports it, or a whole group; stops at the separator. */
static int alist_mailbox_or_group(struct alist *p, int in_group)
{
    struct alist_mailbox m;
    int rc = 0;
    if (alist_words(p, &m.local) < 0)
        return -1;
    int c = alist_peek(p);
    if (c == ':') {
        if (alist_group(p, &m.local, in_group) < 0 || alist_skip_cfws(p) < 0)
            return -1;
        return alist_check_sep(p, 0);
    }
    if (c == '<')
        rc = alist_angle(p, &m);
    else if (c == '>')
        rc = alist_fail(p, "'>' without a matching '<'");
    else
        rc = alist_spec_rest(p, &m);
    if (rc < 0 || alist_skip_cfws(p) < 0 || alist_check_sep(p, in_group) < 0)
        return -1;
    return rc == 1 ? 0 : alist_emit(p, &m);
}

static int alist_list(struct alist *p)
{
    for (;;) {
        if (alist_skip_cfws(p) < 0)
            return -1;
        int c = alist_peek(p);
        if (c == -1)
            return 0;
        if (c == ',')
            p->pos++;
        else if (c == ';')
            return alist_fail(p, "';' outside a group");
        else if (alist_mailbox_or_group(p, 0) < 0)
            return -1;
    }
}

int addrlist_parse(const char *s, size_t len, const char *default_domain,
                   addrlist_cb cb, void *ctx, const char **err)
{
    struct alist p = { .s = s, .len = len, .default_domain = default_domain,
                       .cb = cb, .ctx = ctx };
    if (err)
        *err = NULL;
    if (alist_list(&p) == 0)
        return 0;
    if (p.stop)
        return p.stop;
    if (err)
        *err = p.err ? p.err : "syntax error";
    return -1;
}

/* addrlist_field_domain: keeps the first mailbox and stops the parse there. */
static int alist_first(void *ctx, const char *addr)
{
    str_copy(ctx, ADDR_LOCAL_MAX + ADDR_DOMAIN_MAX + 2, addr);
    return 1;
}

int addrlist_field_domain(const char *msg, size_t len, const char *name, char *out,
                          size_t size)
{
    struct rfc5322_field f;
    char first[ADDR_LOCAL_MAX + ADDR_DOMAIN_MAX + 2] = "";
    if (size == 0 || rfc5322_find_field(msg, len, name, &f) < 0)
        return -1;
    size_t end = f.end;
    while (end > f.colon + 1 && (msg[end - 1] == '\n' || msg[end - 1] == '\r'))
        end--;
    if (addrlist_parse(msg + f.colon + 1, end - f.colon - 1, NULL, alist_first, first, NULL) != 1)
        return -1;
    const char *at = strrchr(first, '@');
    if (!at || str_copy(out, size, at + 1) < 0)
        return -1;
    for (char *p = out; *p; p++)
        if (*p >= 'A' && *p <= 'Z')
            *p = (char)(*p - 'A' + 'a');
    return 0;
}
