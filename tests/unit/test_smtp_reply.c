/*
 * test_smtp_reply: unit tests for proto/smtp_reply. Covers single and
 * multi-line replies and the collected text, every malformed line ("25",
 * "2500 x", mixed codes, a non-digit, a missing space, a first digit out of
 * 2..5, a NUL, an empty line), the line, line count and text limits, reuse
 * after DONE and reset, enhanced status codes, and the EHLO keywords (case,
 * parameters, SIZE values, the old "AUTH=" form, the greeting line ignored).
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
#include <string.h>
#include "proto/smtp_reply.h"

static const struct smtp_reply_limits lim = { .line_max = 64, .lines_max = 4, .text_max = 128 };

/* Feeds each line of a NULL-terminated list; returns the last status. */
static enum smtp_reply_status feed_all(struct smtp_reply *r, const char **lines)
{
    enum smtp_reply_status s = SMTP_REPLY_BAD;
    for (size_t i = 0; lines[i]; i++)
        s = smtp_reply_feed(r, lines[i], strlen(lines[i]));
    return s;
}

/* The status of a one-line reply. */
static enum smtp_reply_status one(const char *line)
{
    struct smtp_reply r;
    smtp_reply_init(&r, lim);
    enum smtp_reply_status s = smtp_reply_feed(&r, line, strlen(line));
    if (s == SMTP_REPLY_BAD)
        assert_int_equal(r.code, 0);
    smtp_reply_free(&r);
    return s;
}

static void test_single_line(void **state)
{
    (void)state;
    struct smtp_reply r;
    smtp_reply_init(&r, lim);
    assert_int_equal(smtp_reply_feed(&r, "250 2.0.0 Ok", 12), SMTP_REPLY_DONE);
    assert_int_equal(r.code, 250);
    assert_string_equal(smtp_reply_text(&r), "250 2.0.0 Ok");
    assert_int_equal(smtp_reply_feed(&r, "354", 3), SMTP_REPLY_DONE); /* a new reply */
    assert_int_equal(r.code, 354);
    assert_string_equal(smtp_reply_text(&r), "354");
    assert_int_equal(smtp_reply_feed(&r, "221 ", 4), SMTP_REPLY_DONE);
    assert_string_equal(smtp_reply_text(&r), "221");
    smtp_reply_free(&r);
}

static void test_multi_line(void **state)
{
    (void)state;
    struct smtp_reply r;
    smtp_reply_init(&r, lim);
    assert_int_equal(smtp_reply_feed(&r, "250-mx.test hello", 17), SMTP_REPLY_MORE);
    assert_int_equal(r.code, 250);
    assert_int_equal(smtp_reply_feed(&r, "250-", 4), SMTP_REPLY_MORE);
    assert_int_equal(smtp_reply_feed(&r, "250 DSN", 7), SMTP_REPLY_DONE);
    assert_int_equal(r.lines, 3);
    assert_string_equal(smtp_reply_text(&r), "250 mx.test hello DSN");
    smtp_reply_free(&r);
}

static void test_malformed_lines(void **state)
{
    (void)state;
    const char *bad[] = { "", "2", "25", "2500 x", "25a ok", "a50 ok", "250x", "250_ok",
                          "150 info", "650 no", "050 no", " 250 ok", "250\tok" };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        print_message("line '%s'\n", bad[i]);
        assert_int_equal(one(bad[i]), SMTP_REPLY_BAD);
    }
    assert_int_equal(one("599 x"), SMTP_REPLY_DONE);
    assert_int_equal(one("200"), SMTP_REPLY_DONE);
    struct smtp_reply r;
    smtp_reply_init(&r, lim);
    assert_int_equal(smtp_reply_feed(&r, "250 a\0b", 7), SMTP_REPLY_BAD);
    smtp_reply_free(&r);
}

