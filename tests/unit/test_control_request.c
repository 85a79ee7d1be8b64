/*
 * test_control_request: unit tests for proto/control_request, the request
 * lines of the control and showq sockets. Covers each verb with and without
 * its queue id, RELOAD alone on its line, exact (case-sensitive) words, an empty argument counting as
 * none, the argument kept whole after the first space, and the showq
 * socket's four exact lines (LIST, SUMMARY, each with --json).
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
#include "proto/control_request.h"

static void test_flush(void **state)
{
    (void)state;
    struct control_request r;
    assert_int_equal(control_request_parse("FLUSH", &r), CONTROL_FLUSH);
    assert_null(r.arg);
    assert_int_equal(control_request_parse("FLUSH ", &r), CONTROL_FLUSH);
    assert_null(r.arg);
    assert_int_equal(control_request_parse("FLUSH 0123ABCD", &r), CONTROL_FLUSH);
    assert_string_equal(r.arg, "0123ABCD");
}

static void test_id_verbs(void **state)
{
    (void)state;
    struct control_request r;
    assert_int_equal(control_request_parse("HOLD A1", &r), CONTROL_HOLD);
    assert_string_equal(r.arg, "A1");
    assert_int_equal(control_request_parse("RELEASE A1", &r), CONTROL_RELEASE);
    assert_string_equal(r.arg, "A1");
    assert_int_equal(control_request_parse("DELETE A1 B2", &r), CONTROL_DELETE);
    assert_string_equal(r.arg, "A1 B2"); /* the rest of the line, as sent */
    assert_int_equal(control_request_parse("DELETE  A1", &r), CONTROL_DELETE);
    assert_string_equal(r.arg, " A1");
}

static void test_reload(void **state)
{
    (void)state;
    struct control_request r;
    assert_int_equal(control_request_parse("RELOAD", &r), CONTROL_RELOAD);
    assert_null(r.arg);
    assert_int_equal(control_request_parse("RELOAD ", &r), CONTROL_UNKNOWN);
    assert_int_equal(control_request_parse("RELOAD x", &r), CONTROL_UNKNOWN);
    assert_null(r.arg);
    assert_int_equal(control_request_parse("reload", &r), CONTROL_UNKNOWN);
    assert_int_equal(control_request_parse_showq("RELOAD", &r), CONTROL_UNKNOWN);
}

static void test_unknown(void **state)
{
    (void)state;
    static const char *const bad[] = {
        "", " ", "HOLD", "HOLD ", "RELEASE", "DELETE ", "flush", "Flush 1", "FLUSHX",
        "FLUSH\r", " FLUSH", "LIST", "HOLDA1", "QUIT",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        struct control_request r;
        assert_int_equal(control_request_parse(bad[i], &r), CONTROL_UNKNOWN);
        assert_null(r.arg);
    }
}

static void test_showq(void **state)
{
    (void)state;
    struct control_request r;
    assert_int_equal(control_request_parse_showq("LIST", &r), CONTROL_LIST);
    assert_int_equal(r.json, 0);
    assert_int_equal(control_request_parse_showq("LIST --json", &r), CONTROL_LIST);
    assert_int_equal(r.json, 1);
    assert_int_equal(control_request_parse_showq("SUMMARY", &r), CONTROL_SUMMARY);
    assert_int_equal(r.json, 0);
    assert_int_equal(control_request_parse_showq("SUMMARY --json", &r), CONTROL_SUMMARY);
    assert_int_equal(r.json, 1);
    static const char *const bad[] = {
        "", "list", "LIST ", "LIST --JSON", "LIST --json ", "LIST\r", "FLUSH", "LIST x",
        "SUMMARYX", "SUMMARY ", "summary", "SUMMARY --json x", "SUMMARY\r",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        assert_int_equal(control_request_parse_showq(bad[i], &r), CONTROL_UNKNOWN);
        assert_int_equal(r.json, 0);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_flush),
        cmocka_unit_test(test_id_verbs),
        cmocka_unit_test(test_reload),
        cmocka_unit_test(test_unknown),
        cmocka_unit_test(test_showq),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
