/*
 * test_parking: unit tests for mail/parking (what a parked message waits
 * for): the earliest waiting recipient's next attempt, the DELAY notice's
 * time (and none once sent or with NOTIFY=NEVER), held messages, counts of
 * pending and deferred recipients, and the one next hop: kept when every
 * waiting recipient goes there (one domain, or two domains through a
 * relayhost), "" when a recipient is local or the hops differ.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "mail/conf.h"
#include "mail/parking.h"
#include "testutil.h"

TESTUTIL_TMPDIR_FIXTURES("parking")

#define H (3600 * 1000LL)

/* Loads a config of text (+ a users file) into c. */
static void load_conf(struct conf *c, const char *text)
{
    char p[512];
    snprintf(p, sizeof p, "%s/users", tmpdir);
    FILE *f = fopen(p, "w");
    assert_non_null(f);
    fputs("bob@example.test:{PLAIN}x\n", f);
    fclose(f);
    snprintf(p, sizeof p, "%s/p.conf", tmpdir);
    f = fopen(p, "w");
    assert_non_null(f);
    fprintf(f, "local_domains example.test\nusers users\ndelay_warning 4h\n%s", text);
    fclose(f);
    struct buf err;
    buf_init(&err, 4096);
    int r = conf_load(p, c, &err);
    if (r < 0)
        fprintf(stderr, "%s\n", buf_cstr(&err));
    assert_int_equal(r, 0);
    buf_free(&err);
}

static void env_with(struct envelope *e, const char *const *rcpts, size_t n)
{
    envelope_init(e);
    e->sender = strdup("s@sender.test");
    e->arrival = 0;
    for (size_t i = 0; i < n; i++)
        envelope_add_rcpt(e, rcpts[i], 0, NULL, -1, RCPT_PENDING);
}

/* The parking of e at time 10 under a config with extra lines. */
static void parked(const char *extra, const struct envelope *e, struct parking *p)
{
    struct conf c;
    load_conf(&c, extra);
    parking_of(&c, e, 10, p);
    conf_free(&c);
}

static void test_one_hop(void **st)
{
    (void)st;
    struct envelope e;
    const char *r[] = {"a@remote.test", "b@remote.test", "c@remote.test"};
    env_with(&e, r, 3);
    e.rcpts[0].status = RCPT_DEFERRED;
    e.rcpts[0].next_attempt = 2 * H;
    e.rcpts[1].status = RCPT_DEFERRED;
    e.rcpts[1].next_attempt = 1 * H;
    e.rcpts[2].status = RCPT_RELAYED; /* done: does not count */
    struct parking p;
    parked("", &e, &p);
    assert_int_equal(p.due, 1 * H);
    assert_false(p.notice);
    assert_false(p.hold);
    assert_int_equal(p.n_pending, 0);
    assert_int_equal(p.n_deferred, 2);
    assert_non_null(strstr(p.dest, "remote.test"));
    envelope_free(&e);
}

static void test_mixed_hops(void **st)
{
    (void)st;
    struct envelope e;
    const char *r[] = {"a@one.test", "b@two.test"};
    env_with(&e, r, 2);
    e.rcpts[0].next_attempt = e.rcpts[1].next_attempt = 3 * H;
    struct parking p;
    parked("", &e, &p);
    assert_string_equal(p.dest, ""); /* two MX lookups: two next hops */
    assert_int_equal(p.n_pending, 2);
    parked("relayhost [127.0.0.9]:2525\n", &e, &p); /* both through one relayhost */
    assert_non_null(strstr(p.dest, "127.0.0.9"));
    envelope_free(&e);
}

static void test_local_has_no_hop(void **st)
{
    (void)st;
    struct envelope e;
    const char *r[] = {"x@remote.test", "bob@example.test"};
    env_with(&e, r, 2);
    struct parking p;
    parked("", &e, &p);
    assert_string_equal(p.dest, "");
    assert_int_equal(p.due, 0); /* pending: due at once */
    envelope_free(&e);
}

static void test_delay_notice(void **st)
{
    (void)st;
    struct envelope e;
    const char *r[] = {"x@remote.test"};
    env_with(&e, r, 1);
    e.rcpts[0].status = RCPT_DEFERRED;
    e.rcpts[0].next_attempt = 5 * H;
    struct parking p;
    parked("", &e, &p);
    assert_int_equal(p.due, 4 * H); /* delay_warning after arrival */
    assert_true(p.notice);
    e.rcpts[0].dsn_sent |= NOTIFY_DELAY; /* sent already */
    parked("", &e, &p);
    assert_int_equal(p.due, 5 * H);
    assert_false(p.notice);
    e.rcpts[0].dsn_sent = 0;
    e.rcpts[0].notify = NOTIFY_NEVER;
    parked("", &e, &p);
    assert_int_equal(p.due, 5 * H);
    free(e.sender); /* the null sender is never told */
    e.sender = strdup("");
    e.rcpts[0].notify = 0;
    parked("", &e, &p);
    assert_int_equal(p.due, 5 * H);
    envelope_free(&e);
}

static void test_hold_and_done(void **st)
{
    (void)st;
    struct envelope e;
    const char *r[] = {"x@remote.test"};
    env_with(&e, r, 1);
    e.hold = 1;
    struct parking p;
    parked("", &e, &p);
    assert_true(p.hold);
    e.hold = 0;
    e.rcpts[0].status = RCPT_FAILED; /* nothing waits: due now, to be retired */
    e.rcpts[0].dsn_sent = NOTIFY_FAILURE;
    parked("", &e, &p);
    assert_int_equal(p.due, 10);
    assert_int_equal(p.n_pending + p.n_deferred, 0);
    envelope_free(&e);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_one_hop, setup, teardown),
        cmocka_unit_test_setup_teardown(test_mixed_hops, setup, teardown),
        cmocka_unit_test_setup_teardown(test_local_has_no_hop, setup, teardown),
        cmocka_unit_test_setup_teardown(test_delay_notice, setup, teardown),
        cmocka_unit_test_setup_teardown(test_hold_and_done, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
