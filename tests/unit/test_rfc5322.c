/*
 * test_rfc5322: unit tests for proto/rfc5322. The RFC 5322 3.3 date-time of
 * Date:, Received: and notice fields: a known instant, the C-locale names,
 * the buffer limit, and the clamping of negative and far-future times (a
 * year past INT_MAX used to overflow tm_year + 1900). The header knowledge:
 * atext and dot-atom, line ends (CRLF, LF, bare CR), field names, folding,
 * the header section's end, finding a field by name, and msg-id syntax.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
#include <limits.h>
#include <string.h>
#include <time.h>
#include "proto/rfc5322.h"

static void test_known_instant(void **state)
{
    (void)state;
    char out[64];
    assert_int_equal(rfc5322_date((time_t)1795939200, out, sizeof out), 0);
    assert_string_equal(out, "Sun, 29 Nov 2026 08:00:00 +0000");
    assert_int_equal(rfc5322_date(0, out, sizeof out), 0);
    assert_string_equal(out, "Thu, 01 Jan 1970 00:00:00 +0000");
}

static void test_too_small_buffer(void **state)
{
    (void)state;
    char out[10];
    assert_int_equal(rfc5322_date((time_t)1795939200, out, sizeof out), -1);
}

static void test_clamped(void **state)
{
    (void)state;
    char out[64];
    assert_int_equal(rfc5322_date((time_t)-1000, out, sizeof out), 0);
    assert_string_equal(out, "Thu, 01 Jan 1970 00:00:00 +0000");
    assert_int_equal(rfc5322_date(RFC5322_TIME_MAX, out, sizeof out), 0);
    assert_string_equal(out, "Fri, 31 Dec 9999 23:59:59 +0000");
    /* a year past INT_MAX: gmtime_r alone would give tm_year near INT_MAX */
    time_t far = (time_t)INT_MAX * 366 * 24 * 3600;
    assert_int_equal(rfc5322_date(far, out, sizeof out), 0);
    assert_string_equal(out, "Fri, 31 Dec 9999 23:59:59 +0000");
}

static void test_atext_dot_atom(void **state)
{
    (void)state;
    assert_true(rfc5322_is_atext('a') && rfc5322_is_atext('Z') && rfc5322_is_atext('7'));
    assert_true(rfc5322_is_atext('!') && rfc5322_is_atext('~') && rfc5322_is_atext('/'));
    assert_false(rfc5322_is_atext('.') || rfc5322_is_atext('@') || rfc5322_is_atext(' '));
    assert_false(rfc5322_is_atext('"') || rfc5322_is_atext(0) || rfc5322_is_atext(-1));
    assert_false(rfc5322_is_atext(0xe9) || rfc5322_is_atext(0x7f));
    assert_true(rfc5322_dot_atom_ok("a.b-c", 5));
    assert_true(rfc5322_dot_atom_ok("x", 1));
    assert_false(rfc5322_dot_atom_ok("", 0));
    assert_false(rfc5322_dot_atom_ok(".a", 2));
    assert_false(rfc5322_dot_atom_ok("a.", 2));
    assert_false(rfc5322_dot_atom_ok("a..b", 4));
    assert_false(rfc5322_dot_atom_ok("a b", 3));
    assert_true(rfc5322_dot_atom_ok("a.bX", 3)); /* only n octets are looked at */
    assert_true(rfc5322_is_wsp(' ') && rfc5322_is_wsp('\t'));
    assert_false(rfc5322_is_wsp('\r') || rfc5322_is_wsp('\n') || rfc5322_is_wsp('x'));
}

static void test_line_ends(void **state)
{
    (void)state;
    const char *m = "ab\r\ncd\nef\rgh";
    size_t len = strlen(m), next;
    assert_int_equal(rfc5322_line(m, len, 0, &next), 2);
    assert_int_equal(next, 4);
    assert_int_equal(rfc5322_line(m, len, 4, &next), 2);
    assert_int_equal(next, 7);
    assert_int_equal(rfc5322_line(m, len, 7, &next), 2);
    assert_int_equal(next, 10);
    assert_int_equal(rfc5322_line(m, len, 10, &next), 2);
    assert_int_equal(next, len);
    /* a CR at the very end is a line end of its own, not half a CRLF */
    assert_int_equal(rfc5322_line("a\r", 2, 0, &next), 1);
    assert_int_equal(next, 2);
}

