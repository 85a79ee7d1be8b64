/*
 * smtp_parse: pure parsers for SMTP server command lines (RFC 5321 4.1) and
 * the ESMTP parameters of MAIL and RCPT: SIZE (RFC 1870), BODY (RFC 6152),
 * RET, ENVID, NOTIFY, ORCPT (RFC 3461 4), AUTH (RFC 4954 5), SMTPUTF8 (RFC
 * 6531 3.4: UTF-8 addresses only in a transaction that asked for it, else
 * 553 5.6.7) and ORCPT's utf-8 addr-type (RFC 6533 3).
 * Owns: verb recognition (and the lines that are no SMTP: an HTTP request or
 * a header line, which the server answers by closing, as Postfix's
 * "forbidden commands"), the command line length limits, "FROM:"/"TO:"
 * splitting, the esmtp-param grammar
 * (RFC 5321 4.1.2) and the reply each malformed input deserves. It is liberal
 * where Postfix is (spaces after "FROM:", a mailbox without angle brackets)
 * and strict about values that later reach the queue file or a DSN header
 * (xtext decoded and checked, length caps enforced).
 * Never does I/O and never decides policy (e.g. whether SIZE is too big);
 * reads only within the (pointer, length) it is given.
 */
#include "proto/smtp_parse.h"
#include "proto/xtext.h"
#include "proto/intl.h"
#include "lib/buf.h"
#include "lib/str.h"
#include <string.h>
#include <strings.h>

struct smtp_verb_name {
    const char *name;
    enum smtp_verb verb;
};

static const struct smtp_verb_name smtp_verbs[] = {
    { "HELO", SMTP_HELO }, { "EHLO", SMTP_EHLO }, { "MAIL", SMTP_MAIL },
    { "RCPT", SMTP_RCPT }, { "DATA", SMTP_DATA }, { "RSET", SMTP_RSET },
    { "VRFY", SMTP_VRFY }, { "EXPN", SMTP_EXPN }, { "HELP", SMTP_HELP },
    { "NOOP", SMTP_NOOP }, { "QUIT", SMTP_QUIT }, { "STARTTLS", SMTP_STARTTLS },
    { "AUTH", SMTP_AUTH }, { "BDAT", SMTP_BDAT },
};

/* HTTP methods (RFC 9110 9.3): a browser or proxy client talking to the SMTP port. */
static const char *const smtp_http_methods[] = {
    "GET", "POST", "CONNECT", "PUT", "HEAD", "OPTIONS", "DELETE", "PATCH",
};

/* One ESMTP parameter: parse() gets the value (NULL when there is no "=") and the
 * struct mail_params / rcpt_params being filled; -1 means 501 5.5.4 with text bad. */
struct smtp_param {
    const char *name;
    int (*parse)(const char *v, size_t n, void *out);
    const char *bad;
};

/* The replies for one command's address errors. */
struct smtp_addr_replies {
    enum esc_code esc;
    const char *syntax;
    const char *local_long;
    const char *domain_long;
};

static const struct smtp_addr_replies smtp_mail_replies = {
    .esc = ESC_BAD_SENDER_SYNTAX,
    .syntax = "Bad sender address syntax",
    .local_long = "Sender address local part too long",
    .domain_long = "Sender address domain too long",
};
static const struct smtp_addr_replies smtp_rcpt_replies = {
    .esc = ESC_BAD_DESTINATION_SYNTAX,
    .syntax = "Bad recipient address syntax",
    .local_long = "Recipient address local part too long",
    .domain_long = "Recipient address domain too long",
};

static int smtp_fail(struct smtp_err *err, int code, enum esc_code esc, const char *text)
{
    err->code = code;
    err->esc = esc;
    err->text = text;
    return -1;
}

/* 1 if s[0..n) equals word, ignoring case. */
static int smtp_ieq(const char *s, size_t n, const char *word)
{
    return strlen(word) == n && strncasecmp(s, word, n) == 0;
}

