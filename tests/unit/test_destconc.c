/*
 * test_destconc: unit tests for mail/destconc (the concurrency of one
 * destination) with a fake clock: the start at 2, growth by one per round
 * of successes that used the whole limit up to max, shrinking on connection
 * failures, the ceiling after "too many connections" that holds for an hour
 * without complaints, death after the threshold, no
 * connection while dead, one probe after the dead time, probe success and
 * failure (dead time doubled, capped), and the reply classifier on replies
 * that real servers send.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <setjmp.h>
#include <cmocka.h>
#include "mail/destconc.h"

#define MIN (60 * 1000LL)

/* How many connections may be open at once now: the first open_now refused. */
static unsigned allowed(struct destconc *d, int64_t now)
{
    unsigned n = 0;
    while (n < 1000 && destconc_may_open(d, now, n))
        n++;
    return n;
}

/* A success while the destination used its whole limit. */
static void succeed(struct destconc *d, int64_t now)
{
    destconc_on_success(d, now, destconc_limit(d));
}

/* A destination grown past four by twenty full-use successes at time 0. */
static void grown(struct destconc *d)
{
    destconc_init(d, NULL);
    for (int i = 0; i < 20; i++)
        succeed(d, 0);
    assert_true(destconc_limit(d) >= 4);
}

static void test_start_and_growth(void **state)
{
    (void)state;
    struct destconc d;
    destconc_init(&d, NULL);
    assert_int_equal(destconc_state(&d), DESTCONC_ACTIVE);
    assert_int_equal(allowed(&d, 0), 2);
    succeed(&d, 1);
    assert_int_equal(allowed(&d, 1), 2); /* +1/limit: half a step */
    succeed(&d, 2);
    assert_int_equal(allowed(&d, 2), 3);
    for (int i = 0; i < 3; i++)
        succeed(&d, 3);
    assert_int_equal(allowed(&d, 3), 4);
    for (int i = 0; i < 1000; i++)
        succeed(&d, 4);
    assert_int_equal(allowed(&d, 4), 10);
    assert_int_equal(destconc_limit(&d), 10);
    assert_int_equal(destconc_dead_until(&d), 0);
}

static void test_params(void **state)
{
    (void)state;
    struct destconc d;
    struct destconc_params p = {.initial = 5, .max = 3};
    destconc_init(&d, &p);
    assert_int_equal(allowed(&d, 0), 3); /* initial never above max */
    p = (struct destconc_params){.initial = 1, .max = 4, .dead_threshold = 2};
    destconc_init(&d, &p);
    assert_int_equal(allowed(&d, 0), 1);
    succeed(&d, 0);
    assert_int_equal(allowed(&d, 0), 2);
    destconc_on_conn_failure(&d, 0);
    destconc_on_conn_failure(&d, 0);
    assert_int_equal(destconc_state(&d), DESTCONC_DEAD);
    assert_int_equal(destconc_dead_until(&d), 5 * MIN); /* the default dead time */
}

static void test_shrink_on_failures(void **state)
{
    (void)state;
    struct destconc d;
    destconc_init(&d, NULL);
    for (int i = 0; i < 100; i++)
        succeed(&d, 0);
    unsigned before = destconc_limit(&d);
    destconc_on_conn_failure(&d, 1);
    assert_int_equal(destconc_limit(&d), before - 1);
    assert_int_equal(destconc_state(&d), DESTCONC_THROTTLED);
    destconc_on_conn_failure(&d, 2);
    assert_int_equal(destconc_limit(&d), before - 2);
    /* a success in between starts the count of failures in a row again */
    succeed(&d, 3);
    assert_int_equal(destconc_state(&d), DESTCONC_ACTIVE);
    for (int i = 0; i < 4; i++)
        destconc_on_conn_failure(&d, 4);
    assert_int_equal(destconc_state(&d), DESTCONC_THROTTLED);
    assert_int_equal(destconc_limit(&d), before - 6);
    /* never below one */
    struct destconc e;
    destconc_init(&e, NULL);
    destconc_on_conn_failure(&e, 0);
    destconc_on_conn_failure(&e, 0);
    destconc_on_conn_failure(&e, 0);
    assert_int_equal(allowed(&e, 0), 1);
}

static void test_too_many_caps(void **state)
{
    (void)state;
    struct destconc d;
    grown(&d);
    /* three open, the third answered 421 4.7.0 too many connections */
    destconc_on_too_many(&d, 10, 3);
    assert_int_equal(destconc_state(&d), DESTCONC_THROTTLED);
    assert_int_equal(allowed(&d, 10), 2);
    assert_int_equal(destconc_ceiling(&d, 10), 2);
    assert_false(destconc_may_open(&d, 11, 2));
    /* a stale connection's later complaint at five does not raise it */
    destconc_on_too_many(&d, 12, 5);
    assert_int_equal(allowed(&d, 12), 2);
    assert_int_equal(destconc_ceiling(&d, 12), 2);
    /* the first success lifts the throttle, but growth stops at the ceiling */
    succeed(&d, 13);
    assert_int_equal(destconc_state(&d), DESTCONC_ACTIVE);
    for (int i = 0; i < 100; i++)
        succeed(&d, 14);
    assert_int_equal(allowed(&d, 14), 2);
    /* one open and refused: at least one stays */
    destconc_on_too_many(&d, 15, 1);
    assert_int_equal(allowed(&d, 15), 1);
    destconc_on_too_many(&d, 16, 0);
    assert_int_equal(allowed(&d, 16), 1);
    /* too many is no connection failure: it never makes a destination dead */
    for (int i = 0; i < 50; i++)
        destconc_on_too_many(&d, 17, 2);
    assert_int_equal(destconc_state(&d), DESTCONC_THROTTLED);
}

