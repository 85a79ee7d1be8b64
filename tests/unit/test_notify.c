/* Unit tests for mail/notify: which notices RFC 3461 owes, and only once. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdlib.h>
#include <string.h>
#include "mail/notify.h"

#define HOUR 3600000LL

static void env(struct envelope *e, const char *sender)
{
    envelope_init(e);
    e->sender = strdup(sender);
    e->arrival = 1000;
}

static enum notify_kind owed(struct envelope *e, unsigned notify, enum rcpt_status st,
                             int64_t now)
{
    size_t i = envelope_add_rcpt(e, "r@x.test", notify, NULL, -1, st);
    return notify_owed(e, i, now, 4 * HOUR);
}

static void test_failed(void **st)
{
    (void)st;
    struct envelope e;
    env(&e, "s@y.test");
    assert_int_equal(owed(&e, 0, RCPT_FAILED, 2000), NOTIFY_FAILED);           /* default */
    assert_int_equal(owed(&e, NOTIFY_FAILURE, RCPT_FAILED, 2000), NOTIFY_FAILED);
    assert_int_equal(owed(&e, NOTIFY_SUCCESS, RCPT_FAILED, 2000), NOTIFY_NONE);
    assert_int_equal(owed(&e, NOTIFY_NEVER, RCPT_FAILED, 2000), NOTIFY_NONE);
    e.rcpts[0].dsn_sent = NOTIFY_FAILURE;
    assert_int_equal(notify_owed(&e, 0, 2000, 4 * HOUR), NOTIFY_NONE);         /* once */
    envelope_free(&e);
}

static void test_null_sender_never(void **st)
{
    (void)st;
    struct envelope e;
    env(&e, "");
    assert_int_equal(owed(&e, 0, RCPT_FAILED, 2000), NOTIFY_NONE);
    assert_int_equal(owed(&e, NOTIFY_SUCCESS, RCPT_DELIVERED, 2000), NOTIFY_NONE);
    assert_false(notify_any_owed(&e, 2000, 4 * HOUR));
    envelope_free(&e);
}

static void test_success_kinds(void **st)
{
    (void)st;
    struct envelope e;
    env(&e, "s@y.test");
    assert_int_equal(owed(&e, 0, RCPT_DELIVERED, 2000), NOTIFY_NONE);
    assert_int_equal(owed(&e, NOTIFY_SUCCESS, RCPT_DELIVERED, 2000), NOTIFY_DELIVERED);
    assert_int_equal(owed(&e, NOTIFY_SUCCESS, RCPT_RELAYED, 2000), NOTIFY_RELAYED);
    size_t i = envelope_add_rcpt(&e, "r@x.test", NOTIFY_SUCCESS, NULL, -1, RCPT_RELAYED);
    e.rcpts[i].dsn_sent = NOTIFY_PASSED_ON; /* the next hop speaks DSN */
    assert_int_equal(notify_owed(&e, i, 2000, 4 * HOUR), NOTIFY_NONE);
    envelope_free(&e);
}

static void test_expanded(void **st)
{
    (void)st;
    struct envelope e;
    env(&e, "s@y.test");
    envelope_add_rcpt(&e, "list@x.test", NOTIFY_SUCCESS, NULL, -1, RCPT_EXPANDED);
    envelope_add_rcpt(&e, "a@x.test", NOTIFY_FAILURE, NULL, 0, RCPT_PENDING);
    assert_int_equal(notify_owed(&e, 0, 2000, 4 * HOUR), NOTIFY_NONE); /* a forward */
    envelope_add_rcpt(&e, "b@x.test", NOTIFY_FAILURE, NULL, 0, RCPT_PENDING);
    assert_int_equal(notify_owed(&e, 0, 2000, 4 * HOUR), NOTIFY_EXPANDED);
    envelope_free(&e);
}

static void test_delayed(void **st)
{
    (void)st;
    struct envelope e;
    env(&e, "s@y.test");
    assert_int_equal(owed(&e, 0, RCPT_DEFERRED, 1000 + HOUR), NOTIFY_NONE);    /* too early */
    assert_int_equal(owed(&e, 0, RCPT_DEFERRED, 1000 + 4 * HOUR), NOTIFY_DELAYED);
    assert_int_equal(owed(&e, NOTIFY_FAILURE, RCPT_DEFERRED, 1000 + 5 * HOUR), NOTIFY_NONE);
    assert_int_equal(owed(&e, NOTIFY_DELAY, RCPT_PENDING, 1000 + 5 * HOUR), NOTIFY_DELAYED);
    size_t i = envelope_add_rcpt(&e, "r@x.test", 0, NULL, -1, RCPT_DEFERRED);
    assert_int_equal(notify_owed(&e, i, 1000 + 5 * HOUR, 0), NOTIFY_NONE);      /* 0 = never */
    e.rcpts[i].dsn_sent = NOTIFY_DELAY;
    assert_int_equal(notify_owed(&e, i, 1000 + 5 * HOUR, 4 * HOUR), NOTIFY_NONE);
    envelope_free(&e);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_failed),         cmocka_unit_test(test_null_sender_never),
        cmocka_unit_test(test_success_kinds),  cmocka_unit_test(test_expanded),
        cmocka_unit_test(test_delayed),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