static size_t smtp_skip_spaces(const char *s, size_t len, size_t i)
{
    while (i < len && s[i] == ' ')
        i++;
    return i;
}

/* Length of the run of non-space bytes at s. */
static size_t smtp_token_len(const char *s, size_t len)
{
    size_t n = 0;
    while (n < len && s[n] != ' ')
        n++;
    return n;
}

/* Length of the header field name and colon at line ("Host:"), or 0 if it is no header line. */
static size_t smtp_header_name_len(const char *line, size_t len)
{
    size_t i = 0;
    unsigned char c = len ? (unsigned char)line[0] : 0;
    if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')))
        return 0;
    while (++i < len) {
        c = (unsigned char)line[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-'))
            break;
    }
    return i < len && line[i] == ':' ? i + 1 : 0;
}

/* SMTP_FORBIDDEN (with cmd->name_len set) if the line is an HTTP request or a header line. */
static enum smtp_verb smtp_forbidden(const char *line, size_t len, size_t n, struct smtp_cmd *cmd)
{
    for (size_t i = 0; i < sizeof smtp_http_methods / sizeof smtp_http_methods[0]; i++)
        if (smtp_ieq(line, n, smtp_http_methods[i]))
            return SMTP_FORBIDDEN;
    size_t h = smtp_header_name_len(line, len);
    if (h)
        cmd->name_len = h;
    return h ? SMTP_FORBIDDEN : SMTP_UNKNOWN;
}

enum smtp_verb smtp_parse_command(const char *line, size_t len, struct smtp_cmd *cmd)
{
    size_t n = line ? smtp_token_len(line, len) : 0;
    cmd->verb = SMTP_UNKNOWN;
    cmd->name = line ? line : "";
    cmd->name_len = n;
    for (size_t i = 0; i < sizeof smtp_verbs / sizeof smtp_verbs[0]; i++)
        if (smtp_ieq(line, n, smtp_verbs[i].name))
            cmd->verb = smtp_verbs[i].verb;
    if (cmd->verb == SMTP_UNKNOWN && line)
        cmd->verb = smtp_forbidden(line, len, n, cmd);
    cmd->arg = n < len ? line + n + 1 : "";
    cmd->arg_len = n < len ? len - n - 1 : 0;
    return cmd->verb;
}

size_t smtp_line_limit(const char *head, size_t len)
{
    if (head && len >= SMTP_VERB_HEAD && strncasecmp(head, "MAIL ", SMTP_VERB_HEAD) == 0)
        return SMTP_MAIL_LINE_MAX;
    if (head && len >= SMTP_VERB_HEAD && strncasecmp(head, "RCPT ", SMTP_VERB_HEAD) == 0)
        return SMTP_RCPT_LINE_MAX;
    return SMTP_LINE_MAX;
}

/* A bare (liberal) address: "user@domain", or "Postmaster" where allowed. */
static enum addr_err smtp_parse_bare(const char *s, size_t n, int allow_postmaster,
                                     struct addr *a)
{
    if (allow_postmaster && smtp_ieq(s, n, "Postmaster")) {
        memset(a, 0, sizeof *a);
        str_ncopy(a->local, sizeof a->local, s, n);
        return ADDR_OK;
    }
    return n == 0 ? ADDR_SYNTAX : addr_parse_mailbox_flags(s, n, ADDR_ALLOW_UTF8, a);
}

/* Parses the address at arg[*pos] (after optional spaces); it must end at a space or the end.
 * UTF-8 is accepted here; whether the transaction allows it is checked afterwards. */
static enum addr_err smtp_parse_address(const char *arg, size_t len, size_t *pos, int is_mail,
                                        struct addr *a)
{
    size_t p = smtp_skip_spaces(arg, len, *pos);
    size_t used = 0;
    enum addr_err e;
    if (p < len && arg[p] == '<') {
        unsigned flags = ADDR_ALLOW_UTF8 | (is_mail ? ADDR_ALLOW_NULL : ADDR_ALLOW_POSTMASTER);
        e = addr_parse_path_flags(arg + p, len - p, flags, a, &used);
    } else {
        used = smtp_token_len(arg + p, len - p);
        e = smtp_parse_bare(arg + p, used, !is_mail, a);
    }
    if (e == ADDR_OK && p + used < len && arg[p + used] != ' ')
        e = ADDR_SYNTAX;
    *pos = p + used;
    return e;
}

static int smtp_fail_addr(struct smtp_err *err, enum addr_err e, const struct smtp_addr_replies *r)
{
    if (e == ADDR_LOCAL_TOO_LONG)
        return smtp_fail(err, 501, r->esc, r->local_long);
    if (e == ADDR_DOMAIN_TOO_LONG)
        return smtp_fail(err, 501, r->esc, r->domain_long);
    return smtp_fail(err, 501, r->esc, r->syntax);
}

/* RFC 5321 esmtp-keyword: (ALPHA / DIGIT) *(ALPHA / DIGIT / "-"). */
static int smtp_keyword_ok(const char *s, size_t n)
{
    if (n == 0 || s[0] == '-')
        return 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        int ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
        if (!ok && c != '-')
            return 0;
    }
    return 1;
}