/* 421 at the fourth connection: at most three for the next hour of successes, then four
 * once more (the ceiling is forgotten after an hour without a complaint). */
static void test_too_many_ceiling_sticks_an_hour(void **state)
{
    (void)state;
    struct destconc d;
    grown(&d);
    int64_t t = 1000;
    destconc_on_too_many(&d, t, 4);
    assert_int_equal(allowed(&d, t), 3);
    assert_false(destconc_forgettable(&d, t));
    for (int64_t now = t; now < t + 60 * MIN; now += 1000) {
        succeed(&d, now);
        assert_true(allowed(&d, now) <= 3);
    }
    assert_int_equal(allowed(&d, t + 60 * MIN - 1), 3);
    assert_int_equal(destconc_ceiling(&d, t + 60 * MIN - 1), 3);
    /* an hour without complaint: the ceiling is gone, growth reaches four again */
    assert_int_equal(destconc_ceiling(&d, t + 60 * MIN), 0);
    assert_true(destconc_forgettable(&d, t + 60 * MIN));
    for (int i = 0; i < 3; i++)
        succeed(&d, t + 60 * MIN);
    assert_int_equal(allowed(&d, t + 60 * MIN), 4);
    /* a complaint during the hour starts the hour again */
    destconc_on_too_many(&d, t + 61 * MIN, 4);
    destconc_on_too_many(&d, t + 100 * MIN, 4);
    for (int i = 0; i < 50; i++)
        succeed(&d, t + 159 * MIN);
    assert_int_equal(allowed(&d, t + 159 * MIN), 3);
    /* a configured quiet time */
    struct destconc_params p = {.ceiling_quiet_ms = 10 * MIN};
    destconc_init(&d, &p);
    destconc_on_too_many(&d, 0, 2);
    assert_int_equal(destconc_ceiling(&d, 10 * MIN - 1), 1);
    assert_int_equal(destconc_ceiling(&d, 10 * MIN), 0);
}

/* Growth needs successes that used the whole limit. */
static void test_growth_needs_full_use(void **state)
{
    (void)state;
    struct destconc d;
    destconc_init(&d, NULL);
    for (int i = 0; i < 1000; i++)
        destconc_on_success(&d, i, 1); /* one at a time: the limit of two is enough */
    assert_int_equal(destconc_limit(&d), 2);
    destconc_on_success(&d, 2000, 2);
    destconc_on_success(&d, 2001, 2);
    assert_int_equal(destconc_limit(&d), 3);
}

/* `queue flush`: a dead destination is probed at once; a ceiling survives death. */
static void test_probe_now(void **state)
{
    (void)state;
    struct destconc d;
    destconc_init(&d, NULL);
    destconc_probe_now(&d);
    assert_int_equal(destconc_state(&d), DESTCONC_ACTIVE);
    destconc_on_too_many(&d, 0, 2);
    for (int i = 0; i < 5; i++)
        destconc_on_conn_failure(&d, 100);
    assert_int_equal(destconc_state(&d), DESTCONC_DEAD);
    assert_false(destconc_forgettable(&d, 200));
    assert_false(destconc_may_open(&d, 200, 0));
    destconc_probe_now(&d);
    assert_int_equal(destconc_state(&d), DESTCONC_PROBE);
    assert_true(destconc_may_open(&d, 200, 0));
    assert_false(destconc_may_open(&d, 200, 1));
    succeed(&d, 300);
    assert_int_equal(destconc_state(&d), DESTCONC_ACTIVE);
    assert_int_equal(allowed(&d, 300), 1); /* the ceiling of one is still in force */
}

/* A destination killed by five refused connects at time t. */
static void make_dead(struct destconc *d, int64_t t)
{
    for (int i = 0; i < 5; i++) {
        assert_int_not_equal(destconc_state(d), DESTCONC_DEAD);
        destconc_on_conn_failure(d, t);
    }
    assert_int_equal(destconc_state(d), DESTCONC_DEAD);
}