static void test_field_name(void **state)
{
    (void)state;
    size_t colon = 0;
    assert_int_equal(rfc5322_field_name("Subject: hi", 11, &colon), 7);
    assert_int_equal(colon, 7);
    assert_int_equal(rfc5322_field_name("To \t: x", 7, &colon), 2); /* obs WSP before ':' */
    assert_int_equal(colon, 4);
    assert_int_equal(rfc5322_field_name("X-A:", 4, NULL), 3);
    assert_int_equal(rfc5322_field_name(": x", 3, NULL), 0);
    assert_int_equal(rfc5322_field_name(" A: x", 5, NULL), 0);
    assert_int_equal(rfc5322_field_name("A B: x", 6, NULL), 0);
    assert_int_equal(rfc5322_field_name("A\xe9: x", 5, NULL), 0);
    assert_int_equal(rfc5322_field_name("Subject", 7, NULL), 0);
    assert_int_equal(rfc5322_field_name("Subject:", 7, NULL), 0); /* colon past n */
    assert_true(rfc5322_field_is("message-id: x", 10, "Message-ID"));
    assert_false(rfc5322_field_is("Message-IDs: x", 11, "Message-ID"));
    assert_false(rfc5322_field_is("To: x", 2, "Tox"));
}

static void test_fold(void **state)
{
    (void)state;
    const char *v = " a\r\n b\nc\n\td\r\n";
    size_t len = strlen(v);
    assert_int_equal(rfc5322_fold(v, len, 2), 2);  /* CRLF + WSP */
    assert_int_equal(rfc5322_fold(v, len, 6), 0);  /* LF + 'c': the field ends there */
    assert_int_equal(rfc5322_fold(v, len, 8), 1);  /* LF + TAB */
    assert_int_equal(rfc5322_fold(v, len, 11), 2); /* the value's own line end */
    assert_int_equal(rfc5322_fold("a\r b", 4, 1), 0); /* a bare CR never folds */
    assert_int_equal(rfc5322_fold("a", 1, 0), 0);
    assert_int_equal(rfc5322_fold("a", 1, 1), 0);
}

static void test_header_length(void **state)
{
    (void)state;
    int blank = -1;
    const char *a = "A: 1\r\n 2\r\nB: 3\r\n\r\nbody";
    assert_int_equal(rfc5322_header_length(a, strlen(a), &blank), strlen(a) - 4);
    assert_int_equal(blank, 1);
    const char *b = "A: 1\nnot a field\n";
    assert_int_equal(rfc5322_header_length(b, strlen(b), &blank), 5);
    assert_int_equal(blank, 0);
    const char *c = "A: 1\r\n\tmore";
    assert_int_equal(rfc5322_header_length(c, strlen(c), &blank), strlen(c));
    assert_int_equal(blank, 0);
    assert_int_equal(rfc5322_header_length("\tA: 1\r\n", 7, NULL), 0);
    assert_int_equal(rfc5322_header_length("", 0, NULL), 0);
    const char *d = "A: 1\r\n 2\r\nB: 3";
    assert_int_equal(rfc5322_field_end(d, strlen(d), 0), 10);
    assert_int_equal(rfc5322_field_end(d, strlen(d), 10), strlen(d));
}

static void test_find_field(void **state)
{
    (void)state;
    struct rfc5322_field f;
    const char *m = "From: a\r\nsubject : one\r\n two\r\nSubject: second\r\n\r\n"
                    "Message-ID: <body@x>\r\n";
    assert_int_equal(rfc5322_find_field(m, strlen(m), "SUBJECT", &f), 0);
    assert_int_equal(f.start, 9);
    assert_int_equal(f.name_len, 7);
    assert_int_equal(f.colon, 17);
    assert_int_equal(f.end, 30);
    /* a field after the header section is not one */
    assert_int_equal(rfc5322_find_field(m, strlen(m), "Message-ID", &f), -1);
    assert_int_equal(rfc5322_find_field(m, strlen(m), "To", &f), -1);
    assert_int_equal(rfc5322_find_field(NULL, 0, "To", &f), -1);
}