/* RFC 5321 esmtp-value: 1*(%d33-60 / %d62-126), with RFC 6531 3.3's UTF8-non-ascii
 * (each parameter's own parser refuses octets it has no use for). */
static int smtp_value_ok(const char *s, size_t n)
{
    if (n == 0)
        return 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c < 33 || c == 127 || c == '=')
            return 0;
    }
    return 1;
}

/* Handles one "keyword[=value]" token; *seen tracks repeats by table index. */
static int smtp_parse_param(const char *tok, size_t n, const struct smtp_param *tab,
                            size_t ntab, unsigned *seen, void *out, struct smtp_err *err)
{
    size_t k = 0;
    while (k < n && tok[k] != '=')
        k++;
    if (!smtp_keyword_ok(tok, k))
        return smtp_fail(err, 501, ESC_INVALID_ARGUMENTS, "Malformed parameter");
    size_t i = 0;
    while (i < ntab && !smtp_ieq(tok, k, tab[i].name))
        i++;
    if (i == ntab)
        return smtp_fail(err, 555, ESC_INVALID_ARGUMENTS, "Unsupported parameter");
    if (*seen & (1u << i))
        return smtp_fail(err, 501, ESC_INVALID_ARGUMENTS, "Repeated parameter");
    *seen |= 1u << i;
    const char *v = k < n ? tok + k + 1 : NULL;
    size_t vn = k < n ? n - k - 1 : 0;
    if (v && !smtp_value_ok(v, vn))
        return smtp_fail(err, 501, ESC_INVALID_ARGUMENTS, "Malformed parameter value");
    if (tab[i].parse(v, vn, out) < 0)
        return smtp_fail(err, 501, ESC_INVALID_ARGUMENTS, tab[i].bad);
    return 0;
}

/* Parses the space-separated parameters in s[0..len). */
static int smtp_parse_params(const char *s, size_t len, int esmtp, const struct smtp_param *tab,
                             size_t ntab, void *out, struct smtp_err *err)
{
    unsigned seen = 0;
    size_t i = smtp_skip_spaces(s, len, 0);
    while (i < len) {
        if (!esmtp)
            return smtp_fail(err, 555, ESC_INVALID_ARGUMENTS, "Parameters require EHLO");
        size_t n = smtp_token_len(s + i, len - i);
        if (smtp_parse_param(s + i, n, tab, ntab, &seen, out, err) < 0)
            return -1;
        i = smtp_skip_spaces(s, len, i + n);
    }
    return 0;
}

/* Decodes xtext v[0..n) into dst (size bytes); utf8: "+XX" octets over 127 allowed, for a
 * UTF-8 result. -1 if malformed or too long. */
static int smtp_decode_xtext(const char *v, size_t n, int utf8, char *dst, size_t size)
{
    struct buf b;
    buf_init(&b, size - 1);
    int r = utf8 ? xtext_decode_utf8(v, n, &b) : xtext_decode(v, n, &b);
    if (r == 0)
        r = str_ncopy(dst, size, buf_cstr(&b), b.len);
    buf_free(&b);
    return r;
}