static void test_dead_then_probe_success(void **state)
{
    (void)state;
    struct destconc d;
    destconc_init(&d, NULL);
    make_dead(&d, 1000);
    assert_int_equal(destconc_dead_until(&d), 1000 + 5 * MIN);
    assert_false(destconc_may_open(&d, 1000, 0));
    assert_false(destconc_may_open(&d, 1000 + 5 * MIN - 1, 0));
    assert_int_equal(destconc_state(&d), DESTCONC_DEAD);
    /* late reports from connections opened before it died change nothing */
    destconc_on_conn_failure(&d, 2000);
    destconc_on_too_many(&d, 2000, 3);
    assert_int_equal(destconc_dead_until(&d), 1000 + 5 * MIN);
    /* the dead time over: one probe, not two */
    assert_true(destconc_may_open(&d, 1000 + 5 * MIN, 0));
    assert_int_equal(destconc_state(&d), DESTCONC_PROBE);
    assert_false(destconc_may_open(&d, 1000 + 5 * MIN, 1));
    succeed(&d, 1000 + 5 * MIN + 10);
    assert_int_equal(destconc_state(&d), DESTCONC_ACTIVE);
    assert_int_equal(allowed(&d, 1000 + 5 * MIN + 10), 2);
    assert_int_equal(destconc_dead_until(&d), 0);
    /* revived: the next death starts again at the first dead time */
    make_dead(&d, 10 * MIN);
    assert_int_equal(destconc_dead_until(&d), 15 * MIN);
}

static void test_probe_failure_doubles_capped(void **state)
{
    (void)state;
    struct destconc d;
    destconc_init(&d, NULL);
    make_dead(&d, 0);
    int64_t t = destconc_dead_until(&d);
    int64_t expect[] = {10 * MIN, 20 * MIN, 40 * MIN, 60 * MIN, 60 * MIN};
    for (size_t i = 0; i < sizeof expect / sizeof expect[0]; i++) {
        assert_false(destconc_may_open(&d, t - 1, 0));
        assert_true(destconc_may_open(&d, t, 0));
        destconc_on_conn_failure(&d, t); /* the probe is refused */
        assert_int_equal(destconc_state(&d), DESTCONC_DEAD);
        assert_int_equal(destconc_dead_until(&d), t + expect[i]);
        t += expect[i];
    }
    /* a probe answered "too many" is a failed probe too */
    assert_true(destconc_may_open(&d, t, 0));
    destconc_on_too_many(&d, t, 1);
    assert_int_equal(destconc_state(&d), DESTCONC_DEAD);
    assert_int_equal(destconc_dead_until(&d), t + 60 * MIN);
}

static int too_many(int code, const char *text)
{
    return destconc_reply_too_many(code, text, strlen(text));
}

static void test_classifier(void **state)
{
    (void)state;
    /* Postfix (anvil), Gmail, Exchange */
    assert_true(too_many(421, "421 4.7.0 mx.example.org Error: too many connections from 192.0.2.1"));
    assert_true(too_many(421, "4.7.0 Too many connections"));
    assert_true(too_many(421, "421 4.7.0 Try again later, closing connection. (EHLO) "
                              "a1-20020a170906000000b00 - gsmtp"));
    assert_true(too_many(421, "421 4.3.2 The maximum number of concurrent connections has "
                              "exceeded a limit, closing transmission channel"));
    assert_true(too_many(421, ""));
    /* another 4xx only with wording about connections or sessions */
    assert_true(too_many(450, "450 4.7.0 Too many concurrent SMTP sessions"));
    assert_true(too_many(451, "451 4.3.2 TOO MANY CONNECTIONS"));
    assert_true(too_many(452, "452 too many sessions from your host"));
    assert_false(too_many(451, "451 4.7.0 Temporary server error. Please try again later"));
    assert_false(too_many(450, "450 4.7.0 Rate limited, try again later"));
    assert_false(too_many(450, "450 4.7.1 Error: too much mail from 192.0.2.1"));
    assert_false(too_many(452, "452 4.5.3 Too many recipients"));
    assert_false(too_many(451, "451 4.7.1 Greylisted, please try again later"));
    assert_false(too_many(450, "450 4.2.1 Mailbox busy"));
    /* never a 5xx or a success */
    assert_false(too_many(550, "550 5.7.0 Too many connections"));
    assert_false(too_many(554, "554 5.7.1 connection limit"));
    assert_false(too_many(250, "250 2.0.0 Ok: too many connections? no"));
    /* bounded: only len bytes read, an embedded NUL ends the text */
    assert_false(destconc_reply_too_many(450, "450 too many connections", 12));
    assert_false(destconc_reply_too_many(450, "450 x\0too many connections", 26));
    assert_false(destconc_reply_too_many(450, NULL, 0));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_start_and_growth),
        cmocka_unit_test(test_params),
        cmocka_unit_test(test_shrink_on_failures),
        cmocka_unit_test(test_too_many_caps),
        cmocka_unit_test(test_too_many_ceiling_sticks_an_hour),
        cmocka_unit_test(test_growth_needs_full_use),
        cmocka_unit_test(test_probe_now),
        cmocka_unit_test(test_dead_then_probe_success),
        cmocka_unit_test(test_probe_failure_doubles_capped),
        cmocka_unit_test(test_classifier),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
