/*
 * test_smtp_verbs: unit tests for proto/smtp_verbs. The dispatcher runs a
 * row's handler only in the phases the row allows, and otherwise answers
 * from the table: 503 5.5.1 with the row's text (the before-HELO text in
 * the greeted phase), 502 5.5.1 for a verb without a row, 500 5.5.2 for an
 * unknown verb. The EHLO reply is checked byte for byte (golden output)
 * with and without the optional STARTTLS and AUTH keywords.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
#include <string.h>
#include "lib/str.h"
#include "proto/smtp_verbs.h"

/* What the fake front end saw: the handler called, or the refusal sent. */
struct fake {
    const char *handled;
    char reply[256];
};

static void fake_refuse(void *session, const struct smtp_err *e)
{
    struct fake *f = session;
    esc_reply(f->reply, sizeof f->reply, e->code, e->esc, e->text);
}

static void fake_mail(void *session, const struct smtp_cmd *cmd)
{
    ((struct fake *)session)->handled = "MAIL";
}

static void fake_rcpt(void *session, const struct smtp_cmd *cmd)
{
    ((struct fake *)session)->handled = "RCPT";
}

static void fake_noop(void *session, const struct smtp_cmd *cmd)
{
    ((struct fake *)session)->handled = "NOOP";
}

static const struct smtp_verb_row fake_rows[] = {
    SMTP_ROW_MAIL(fake_mail),
    SMTP_ROW_RCPT(fake_rcpt),
    SMTP_ROW_ANY(SMTP_NOOP, fake_noop),
};

static const struct smtp_verbs fake_verbs = {
    .rows = fake_rows,
    .n_rows = sizeof fake_rows / sizeof fake_rows[0],
    .refuse = fake_refuse,
};

static struct fake run(const char *line, enum smtp_phase phase)
{
    struct fake f = {0};
    struct smtp_cmd cmd;
    smtp_parse_command(line, strlen(line), &cmd);
    smtp_verbs_dispatch(&fake_verbs, &f, phase, &cmd);
    return f;
}

static void test_allowed(void **state)
{
    (void)state;
    struct fake f = run("MAIL FROM:<a@b.test>", SMTP_PHASE_READY);
    assert_string_equal(f.handled, "MAIL");
    assert_string_equal(f.reply, "");
    assert_string_equal(run("RCPT TO:<a@b.test>", SMTP_PHASE_MAIL).handled, "RCPT");
    assert_string_equal(run("rcpt TO:<a@b.test>", SMTP_PHASE_RCPT).handled, "RCPT");
    for (int p = SMTP_PHASE_GREETED; p <= SMTP_PHASE_RCPT; p++)
        assert_string_equal(run("NOOP", (enum smtp_phase)p).handled, "NOOP");
}

static void test_out_of_sequence(void **state)
{
    (void)state;
    struct fake f = run("MAIL FROM:<a@b.test>", SMTP_PHASE_GREETED);
    assert_null(f.handled);
    assert_string_equal(f.reply, "503 5.5.1 Error: send HELO/EHLO first");
    f = run("MAIL FROM:<a@b.test>", SMTP_PHASE_MAIL);
    assert_string_equal(f.reply, "503 5.5.1 Error: nested MAIL command");
    f = run("MAIL FROM:<a@b.test>", SMTP_PHASE_RCPT);
    assert_string_equal(f.reply, "503 5.5.1 Error: nested MAIL command");
    f = run("RCPT TO:<a@b.test>", SMTP_PHASE_GREETED);
    assert_string_equal(f.reply, "503 5.5.1 Error: need MAIL command");
    f = run("RCPT TO:<a@b.test>", SMTP_PHASE_READY);
    assert_null(f.handled);
    assert_string_equal(f.reply, "503 5.5.1 Error: need MAIL command");
}

