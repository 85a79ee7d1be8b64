/*
 * test_queue_summary: unit tests for mail/queue_summary, the qshape-like
 * table, with a fixed "now": bucket edges (under 5 minutes, doubling, the
 * last one open), only waiting recipients counted (pending, deferred; held
 * messages included), domains lower-cased and sorted by total then name,
 * TOTAL first, and the human and JSON forms byte for byte.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include "mail/queue_summary.h"
#include <stdio.h>

#define MIN (60 * 1000LL)
#define NOW (1800000000000LL)

static void add_msg(struct queue_listing *l, int64_t age_ms, const char *const *rcpts,
                    const enum rcpt_status *st, size_t n)
{
    l->msgs = realloc(l->msgs, (l->n + 1) * sizeof *l->msgs);
    struct envelope *e = &l->msgs[l->n++];
    envelope_init(e);
    e->arrival = NOW - age_ms;
    for (size_t i = 0; i < n; i++)
        envelope_add_rcpt(e, rcpts[i], 0, NULL, -1, st[i]);
}

static void test_buckets(void **state)
{
    (void)state;
    assert_int_equal(queue_summary_bucket(0), 0);
    assert_int_equal(queue_summary_bucket(5 * MIN - 1), 0);
    assert_int_equal(queue_summary_bucket(5 * MIN), 1);
    assert_int_equal(queue_summary_bucket(10 * MIN - 1), 1);
    assert_int_equal(queue_summary_bucket(10 * MIN), 2);
    assert_int_equal(queue_summary_bucket(1279 * MIN), 8);
    assert_int_equal(queue_summary_bucket(1280 * MIN), 9);
    assert_int_equal(queue_summary_bucket(100000 * MIN), 9);
    assert_int_equal(queue_summary_bucket(-5), 0); /* a clock step backwards */
}

static void build(struct queue_listing *l, struct queue_summary *s)
{
    static const char *const r1[] = {"a@B.example", "b@b.example", "c@a.example", "d@done.example"};
    static const enum rcpt_status s1[] = {RCPT_DEFERRED, RCPT_PENDING, RCPT_DEFERRED,
                                          RCPT_DELIVERED};
    static const char *const r2[] = {"e@a.example", "f@c.example", "noat"};
    static const enum rcpt_status s2[] = {RCPT_DEFERRED, RCPT_FAILED, RCPT_PENDING};
    static const char *const r3[] = {"g@b.example"};
    static const enum rcpt_status s3[] = {RCPT_PENDING};
    *l = (struct queue_listing){0};
    add_msg(l, 2 * MIN, r1, s1, 4);
    add_msg(l, 30 * MIN, r2, s2, 3);
    add_msg(l, 3000 * MIN, r3, s3, 1);
    l->msgs[2].hold = 1;
    queue_summary_build(l, NOW, s);
}

static void free_all(struct queue_listing *l, struct queue_summary *s)
{
    queue_summary_free(s);
    queue_listing_free(l);
}

/* Builds the sample queue and checks its output in one form. */
static void check_format(int json, const char *expected)
{
    struct queue_listing l;
    struct queue_summary s;
    build(&l, &s);
    assert_int_equal(s.n, 4);
    struct buf b;
    buf_init(&b, BUF_UNLIMITED);
    queue_summary_format(&s, json, &b);
    assert_string_equal(buf_cstr(&b), expected);
    free_all(&l, &s);
    buf_free(&b);
}

static void test_table(void **state)
{
    (void)state;
    check_format(0,
        "               T     5m    10m    20m    40m    80m   160m   320m   640m  1280m 1280m+\n"
        "    TOTAL      6      3      0      0      2      0      0      0      0      0      1\n"
        "b.example      3      2      0      0      0      0      0      0      0      0      1\n"
        "a.example      2      1      0      0      1      0      0      0      0      0      0\n"
        "   (none)      1      0      0      0      1      0      0      0      0      0      0\n");
}

static void test_json(void **state)
{
    (void)state;
    check_format(1,
        "{\"buckets\":[\"5m\",\"10m\",\"20m\",\"40m\",\"80m\",\"160m\",\"320m\",\"640m\",\"1280m\","
        "\"1280m+\"],\"total\":{\"domain\":\"TOTAL\",\"total\":6,\"buckets\":[3,0,0,2,0,0,0,0,0,1]},"
        "\"domains\":[{\"domain\":\"b.example\",\"total\":3,\"buckets\":[2,0,0,0,0,0,0,0,0,1]},"
        "{\"domain\":\"a.example\",\"total\":2,\"buckets\":[1,0,0,1,0,0,0,0,0,0]},"
        "{\"domain\":\"(none)\",\"total\":1,\"buckets\":[0,0,0,1,0,0,0,0,0,0]}]}\n");
}

static void test_empty(void **state)
{
    (void)state;
    struct queue_listing l = {0};
    struct queue_summary s;
    queue_summary_build(&l, NOW, &s);
    struct buf b;
    buf_init(&b, BUF_UNLIMITED);
    queue_summary_format(&s, 1, &b);
    assert_non_null(strstr(buf_cstr(&b), "\"total\":{\"domain\":\"TOTAL\",\"total\":0,"));
    assert_non_null(strstr(buf_cstr(&b), "\"domains\":[]}"));
    free_all(&l, &s);
    buf_free(&b);
}

/* Many domains (the hash index grows and rehashes): every one counted once, in order. */
static void test_many_domains(void **state)
{
    (void)state;
    struct queue_summary s;
    struct envelope e;
    char addr[64];
    queue_summary_init(&s);
    for (int d = 0; d < 3000; d++) {
        envelope_init(&e);
        e.arrival = NOW - 7 * MIN;
        for (int k = 0; k <= d % 3; k++) {
            snprintf(addr, sizeof addr, "u%d@D%04d.example", k, d);
            envelope_add_rcpt(&e, addr, 0, NULL, -1, RCPT_DEFERRED);
        }
        queue_summary_add(&s, &e, NOW);
        envelope_free(&e);
    }
    envelope_init(&e);
    envelope_add_rcpt(&e, "x@total", 0, NULL, -1, RCPT_PENDING); /* a domain named like the row */
    queue_summary_add(&s, &e, NOW);
    envelope_free(&e);
    queue_summary_finish(&s);
    assert_int_equal(s.n, 1 + 3000 + 1);
    assert_int_equal(s.rows[0].total, 1000 * (1 + 2 + 3) + 1);
    assert_int_equal(s.rows[0].buckets[1], 6000);
    assert_string_equal(s.rows[1].domain, "d0002.example"); /* 3 each, by name */
    assert_int_equal(s.rows[1].total, 3);
    assert_string_equal(s.rows[s.n - 1].domain, "total");
    assert_int_equal(s.rows[s.n - 1].total, 1);
    queue_summary_free(&s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_buckets),
        cmocka_unit_test(test_table),
        cmocka_unit_test(test_json),
        cmocka_unit_test(test_empty),
        cmocka_unit_test(test_many_domains),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