/* 1*DIGIT of at most 20 digits into *out; -1 if empty, not digits, or over 64 bits. */
static int smtp_parse_u64(const char *s, size_t n, uint64_t *out)
{
    uint64_t x = 0;
    if (n == 0 || n > 20)
        return -1;
    for (size_t i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return -1;
        uint64_t d = (uint64_t)(s[i] - '0');
        if (x > (UINT64_MAX - d) / 10)
            return -1;
        x = x * 10 + d;
    }
    *out = x;
    return 0;
}

/* RFC 1870: SIZE=1*20DIGIT, refused if it overflows 64 bits. */
static int mail_param_size(const char *v, size_t n, void *out)
{
    struct mail_params *mp = out;
    if (!v || smtp_parse_u64(v, n, &mp->size) < 0)
        return -1;
    mp->has_size = 1;
    return 0;
}

/* RFC 6152: BODY=7BIT|8BITMIME; RFC 3030 3: BODY=BINARYMIME. */
static int mail_param_body(const char *v, size_t n, void *out)
{
    struct mail_params *mp = out;
    if (v && smtp_ieq(v, n, "7BIT"))
        mp->body = BODY_7BIT;
    else if (v && smtp_ieq(v, n, "8BITMIME"))
        mp->body = BODY_8BITMIME;
    else if (v && smtp_ieq(v, n, "BINARYMIME"))
        mp->body = BODY_BINARYMIME;
    else
        return -1;
    return 0;
}

/* RFC 3461 4.3: RET=FULL|HDRS. */
static int mail_param_ret(const char *v, size_t n, void *out)
{
    struct mail_params *mp = out;
    if (v && smtp_ieq(v, n, "FULL"))
        mp->ret = DSN_RET_FULL;
    else if (v && smtp_ieq(v, n, "HDRS"))
        mp->ret = DSN_RET_HDRS;
    else
        return -1;
    return 0;
}

/* RFC 3461 4.4: ENVID=xtext, at most 100 characters as sent. */
static int mail_param_envid(const char *v, size_t n, void *out)
{
    struct mail_params *mp = out;
    if (!v || n > DSN_ENVID_MAX)
        return -1;
    if (smtp_decode_xtext(v, n, 0, mp->envid, sizeof mp->envid) < 0)
        return -1;
    mp->has_envid = 1;
    return 0;
}

/* RFC 4954 5: AUTH=<> or AUTH=xtext(mailbox); only well-formedness is checked. */
static int mail_param_auth(const char *v, size_t n, void *out)
{
    struct mail_params *mp = out;
    if (!v)
        return -1;
    if (!smtp_ieq(v, n, "<>")) {
        struct buf b;
        buf_init(&b, n);
        int r = xtext_decode(v, n, &b);
        buf_free(&b);
        if (r < 0)
            return -1;
    }
    mp->has_auth = 1;
    return 0;
}

/* RFC 3461 4.1: NOTIFY=NEVER or a list of SUCCESS, FAILURE, DELAY. */
static int rcpt_param_notify(const char *v, size_t n, void *out)
{
    struct rcpt_params *rp = out;
    return v ? smtp_notify_parse(v, n, &rp->notify) : -1;
}

/* 1 if s[0..n) is an RFC 5322 atom (printable, no specials). */
static int smtp_atom_ok(const char *s, size_t n)
{
    if (n == 0)
        return 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c < 33 || c > 126 || strchr("()<>@,;:\\\".[]", c))
            return 0;
    }
    return 1;
}

/* RFC 3461 4.2: ORCPT=addr-type;xtext, at most 500 characters. The address part
 * is opaque: "rfc822;root" (no domain) is valid. */
