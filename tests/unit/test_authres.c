/*
 * test_authres: unit tests for proto/authres (RFC 8601 Authentication-Results).
 * Formatting: golden fields for the usual outcomes (one resinfo per folded
 * line, smtp.helo, several dkim entries, a comment, "none" without entries),
 * hostile values quoted (no CR/LF, quotes escaped), comments stripped of
 * parentheses. Parsing the authserv-id: plain, quoted, after CFWS and nested
 * comments, with a version, folded; not an A-R field; empty and oversized ids.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
#include <string.h>
#include "proto/authres.h"

static const char *format(const struct authres_entry *e, size_t n)
{
    static char out[4096];
    struct buf b;
    buf_init(&b, sizeof out - 1);
    int r = authres_format(&b, "mx.example.net", e, n);
    memcpy(out, buf_cstr(&b), b.len + 1);
    buf_free(&b);
    return r == 0 ? out : NULL;
}

static const char *id_of(const char *field)
{
    static char id[AUTHRES_ID_MAX];
    return authres_authserv_id(field, strlen(field), id, sizeof id) == 0 ? id : NULL;
}

static void test_format_golden(void **state)
{
    (void)state;
    struct authres_entry e[] = {
        {.method = "spf", .result = AUTHRES_PASS, .props = {{"smtp.mailfrom", "example.org"}}},
        {.method = "dkim", .result = AUTHRES_PASS,
         .props = {{"header.d", "example.org"}, {"header.s", "sel"}}},
        {.method = "dmarc", .result = AUTHRES_PASS, .props = {{"header.from", "example.org"}}},
    };
    assert_string_equal(format(e, 3),
                        "Authentication-Results: mx.example.net;\r\n"
                        "\tspf=pass smtp.mailfrom=example.org;\r\n"
                        "\tdkim=pass header.d=example.org header.s=sel;\r\n"
                        "\tdmarc=pass header.from=example.org\r\n");
}

static void test_format_results_and_comments(void **state)
{
    (void)state;
    struct authres_entry e[] = {
        {.method = "spf", .result = AUTHRES_TEMPERROR, .props = {{"smtp.helo", "client.test"}}},
        {.method = "dkim", .result = AUTHRES_NONE},
        {.method = "dkim", .result = AUTHRES_FAIL, .comment = "bad (sig)\r\n",
         .props = {{"header.d", "a.test"}, {"header.s", "s1"}}},
        {.method = "dmarc", .result = AUTHRES_FAIL, .comment = "p=reject",
         .props = {{"header.from", "a.test"}}},
    };
    assert_string_equal(format(e, 4),
                        "Authentication-Results: mx.example.net;\r\n"
                        "\tspf=temperror smtp.helo=client.test;\r\n"
                        "\tdkim=none;\r\n"
                        "\tdkim=fail (bad sig) header.d=a.test header.s=s1;\r\n"
                        "\tdmarc=fail (p=reject) header.from=a.test\r\n");
    assert_string_equal(format(e, 0), "Authentication-Results: mx.example.net; none\r\n");
}

static void test_format_hostile_values(void **state)
{
    (void)state;
    struct authres_entry e[] = {
        {.method = "spf", .result = AUTHRES_SOFTFAIL,
         .props = {{"smtp.helo", "evil\r\nX-Injected: 1"}}},
        {.method = "dkim", .result = AUTHRES_PERMERROR,
         .props = {{"header.d", "a\"b\\c; dkim=pass"}, {"header.s", ""}}},
    };
    assert_string_equal(format(e, 2),
                        "Authentication-Results: mx.example.net;\r\n"
                        "\tspf=softfail smtp.helo=\"evilX-Injected: 1\";\r\n"
                        "\tdkim=permerror header.d=\"a\\\"b\\\\c; dkim=pass\" header.s=\"\"\r\n");
    assert_string_equal(authres_result_name(AUTHRES_NONE), "none");
    assert_string_equal(authres_result_name(AUTHRES_NEUTRAL), "neutral");
    assert_string_equal(authres_result_name(AUTHRES_POLICY), "policy");
}

static void test_format_limit(void **state)
{
    (void)state;
    struct buf b;
    struct authres_entry e = {.method = "spf", .result = AUTHRES_PASS};
    buf_init(&b, 20);
    assert_int_equal(authres_format(&b, "mx.example.net", &e, 1), -1);
    buf_free(&b);
}

static void test_authserv_id(void **state)
{
    (void)state;
    assert_string_equal(id_of("Authentication-Results: mx.test; spf=pass\r\n"), "mx.test");
    assert_string_equal(id_of("authentication-results:mx.test;none\r\n"), "mx.test");
    assert_string_equal(id_of("Authentication-Results: MX.Test 1; spf=pass\r\n"), "MX.Test");
    assert_string_equal(id_of("Authentication-Results:\r\n (a (nested) comment)\r\n\tmx.test;"),
                        "mx.test");
    assert_string_equal(id_of("Authentication-Results: (x\\)y) mx.test(c); none"), "mx.test");
    assert_string_equal(id_of("Authentication-Results: \"mx.test\"; none"), "mx.test");
    assert_string_equal(id_of("Authentication-Results: \"m\\x.te\r\n st\"; none"), "mx.te st");
    assert_string_equal(id_of("Authentication-Results : mx.test; none"), "mx.test");
}

static void test_authserv_id_refused(void **state)
{
    (void)state;
    char big[600] = "Authentication-Results: ";
    size_t n = strlen(big);
    memset(big + n, 'a', 400);
    big[n + 400] = '\0';
    assert_null(id_of("Authentication-Result: mx.test; none"));
    assert_null(id_of("X-Authentication-Results: mx.test; none"));
    assert_null(id_of("Received: from mx.test"));
    assert_null(id_of("Authentication-Results: ; none"));
    assert_null(id_of("Authentication-Results: (unclosed mx.test; none"));
    assert_null(id_of("Authentication-Results: \"unterminated"));
    assert_null(id_of("Authentication-Results: \"\"; none"));
    assert_null(id_of("Authentication-Results: \"mx\x01.test\"; none"));
    assert_int_equal(authres_authserv_id("Authentication-Results: \"\0mx.test\"", 34, big,
                                         sizeof big), -1);
    assert_null(id_of("Authentication-Results:"));
    assert_null(id_of(big));
    char small[4];
    assert_int_equal(authres_authserv_id("Authentication-Results: mx.test;", 32, small,
                                         sizeof small), -1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_format_golden),
        cmocka_unit_test(test_format_results_and_comments),
        cmocka_unit_test(test_format_hostile_values),
        cmocka_unit_test(test_format_limit),
        cmocka_unit_test(test_authserv_id),
        cmocka_unit_test(test_authserv_id_refused),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