static void test_unknown_and_missing(void **state)
{
    (void)state;
    struct fake f = run("BOGUS", SMTP_PHASE_READY);
    assert_null(f.handled);
    assert_string_equal(f.reply, "500 5.5.2 Error: command not recognized");
    f = run("EXPN list", SMTP_PHASE_READY); /* a known verb without a row */
    assert_string_equal(f.reply, "502 5.5.1 Error: command not implemented");
    f = run("GET / HTTP/1.0", SMTP_PHASE_GREETED); /* no row for SMTP_FORBIDDEN here either */
    assert_string_equal(f.reply, "502 5.5.1 Error: command not implemented");
}

static void test_line_too_long(void **state)
{
    (void)state;
    char out[64];
    const struct smtp_err *e = &smtp_reply_line_too_long;
    esc_reply(out, sizeof out, e->code, e->esc, e->text);
    assert_string_equal(out, "500 5.5.2 Error: line too long");
}

static const char *ehlo(const char *greeting, unsigned options)
{
    static char out[512];
    struct buf b;
    buf_init(&b, sizeof out - 1);
    smtp_ehlo_reply(&b, greeting, 10485760, options);
    str_copy(out, sizeof out, buf_cstr(&b));
    buf_free(&b);
    return out;
}

static void test_ehlo_reply(void **state)
{
    (void)state;
    assert_string_equal(ehlo("mx.test", 0), "250-mx.test\r\n"
                                             "250-PIPELINING\r\n"
                                             "250-SIZE 10485760\r\n"
                                             "250-8BITMIME\r\n"
                                             "250-DSN\r\n"
                                             "250-ENHANCEDSTATUSCODES\r\n"
                                             "250 SMTPUTF8");
    assert_string_equal(ehlo("mx.test Hello c [127.0.0.1]", SMTP_EHLO_STARTTLS),
                        "250-mx.test Hello c [127.0.0.1]\r\n"
                        "250-PIPELINING\r\n"
                        "250-SIZE 10485760\r\n"
                        "250-8BITMIME\r\n"
                        "250-DSN\r\n"
                        "250-ENHANCEDSTATUSCODES\r\n"
                        "250-STARTTLS\r\n"
                        "250 SMTPUTF8");
    assert_string_equal(ehlo("mx.test", SMTP_EHLO_AUTH), "250-mx.test\r\n"
                                                          "250-PIPELINING\r\n"
                                                          "250-SIZE 10485760\r\n"
                                                          "250-8BITMIME\r\n"
                                                          "250-DSN\r\n"
                                                          "250-ENHANCEDSTATUSCODES\r\n"
                                                          "250-AUTH PLAIN LOGIN\r\n"
                                                          "250 SMTPUTF8");
    const char *both = ehlo("mx.test", SMTP_EHLO_STARTTLS | SMTP_EHLO_AUTH);
    assert_non_null(strstr(both, "\r\n250-STARTTLS\r\n250-AUTH PLAIN LOGIN\r\n250 SMTPUTF8"));
    assert_null(strstr(both, "250 ENHANCEDSTATUSCODES"));
    /* RFC 3030: the server offers CHUNKING and BINARYMIME, -bs does not */
    assert_string_equal(ehlo("mx.test", SMTP_EHLO_CHUNKING), "250-mx.test\r\n"
                                                              "250-PIPELINING\r\n"
                                                              "250-SIZE 10485760\r\n"
                                                              "250-8BITMIME\r\n"
                                                              "250-DSN\r\n"
                                                              "250-ENHANCEDSTATUSCODES\r\n"
                                                              "250-CHUNKING\r\n"
                                                              "250-BINARYMIME\r\n"
                                                              "250 SMTPUTF8");
    const char *all = ehlo("mx.test", SMTP_EHLO_STARTTLS | SMTP_EHLO_AUTH | SMTP_EHLO_CHUNKING);
    assert_non_null(strstr(all, "\r\n250-AUTH PLAIN LOGIN\r\n250-CHUNKING\r\n250-BINARYMIME\r\n"
                                "250 SMTPUTF8"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_allowed),
        cmocka_unit_test(test_out_of_sequence),
        cmocka_unit_test(test_unknown_and_missing),
        cmocka_unit_test(test_line_too_long),
        cmocka_unit_test(test_ehlo_reply),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