static void test_field_has_value(void **state)
{
    (void)state;
    const char *m = "Received: x\r\nDelivered-To: carol@example.org\r\n"
                    "delivered-to :\r\n  <Bob@Example.ORG> \r\nSubject: hi\r\n\r\n"
                    "Delivered-To: dave@example.org\r\n";
    size_t n = strlen(m);
    assert_int_equal(rfc5322_field_has_value(m, n, "Delivered-To", "carol@example.org"), 1);
    assert_int_equal(rfc5322_field_has_value(m, n, "Delivered-To", "bob@example.org"), 1);
    assert_int_equal(rfc5322_field_has_value(m, n, "Delivered-To", "bob@example"), 0);
    assert_int_equal(rfc5322_field_has_value(m, n, "Delivered-To", "dave@example.org"), 0);
    assert_int_equal(rfc5322_field_has_value(m, n, "Subject", "hi"), 1);
    assert_int_equal(rfc5322_field_has_value(m, n, "Received", "carol@example.org"), 0);
    assert_int_equal(rfc5322_field_has_value(NULL, 0, "Delivered-To", "a@b"), 0);
    /* a value longer than a line never matches, even if it starts with the address */
    char big[1200 + 64];
    size_t k = strlen("Delivered-To: a@b");
    memcpy(big, "Delivered-To: a@b", k);
    while (k < 1200)
        big[k++] = ' ';
    memcpy(big + k, "\r\n\r\n", 5);
    assert_int_equal(rfc5322_field_has_value(big, strlen(big), "Delivered-To", "a@b"), 0);
}

static void test_msgid(void **state)
{
    (void)state;
    static const struct {
        const char *id;
        int ok;
    } cases[] = {
        {"<a@b>", 1}, {"<a.b+c@host.example>", 1}, {"<x@[1.2.3.4]>", 1}, {"<x@[]>", 1},
        {"<@b>", 0}, {"<a@>", 0}, {"a@b", 0}, {"<a b@c>", 0}, {"<a..b@c>", 0},
        {"<a@b@c>", 0}, {"<a@[x]y]>", 0}, {"<a@[x\\]>", 0}, {"<\"a\"@b>", 0}, {"<ab>", 0},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        assert_int_equal(rfc5322_msgid_ok(cases[i].id, strlen(cases[i].id)), cases[i].ok);
    char big[RFC5322_MSGID_MAX + 8];
    memset(big, 'a', sizeof big);
    big[0] = '<';
    big[sizeof big - 3] = '@';
    big[sizeof big - 1] = '>';
    assert_int_equal(rfc5322_msgid_ok(big, sizeof big), 0);
    assert_int_equal(rfc5322_msgid_ok(big + sizeof big - 1 - 500, 0), 0);
}

/* The first Message-ID field of the header section decides, folded or not. */
static void test_find_message_id(void **state)
{
    (void)state;
    static const struct {
        const char *msg;
        size_t size;
        const char *want; /* NULL: -1 */
    } cases[] = {
        {"To: x\r\nMessage-Id:\r\n  comment <id.1@host>\r\n\r\nbody", 64, "<id.1@host>"},
        {"To: x\r\nMessage-Id: <id.1@host>\r\n", 11, NULL}, /* no room for the NUL */
        {"To: x\r\nMessage-Id: <id.1@host>\r\n", 12, "<id.1@host>"},
        {"Message-ID: <a b@c>\r\nMessage-ID: <ok@c>\r\n", 64, NULL},
        {"Message-ID: no brackets\r\n", 64, NULL},
        {"Message-ID: <open@c\r\n", 64, NULL},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char id[64];
        int r = rfc5322_find_message_id(cases[i].msg, strlen(cases[i].msg), id, cases[i].size);
        assert_int_equal(r, cases[i].want ? 0 : -1);
        if (cases[i].want)
            assert_string_equal(id, cases[i].want);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_field_has_value),
        cmocka_unit_test(test_known_instant),
        cmocka_unit_test(test_too_small_buffer),
        cmocka_unit_test(test_clamped),
        cmocka_unit_test(test_atext_dot_atom),
        cmocka_unit_test(test_line_ends),
        cmocka_unit_test(test_field_name),
        cmocka_unit_test(test_fold),
        cmocka_unit_test(test_header_length),
        cmocka_unit_test(test_find_field),
        cmocka_unit_test(test_msgid),
        cmocka_unit_test(test_find_message_id),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