static void test_mixed_codes(void **state)
{
    (void)state;
    struct smtp_reply r;
    smtp_reply_init(&r, lim);
    const char *lines[] = { "250-first", "251 second", NULL };
    assert_int_equal(feed_all(&r, lines), SMTP_REPLY_BAD);
    assert_int_equal(r.code, 0);
    /* BAD sticks until reset */
    assert_int_equal(smtp_reply_feed(&r, "250 ok", 6), SMTP_REPLY_BAD);
    smtp_reply_reset(&r);
    assert_int_equal(smtp_reply_feed(&r, "250 ok", 6), SMTP_REPLY_DONE);
    /* a bad continuation line voids the reply */
    const char *lines2[] = { "250-a", "250-b", "250", "x", NULL };
    assert_int_equal(feed_all(&r, lines2), SMTP_REPLY_BAD);
    smtp_reply_free(&r);
}

static void test_limits(void **state)
{
    (void)state;
    char line[80];
    memset(line, 'x', sizeof line);
    memcpy(line, "250 ", 4);
    struct smtp_reply r;
    smtp_reply_init(&r, lim);
    assert_int_equal(smtp_reply_feed(&r, line, 64), SMTP_REPLY_DONE);  /* line_max exactly */
    assert_int_equal(smtp_reply_feed(&r, line, 65), SMTP_REPLY_BAD);   /* overlong */
    smtp_reply_reset(&r);
    const char *four[] = { "250-a", "250-b", "250-c", "250 d", NULL };
    assert_int_equal(feed_all(&r, four), SMTP_REPLY_DONE);
    const char *five[] = { "250-a", "250-b", "250-c", "250-d", "250 e", NULL };
    assert_int_equal(feed_all(&r, five), SMTP_REPLY_BAD);           /* lines_max */
    smtp_reply_reset(&r);
    memcpy(line, "250-", 4);
    assert_int_equal(smtp_reply_feed(&r, line, 60), SMTP_REPLY_MORE);
    assert_int_equal(smtp_reply_feed(&r, line, 60), SMTP_REPLY_MORE);
    assert_int_equal(smtp_reply_feed(&r, line, 60), SMTP_REPLY_BAD); /* text_max */
    assert_true(r.text.len <= lim.text_max);
    smtp_reply_free(&r);
}

static void test_esc(void **state)
{
    (void)state;
    char esc[16];
    assert_int_equal(smtp_reply_esc("250 2.1.0 Ok", esc, sizeof esc), 0);
    assert_string_equal(esc, "2.1.0");
    assert_int_equal(smtp_reply_esc("550 5.1.1", esc, sizeof esc), 0);
    assert_string_equal(esc, "5.1.1");
    assert_int_equal(smtp_reply_esc("451 4.123.456 x", esc, sizeof esc), 0);
    assert_string_equal(esc, "4.123.456");
    assert_int_equal(smtp_reply_esc("250 Ok", esc, sizeof esc), -1);
    assert_int_equal(smtp_reply_esc("550 4.1.1 x", esc, sizeof esc), -1); /* class mismatch */
    assert_int_equal(smtp_reply_esc("354 3.0.0 go", esc, sizeof esc), -1);
    assert_int_equal(smtp_reply_esc("550 5.1 x", esc, sizeof esc), -1);
    assert_int_equal(smtp_reply_esc("550 5.1.1234 x", esc, sizeof esc), -1);
    assert_int_equal(smtp_reply_esc("550 5.1.1x", esc, sizeof esc), -1);
    assert_int_equal(smtp_reply_esc("550", esc, sizeof esc), -1);
    assert_int_equal(smtp_reply_esc("250 2.1.0 Ok", esc, 8), -1);
}

static void test_ehlo(void **state)
{
    (void)state;
    struct smtp_reply r;
    struct smtp_ehlo e;
    smtp_reply_init(&r, (struct smtp_reply_limits){ .line_max = 512, .lines_max = 20,
                                                    .text_max = 2048 });
    smtp_ehlo_init(&e);
    const char *lines[] = { "250-DSN greets you", "250-pipelining", "250-Size 1000",
                            "250-8BITMIME", "250-AUTH=LOGIN", "250-DSNX", "250-X-STARTTLS",
                            "250 STARTTLS", NULL };
    enum smtp_reply_status s = SMTP_REPLY_BAD;
    for (size_t i = 0; lines[i]; i++)
        s = smtp_reply_feed_ehlo(&r, lines[i], strlen(lines[i]), &e);
    assert_int_equal(s, SMTP_REPLY_DONE);
    assert_int_equal(e.ext, SMTP_EXT_PIPELINING | SMTP_EXT_SIZE | SMTP_EXT_8BITMIME |
                            SMTP_EXT_STARTTLS | SMTP_EXT_AUTH); /* not DSN: the greeting */
    assert_int_equal(e.size_limit, 1000);
    /* RFC 3030 */
    smtp_ehlo_init(&e);
    smtp_ehlo_add(&e, "chunking", 8);
    smtp_ehlo_add(&e, "BINARYMIME", 10);
    smtp_ehlo_add(&e, "CHUNKINGX", 9);
    assert_int_equal(e.ext, SMTP_EXT_CHUNKING | SMTP_EXT_BINARYMIME);
    smtp_reply_free(&r);
}

