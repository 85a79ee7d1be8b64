/*
 * test_backoff: unit tests for mail/backoff (the retry delay of a deferred
 * recipient). Covers the first retry at retry_min, doubling per attempt,
 * the cap at retry_max, the +-10% jitter bounds for every seed residue,
 * attempts 0, a huge attempt count and huge durations (no overflow), and
 * retry_min 0.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
#include "mail/backoff.h"

#define MIN5 (5 * 60 * 1000LL)
#define HOUR (60 * 60 * 1000LL)

/* The delay without jitter: seed j = base/10 adds j - j = 0. */
static int64_t centre(int64_t min, int64_t max, unsigned attempts, int64_t base)
{
    return backoff_delay(min, max, attempts, (unsigned)(base / 10));
}

static void test_doubling_and_cap(void **state)
{
    (void)state;
    assert_int_equal(centre(MIN5, HOUR, 1, MIN5), MIN5);
    assert_int_equal(centre(MIN5, HOUR, 2, 2 * MIN5), 2 * MIN5);
    assert_int_equal(centre(MIN5, HOUR, 3, 4 * MIN5), 4 * MIN5);
    assert_int_equal(centre(MIN5, HOUR, 4, 8 * MIN5), 8 * MIN5);
    assert_int_equal(centre(MIN5, HOUR, 5, HOUR), HOUR); /* 16 * 5 min capped */
    assert_int_equal(centre(MIN5, HOUR, 100, HOUR), HOUR);
    assert_int_equal(centre(MIN5, HOUR, 0, MIN5), MIN5);
}

static void test_jitter_bounds(void **state)
{
    (void)state;
    int64_t lo = MIN5 - MIN5 / 10, hi = MIN5 + MIN5 / 10;
    int saw_lo = 0, saw_hi = 0;
    for (unsigned seed = 0; seed < 2 * (MIN5 / 10) + 1; seed += 997) {
        int64_t d = backoff_delay(MIN5, HOUR, 1, seed);
        assert_true(d >= lo && d <= hi);
    }
    for (unsigned seed = 0; seed < 5; seed++) {
        saw_lo |= backoff_delay(MIN5, HOUR, 1, seed) == lo;
        saw_hi |= backoff_delay(MIN5, HOUR, 1, (unsigned)(2 * (MIN5 / 10)) - seed) == hi;
    }
    assert_true(saw_lo && saw_hi);
    /* a large seed wraps into the same range */
    int64_t d = backoff_delay(MIN5, HOUR, 1, 0xffffffffu);
    assert_true(d >= lo && d <= hi);
}

static void test_extremes(void **state)
{
    (void)state;
    /* no overflow with huge durations and attempt counts */
    int64_t big = INT64_MAX / 4;
    int64_t d = backoff_delay(big / 3, big, 4000000000u, 12345);
    assert_true(d > 0 && d <= big + big / 10);
    /* retry_min 0 counts as one second */
    assert_int_equal(backoff_delay(0, HOUR, 1, 100), 1000);
    /* a small delay has no room for jitter */
    assert_int_equal(backoff_delay(5, 5, 3, 77), 5);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_doubling_and_cap),
        cmocka_unit_test(test_jitter_bounds),
        cmocka_unit_test(test_extremes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