static int rcpt_param_orcpt(const char *v, size_t n, void *out)
{
    struct rcpt_params *rp = out;
    if (!v || n > DSN_ORCPT_MAX)
        return -1;
    const char *semi = memchr(v, ';', n);
    if (!semi)
        return -1;
    size_t tn = (size_t)(semi - v), an = n - tn - 1;
    if (!smtp_atom_ok(v, tn) || tn >= sizeof rp->orcpt_type || an == 0)
        return -1;
    str_ncopy(rp->orcpt_type, sizeof rp->orcpt_type, v, tn);
    if (smtp_ieq(v, tn, "utf-8")) { /* RFC 6533 3: utf-8-addr-xtext or -unitext */
        if (xtext_utf8_decode(semi + 1, an, rp->orcpt, sizeof rp->orcpt) < 0)
            return -1;
    } else if (smtp_decode_xtext(semi + 1, an, 0, rp->orcpt, sizeof rp->orcpt) < 0) {
        /* "rfc822;j+C3+BCrgen@x" (Postfix, SMTPUTF8): a UTF-8 address, kept as utf-8 */
        if (smtp_decode_xtext(semi + 1, an, 1, rp->orcpt, sizeof rp->orcpt) < 0)
            return -1;
        str_copy(rp->orcpt_type, sizeof rp->orcpt_type, "utf-8");
        rp->orcpt_8bit = 1;
    }
    rp->has_orcpt = 1;
    return 0;
}

/* RFC 6531 3.4: SMTPUTF8, no value. */
static int mail_param_smtputf8(const char *v, size_t n, void *out)
{
    struct mail_params *mp = out;
    if (v)
        return -1;
    mp->smtputf8 = 1;
    return 0;
}

static const struct smtp_param smtp_mail_params[] = {
    { "SIZE", mail_param_size, "Invalid SIZE parameter" },
    { "BODY", mail_param_body, "Invalid BODY parameter" },
    { "RET", mail_param_ret, "Invalid RET parameter" },
    { "ENVID", mail_param_envid, "Invalid ENVID parameter" },
    { "AUTH", mail_param_auth, "Invalid AUTH parameter" },
    { "SMTPUTF8", mail_param_smtputf8, "SMTPUTF8 takes no value" },
};

static const struct smtp_param smtp_rcpt_params[] = {
    { "NOTIFY", rcpt_param_notify, "Invalid NOTIFY parameter" },
    { "ORCPT", rcpt_param_orcpt, "Invalid ORCPT parameter" },
};

int smtp_parse_mail(const char *arg, size_t len, int esmtp, struct mail_params *out,
                    struct smtp_err *err)
{
    memset(out, 0, sizeof *out);
    if (len < 5 || strncasecmp(arg, "FROM:", 5) != 0)
        return smtp_fail(err, 501, ESC_SYNTAX_ERROR, "Syntax: MAIL FROM:<address>");
    size_t pos = 5;
    enum addr_err e = smtp_parse_address(arg, len, &pos, 1, &out->from);
    if (e != ADDR_OK)
        return smtp_fail_addr(err, e, &smtp_mail_replies);
    if (smtp_parse_params(arg + pos, len - pos, esmtp, smtp_mail_params,
                          sizeof smtp_mail_params / sizeof smtp_mail_params[0], out, err) < 0)
        return -1;
    if (out->from.utf8 && !out->smtputf8)
        return smtp_fail(err, 553, ESC_NON_ASCII_ADDRESS, "UTF-8 sender address needs SMTPUTF8");
    return 0;
}

int smtp_parse_rcpt(const char *arg, size_t len, int esmtp, struct rcpt_params *out,
                    struct smtp_err *err)
{
    return smtp_parse_rcpt_utf8(arg, len, esmtp, 0, out, err);
}