static void test_ehlo_size(void **state)
{
    (void)state;
    struct { const char *line; uint64_t limit; } cases[] = {
        { "SIZE", 0 }, { "SIZE 0", 0 }, { "SIZE 52428800", 52428800 }, { "SIZE abc", 0 },
        { "SIZE -1", 0 }, { "SIZE 99999999999999999999999", UINT64_MAX }, { "size=77", 77 },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct smtp_ehlo e;
        smtp_ehlo_init(&e);
        smtp_ehlo_add(&e, cases[i].line, strlen(cases[i].line));
        assert_int_equal(e.ext, SMTP_EXT_SIZE);
        assert_true(e.size_limit == cases[i].limit);
    }
}

/* RFC 4954 3: the AUTH mechanisms the client speaks, in any case, "AUTH=" too. */
static void test_ehlo_auth(void **state)
{
    (void)state;
    struct { const char *line; unsigned auth; } cases[] = {
        { "AUTH PLAIN LOGIN", SMTP_AUTH_PLAIN | SMTP_AUTH_LOGIN },
        { "AUTH login", SMTP_AUTH_LOGIN },
        { "AUTH CRAM-MD5 XOAUTH2", 0 }, { "AUTH", 0 }, { "AUTH=PLAIN", SMTP_AUTH_PLAIN },
        { "AUTH  PLAINX LOGINX PLAI", 0 }, { "AUTH SCRAM-SHA-256 plain", SMTP_AUTH_PLAIN },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct smtp_ehlo e;
        smtp_ehlo_init(&e);
        smtp_ehlo_add(&e, cases[i].line, strlen(cases[i].line));
        assert_int_equal(e.ext, SMTP_EXT_AUTH);
        assert_int_equal(e.auth, cases[i].auth);
    }
}

static void test_ehlo_split(void **state)
{
    (void)state;
    struct smtp_ehlo_keyword k;
    assert_int_equal(smtp_ehlo_split("AUTH PLAIN LOGIN", 16, &k), 0);
    assert_int_equal(k.kw_len, 4);
    assert_true(smtp_ehlo_is(&k, "auth"));
    assert_false(smtp_ehlo_is(&k, "AUT"));
    assert_int_equal(k.args_len, 11);
    assert_memory_equal(k.args, "PLAIN LOGIN", 11);
    assert_int_equal(smtp_ehlo_split("DSN", 3, &k), 0);
    assert_int_equal(k.args_len, 0);
    assert_int_equal(smtp_ehlo_split("", 0, &k), -1);
    assert_int_equal(smtp_ehlo_split(" DSN", 4, &k), -1);
    assert_int_equal(smtp_ehlo_split("-DSN", 4, &k), -1);
    assert_int_equal(smtp_ehlo_split("DS:N", 4, &k), -1);
    struct smtp_ehlo e;
    smtp_ehlo_init(&e);
    smtp_ehlo_add(&e, "DS:N", 4);
    smtp_ehlo_add(&e, "", 0);
    assert_int_equal(e.ext, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_single_line),
        cmocka_unit_test(test_multi_line),
        cmocka_unit_test(test_malformed_lines),
        cmocka_unit_test(test_mixed_codes),
        cmocka_unit_test(test_limits),
        cmocka_unit_test(test_esc),
        cmocka_unit_test(test_ehlo),
        cmocka_unit_test(test_ehlo_size),
        cmocka_unit_test(test_ehlo_auth),
        cmocka_unit_test(test_ehlo_split),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
