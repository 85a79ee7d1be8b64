/*
 * test_rfc5322: unit tests for proto/rfc5322 (the RFC 5322 3.3 date-time
 * of Date:, Received: and notice fields): a known instant, the C-locale
 * names, the buffer limit, and the clamping of negative and far-future
 * times (a year past INT_MAX used to overflow tm_year + 1900).
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
#include <limits.h>
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

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_known_instant),
        cmocka_unit_test(test_too_small_buffer),
        cmocka_unit_test(test_clamped),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
