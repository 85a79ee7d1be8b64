/*
 * fuzz_smtp_params: libFuzzer harness for proto/smtp_parse. Feeds arbitrary
 * bytes as a command line to smtp_parse_command, then its argument (and the
 * raw input) to smtp_parse_mail and smtp_parse_rcpt, in ESMTP and HELO mode.
 * Checks the invariants the queue and DSN code rely on: an error carries a
 * 501/555 code, one of four RFC 3463 codes of proto/esc's table and a
 * static text; a success yields NUL-terminated, in-bounds strings, with no
 * control bytes in the decoded ENVID/ORCPT, and NOTIFY bits that are
 * valid; a command's name lies within the line (a forbidden one is a
 * non-empty prefix); the line limit is one of the three. SMTPUTF8 (RFC 6531):
 * a UTF-8 address or utf-8 ORCPT is accepted only in a transaction that asked
 * for it, and is then valid UTF-8 in NFC without controls. Build: see
 * tests/fuzz/run.sh.
 */
#include <assert.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "proto/smtp_parse.h"
#include "proto/intl.h"

/* A decoded DSN value: terminated within size, printable ASCII or space only. */
static void check_decoded(const char *s, size_t size)
{
    size_t n = strnlen(s, size);
    assert(n < size);
    for (size_t i = 0; i < n; i++)
        assert((unsigned char)s[i] >= 0x20 && (unsigned char)s[i] < 0x7f);
}

static void check_addr(const struct addr *a)
{
    assert(strnlen(a->local, sizeof a->local) < sizeof a->local);
    assert(strnlen(a->domain, sizeof a->domain) < sizeof a->domain);
    if (a->is_null)
        assert(a->local[0] == '\0' && a->domain[0] == '\0');
    else
        assert(a->local[0] != '\0');
    if (a->utf8) {
        assert(intl_utf8_ok(a->local, strlen(a->local)) && intl_utf8_ok(a->domain, strlen(a->domain)));
        return;
    }
    for (const char *p = a->domain; *p; p++)
        assert((unsigned char)*p > 0x20 && (unsigned char)*p < 0x7f);
}

static void check_err(const struct smtp_err *e)
{
    assert(e->code == 501 || e->code == 555 || e->code == 553);
    assert(e->text && e->text[0]);
    assert(e->esc == ESC_SYNTAX_ERROR || e->esc == ESC_INVALID_ARGUMENTS ||
           e->esc == ESC_BAD_SENDER_SYNTAX || e->esc == ESC_BAD_DESTINATION_SYNTAX ||
           e->esc == ESC_NON_ASCII_ADDRESS);
    assert((e->code == 553) == (e->esc == ESC_NON_ASCII_ADDRESS));
    assert(esc_meaning(e->esc) != NULL); /* a code of the RFC 3463 table */
}

static void fuzz_mail(const char *s, size_t n, int esmtp)
{
    struct mail_params m;
    struct smtp_err e;
    if (smtp_parse_mail(s, n, esmtp, &m, &e) < 0) {
        check_err(&e);
        return;
    }
    check_addr(&m.from);
    check_decoded(m.envid, sizeof m.envid);
    assert(m.has_envid || m.envid[0] == '\0');
    assert(esmtp || (!m.has_size && !m.has_envid && !m.has_auth && !m.body && !m.ret &&
                     !m.smtputf8));
    assert(!m.from.utf8 || m.smtputf8);
}

static void fuzz_rcpt(const char *s, size_t n, int esmtp, int utf8)
{
    struct rcpt_params r;
    struct smtp_err e;
    char notify[64];
    unsigned back = 0;
    if (smtp_parse_rcpt_utf8(s, n, esmtp, utf8, &r, &e) < 0) {
        check_err(&e);
        return;
    }
    check_addr(&r.to);
    assert(!r.to.is_null);
    assert(!r.to.utf8 || utf8);
    if (r.has_orcpt && strcmp(r.orcpt_type, "utf-8") == 0)
        assert(intl_utf8_ok(r.orcpt, strlen(r.orcpt)));
    else
        check_decoded(r.orcpt, sizeof r.orcpt);
    check_decoded(r.orcpt_type, sizeof r.orcpt_type);
    assert(!r.has_orcpt || (r.orcpt[0] && r.orcpt_type[0]));
    assert(r.notify == 0 || r.notify == NOTIFY_NEVER || (r.notify & ~7u) == 0);
    smtp_notify_format(r.notify, notify, sizeof notify);
    if (r.notify) {
        assert(smtp_notify_parse(notify, strlen(notify), &back) == 0);
        assert(back == r.notify);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    /* An exact-size heap copy, so ASan catches any read past the end. */
    char *s = malloc(size ? size : 1);
    if (size)
        memcpy(s, data, size);
    struct smtp_cmd cmd;
    smtp_parse_command(s, size, &cmd);
    assert(cmd.arg_len <= size);
    if (cmd.arg_len)
        assert(cmd.arg >= s && cmd.arg + cmd.arg_len == s + size);
    assert(cmd.name_len <= size && (cmd.name_len == 0 || cmd.name == s));
    if (cmd.verb == SMTP_FORBIDDEN)
        assert(cmd.name_len > 0);
    size_t limit = smtp_line_limit(s, size);
    assert(limit == SMTP_LINE_MAX || limit == SMTP_MAIL_LINE_MAX || limit == SMTP_RCPT_LINE_MAX);
    for (int esmtp = 0; esmtp < 2; esmtp++) {
        fuzz_mail(cmd.arg, cmd.arg_len, esmtp);
        fuzz_rcpt(cmd.arg, cmd.arg_len, esmtp, 0);
        fuzz_rcpt(cmd.arg, cmd.arg_len, esmtp, 1);
        fuzz_mail(s, size, esmtp);
        fuzz_rcpt(s, size, esmtp, 0);
        fuzz_rcpt(s, size, esmtp, 1);
    }
    unsigned bits = 0;
    if (smtp_notify_parse(s, size, &bits) == 0)
        assert(bits == NOTIFY_NEVER || (bits && (bits & ~7u) == 0));
    free(s);
    return 0;
}