int smtp_parse_rcpt_utf8(const char *arg, size_t len, int esmtp, int utf8,
                         struct rcpt_params *out, struct smtp_err *err)
{
    memset(out, 0, sizeof *out);
    if (len < 3 || strncasecmp(arg, "TO:", 3) != 0)
        return smtp_fail(err, 501, ESC_SYNTAX_ERROR, "Syntax: RCPT TO:<address>");
    size_t pos = 3;
    enum addr_err e = smtp_parse_address(arg, len, &pos, 0, &out->to);
    if (e != ADDR_OK)
        return smtp_fail_addr(err, e, &smtp_rcpt_replies);
    if (out->to.utf8 && !utf8)
        return smtp_fail(err, 553, ESC_NON_ASCII_ADDRESS,
                         "UTF-8 recipient address needs MAIL FROM with SMTPUTF8");
    if (smtp_parse_params(arg + pos, len - pos, esmtp, smtp_rcpt_params,
                          sizeof smtp_rcpt_params / sizeof smtp_rcpt_params[0], out, err) < 0)
        return -1;
    /* RFC 6533 3: without SMTPUTF8 a utf-8 ORCPT is written with \x{HEX}, never raw */
    if (!utf8 && !intl_is_ascii(arg, len))
        return smtp_fail(err, 553, ESC_NON_ASCII_ADDRESS, "UTF-8 parameter needs SMTPUTF8");
    if (!utf8 && out->orcpt_8bit) /* RFC 3461 4.2: printable US-ASCII */
        return smtp_fail(err, 501, ESC_INVALID_ARGUMENTS, "Invalid ORCPT parameter");
    return 0;
}

int smtp_parse_bdat(const char *arg, size_t len, struct bdat_params *out, struct smtp_err *err)
{
    memset(out, 0, sizeof *out);
    size_t n = 0;
    while (n < len && arg[n] != ' ')
        n++;
    if (smtp_parse_u64(arg, n, &out->size) < 0)
        return smtp_fail(err, 501, ESC_INVALID_ARGUMENTS, "Syntax: BDAT chunk-size [LAST]");
    out->has_size = 1;
    if (n == len)
        return 0;
    if (smtp_ieq(arg + n + 1, len - n - 1, "LAST")) {
        out->last = 1;
        return 0;
    }
    return smtp_fail(err, 501, ESC_INVALID_ARGUMENTS, "Syntax: BDAT chunk-size [LAST]");
}

static const struct { const char *name; unsigned bit; } smtp_notify_words[] = {
    { "SUCCESS", NOTIFY_SUCCESS }, { "FAILURE", NOTIFY_FAILURE },
    { "DELAY", NOTIFY_DELAY }, { "NEVER", NOTIFY_NEVER },
};

/* The NOTIFY bit named by s[0..n), or 0. */
static unsigned smtp_notify_word(const char *s, size_t n)
{
    for (size_t i = 0; i < sizeof smtp_notify_words / sizeof smtp_notify_words[0]; i++)
        if (smtp_ieq(s, n, smtp_notify_words[i].name))
            return smtp_notify_words[i].bit;
    return 0;
}

int smtp_notify_parse(const char *s, size_t len, unsigned *notify)
{
    unsigned bits = 0;
    size_t i = 0;
    for (;;) {
        size_t n = 0;
        while (i + n < len && s[i + n] != ',')
            n++;
        unsigned bit = smtp_notify_word(s + i, n);
        if (bit == 0 || (bits & bit))
            return -1;
        bits |= bit;
        i += n;
        if (i == len)
            break;
        i++; /* the comma: an item must follow it */
    }
    if ((bits & NOTIFY_NEVER) && bits != NOTIFY_NEVER)
        return -1;
    *notify = bits;
    return 0;
}

void smtp_notify_format(unsigned notify, char *out, size_t size)
{
    char tmp[32];
    size_t pos = 0;
    if (notify & NOTIFY_NEVER) {
        str_copy(out, size, "NEVER");
        return;
    }
    for (size_t i = 0; i < 3; i++) {
        if (!(notify & smtp_notify_words[i].bit))
            continue;
        size_t l = strlen(smtp_notify_words[i].name);
        if (pos)
            tmp[pos++] = ',';
        memcpy(tmp + pos, smtp_notify_words[i].name, l);
        pos += l;
    }
    tmp[pos] = '\0';
    str_copy(out, size, tmp);
}
