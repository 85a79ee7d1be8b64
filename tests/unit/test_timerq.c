/*
 * test_timerq: unit tests for mail/timerq (the scheduler's clock queue), on
 * a fake clock (times are plain numbers). Covers order, FIFO among equal
 * dues, moving an entry earlier and later, removal at the root, the middle
 * and the last slot, pop_due stopping at now, next_wait_ms, ids reused after
 * removal, sequence renumbering before it wraps, random operations checked
 * against a plain array, a million entries with
 * random dues popped in order (the time and bytes per entry are printed,
 * not asserted), and timerq_spread staying in and filling its window.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
#include <stdio.h>
#include <time.h>
#include "mail/timerq.h"

/* The heap property holds and every position points back at its entry. */
static void check_heap(const struct timerq *q)
{
    for (uint32_t i = 0; i < q->count; i++) {
        const struct timerq_entry *e = &q->heap[i];
        assert_int_equal(q->pos[e->id], i);
        if (i == 0)
            continue;
        const struct timerq_entry *p = &q->heap[(i - 1) / 2];
        assert_true(p->due < e->due || (p->due == e->due && p->seq < e->seq));
    }
}

/* Pop everything due by now and compare the ids with want[]. */
static void expect_pops(struct timerq *q, int64_t now, const uint32_t *want, size_t n)
{
    uint32_t id;
    for (size_t i = 0; i < n; i++) {
        assert_int_equal(timerq_pop_due(q, now, &id), 1);
        assert_int_equal(id, want[i]);
        check_heap(q);
    }
    assert_int_equal(timerq_pop_due(q, now, &id), 0);
}

static void test_order(void **state)
{
    (void)state;
    struct timerq q;
    timerq_init(&q);
    int64_t dues[] = {50, 10, 40, 30, 20, -5, 1000};
    for (uint32_t id = 0; id < 7; id++)
        timerq_set(&q, id, dues[id]);
    check_heap(&q);
    assert_int_equal(timerq_count(&q), 7);
    uint32_t id;
    int64_t due;
    assert_int_equal(timerq_peek(&q, &id, &due), 0);
    assert_int_equal(id, 5);
    assert_int_equal(due, -5);
    const uint32_t want[] = {5, 1, 4, 3, 2, 0, 6};
    expect_pops(&q, 1000, want, 7);
    assert_int_equal(timerq_count(&q), 0);
    assert_int_equal(timerq_peek(&q, &id, &due), -1);
    timerq_free(&q);
}

static void test_fifo_ties(void **state)
{
    (void)state;
    struct timerq q;
    timerq_init(&q);
    const uint32_t ids[] = {7, 3, 9, 1, 5, 0, 8};
    for (size_t i = 0; i < 7; i++)
        timerq_set(&q, ids[i], 100);
    timerq_set(&q, 2, 99);
    const uint32_t want[] = {2, 7, 3, 9, 1, 5, 0, 8};
    expect_pops(&q, 100, want, 8);
    timerq_free(&q);
}

static void test_update_earlier_later(void **state)
{
    (void)state;
    struct timerq q;
    timerq_init(&q);
    for (uint32_t id = 0; id < 10; id++)
        timerq_set(&q, id, 100 + 10 * id); /* 100, 110, ... 190 */
    timerq_set(&q, 7, 5);                  /* earlier: now the first */
    timerq_set(&q, 0, 500);                /* later: now the last */
    timerq_set(&q, 4, 140);                /* same due: moves behind nothing else */
    timerq_set(&q, 2, 130);                /* ties with 3, set later: after 3 */
    check_heap(&q);
    assert_int_equal(timerq_count(&q), 10);
    int64_t due;
    assert_int_equal(timerq_get(&q, 0, &due), 0);
    assert_int_equal(due, 500);
    const uint32_t want[] = {7, 1, 3, 2, 4, 5, 6, 8, 9, 0};
    expect_pops(&q, 1000, want, 10);
    assert_int_equal(timerq_get(&q, 0, &due), -1);
    timerq_free(&q);
}

static void test_remove(void **state)
{
    (void)state;
    struct timerq q;
    timerq_init(&q);
    for (uint32_t id = 0; id < 15; id++)
        timerq_set(&q, id, 10 * id);
    assert_int_equal(timerq_remove(&q, 0), 0);  /* the root */
    check_heap(&q);
    assert_int_equal(timerq_remove(&q, 6), 0);  /* the middle */
    check_heap(&q);
    uint32_t last = q.heap[q.count - 1].id;
    assert_int_equal(timerq_remove(&q, last), 0); /* the last slot */
    check_heap(&q);
    assert_int_equal(timerq_remove(&q, 6), -1); /* twice */
    assert_int_equal(timerq_remove(&q, 99999), -1); /* never seen */
    assert_int_equal(timerq_count(&q), 12);
    uint32_t want[12], n = 0;
    for (uint32_t id = 1; id < 15; id++)
        if (id != 6 && id != last)
            want[n++] = id;
    expect_pops(&q, 1000, want, n);
    timerq_free(&q);
}

/* Removing from the middle can need a sift up: the moved last entry is small. */
static void test_remove_sifts_up(void **state)
{
    (void)state;
    struct timerq q;
    timerq_init(&q);
    /* root 0; left subtree large dues, right subtree small ones */
    const int64_t dues[] = {0, 100, 10, 101, 102, 11, 12, 103, 104, 105, 106, 13};
    for (uint32_t id = 0; id < 12; id++)
        timerq_set(&q, id, dues[id]);
    check_heap(&q);
    assert_int_equal(timerq_remove(&q, 8), 0);
    check_heap(&q);
    const uint32_t want[] = {0, 2, 5, 6, 11, 1, 3, 4, 7, 9, 10};
    expect_pops(&q, 1000, want, 11);
    timerq_free(&q);
}

static void test_pop_due_stops_at_now(void **state)
{
    (void)state;
    struct timerq q;
    timerq_init(&q);
    timerq_set(&q, 1, 100);
    timerq_set(&q, 2, 200);
    timerq_set(&q, 3, 201);
    uint32_t id = 77;
    assert_int_equal(timerq_pop_due(&q, 99, &id), 0);
    assert_int_equal(id, 77);
    const uint32_t want1[] = {1};
    expect_pops(&q, 100, want1, 1);
    const uint32_t want2[] = {2};
    expect_pops(&q, 200, want2, 1);
    assert_int_equal(timerq_count(&q), 1);
    timerq_free(&q);
}

static void test_next_wait(void **state)
{
    (void)state;
    struct timerq q;
    timerq_init(&q);
    assert_int_equal(timerq_next_wait_ms(&q, 0), -1);
    timerq_set(&q, 4, 1000);
    assert_int_equal(timerq_next_wait_ms(&q, 0), 1000);
    assert_int_equal(timerq_next_wait_ms(&q, 999), 1);
    assert_int_equal(timerq_next_wait_ms(&q, 1000), 0);
    assert_int_equal(timerq_next_wait_ms(&q, 5000), 0);
    timerq_set(&q, 5, 300);
    assert_int_equal(timerq_next_wait_ms(&q, 0), 300);
    timerq_set(&q, 9, INT64_MAX);
    timerq_remove(&q, 4);
    timerq_remove(&q, 5);
    assert_true(timerq_next_wait_ms(&q, -10) == INT64_MAX); /* no overflow */
    timerq_remove(&q, 9);
    assert_int_equal(timerq_next_wait_ms(&q, 0), -1);
    timerq_free(&q);
}

static void test_ids_reused(void **state)
{
    (void)state;
    struct timerq q;
    timerq_init(&q);
    for (int round = 0; round < 3; round++) {
        for (uint32_t id = 0; id < 100; id++)
            timerq_set(&q, id, 1000 - id);
        for (uint32_t id = 0; id < 100; id += 2)
            assert_int_equal(timerq_remove(&q, id), 0);
        uint32_t id;
        for (uint32_t k = 99;; k -= 2) {
            assert_int_equal(timerq_pop_due(&q, 2000, &id), 1);
            assert_int_equal(id, k); /* the latest id is due first */
            if (k == 1)
                break;
        }
        assert_int_equal(timerq_count(&q), 0);
    }
    /* a large id after small ones: the index grows, the old ones stay */
    timerq_set(&q, 3, 5);
    timerq_set(&q, 2000000, 4);
    check_heap(&q);
    const uint32_t want[] = {2000000, 3};
    expect_pops(&q, 5, want, 2);
    timerq_free(&q);
}

/* The sequence numbers are renumbered before they wrap; order is kept. */
static void test_seq_renumbered(void **state)
{
    (void)state;
    struct timerq q;
    timerq_init(&q);
    q.next_seq = UINT32_MAX - 5;
    for (uint32_t id = 0; id < 20; id++)
        timerq_set(&q, id, id % 2 ? 7 : 3);
    check_heap(&q);
    assert_true(q.next_seq < 100);
    const uint32_t want[] = {0, 2, 4, 6, 8, 10, 12, 14, 16, 18,
                             1, 3, 5, 7, 9, 11, 13, 15, 17, 19};
    expect_pops(&q, 10, want, 20);
    timerq_free(&q);
}

static uint64_t xorshift(uint64_t *s)
{
    *s ^= *s << 13;
    *s ^= *s >> 7;
    *s ^= *s << 17;
    return *s;
}

/* Random sets, moves, removes and pops on 500 ids, checked against a plain array. */
static void test_random_ops(void **state)
{
    (void)state;
    enum { IDS = 500 };
    int64_t want_due[IDS];
    int queued[IDS] = {0};
    struct timerq q;
    timerq_init(&q);
    uint64_t seed = 42;
    for (int op = 0; op < 200000; op++) {
        uint32_t id = (uint32_t)(xorshift(&seed) % IDS);
        uint64_t r = xorshift(&seed) % 10;
        if (r < 6) {
            want_due[id] = (int64_t)(xorshift(&seed) % 1000);
            timerq_set(&q, id, want_due[id]);
            queued[id] = 1;
        } else if (r < 8) {
            assert_int_equal(timerq_remove(&q, id), queued[id] ? 0 : -1);
            queued[id] = 0;
        } else {
            uint32_t got;
            int64_t due, min = INT64_MAX;
            for (int i = 0; i < IDS; i++)
                min = queued[i] && want_due[i] < min ? want_due[i] : min;
            if (timerq_pop_due(&q, 500, &got)) {
                assert_true(queued[got] && want_due[got] == min && min <= 500);
                queued[got] = 0;
            } else {
                assert_true(min > 500);
            }
            if (timerq_peek(&q, &got, &due) == 0)
                assert_true(queued[got] && due == want_due[got]);
        }
        if (op % 1000 == 0)
            check_heap(&q);
    }
    check_heap(&q);
    timerq_free(&q);
}

static double elapsed_ms(const struct timespec *a, const struct timespec *b)
{
    return (double)(b->tv_sec - a->tv_sec) * 1e3 + (double)(b->tv_nsec - a->tv_nsec) / 1e6;
}

/* A million entries, dues over ~10^5 ms so ties abound: popped in (due, set order). */
static void test_million(void **state)
{
    (void)state;
    enum { N = 1000000 };
    struct timerq q;
    timerq_init(&q);
    uint64_t seed = 0x9e3779b97f4a7c15ULL;
    struct timespec t0, t1, t2;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    for (uint32_t id = 0; id < N; id++)
        timerq_set(&q, id, (int64_t)(xorshift(&seed) % 100000));
    clock_gettime(CLOCK_MONOTONIC, &t1);
    assert_int_equal(timerq_count(&q), N);
    size_t bytes = timerq_memory_bytes(&q);
    int64_t prev_due = INT64_MIN;
    uint32_t prev_id = 0, id, popped = 0;
    int64_t due;
    while (timerq_peek(&q, &id, &due) == 0) {
        uint32_t got;
        if (timerq_pop_due(&q, INT64_MAX, &got) != 1 || got != id)
            fail_msg("pop disagrees with peek at %u", popped);
        if (due < prev_due || (due == prev_due && id <= prev_id))
            fail_msg("out of order at %u: due %lld id %u", popped, (long long)due, id);
        prev_due = due;
        prev_id = id;
        popped++;
    }
    clock_gettime(CLOCK_MONOTONIC, &t2);
    assert_int_equal(popped, N);
    printf("timerq: 1,000,000 entries: set %.0f ms, pop all %.0f ms, %.1f bytes/entry "
           "(%zu bytes)\n",
           elapsed_ms(&t0, &t1), elapsed_ms(&t1, &t2), (double)bytes / N, bytes);
    timerq_free(&q);
}

static void test_spread(void **state)
{
    (void)state;
    enum { IDS = 10000, SECONDS = 60 };
    const int64_t base = 1700000000000LL, window = SECONDS * 1000;
    unsigned per_second[SECONDS] = {0};
    for (uint32_t id = 0; id < IDS; id++) {
        int64_t d = timerq_spread(base, id, window);
        assert_true(d >= base && d < base + window);
        assert_true(d == timerq_spread(base, id, window)); /* deterministic */
        per_second[(d - base) / 1000]++;
    }
    unsigned max = 0, min = IDS;
    for (int s = 0; s < SECONDS; s++) {
        max = per_second[s] > max ? per_second[s] : max;
        min = per_second[s] < min ? per_second[s] : min;
    }
    printf("timerq: spread of %d ids over %d s: %u..%u per second (average %d)\n", IDS,
           SECONDS, min, max, IDS / SECONDS);
    assert_true(max <= 2 * IDS / SECONDS);
    assert_true(min > 0);
    /* edge cases: no window, a window of 1 ms, saturation */
    assert_true(timerq_spread(base, 5, 0) == base);
    assert_true(timerq_spread(base, 5, -3) == base);
    assert_true(timerq_spread(base, 5, 1) == base);
    assert_true(timerq_spread(INT64_MAX - 1, 12345, window) >= INT64_MAX - 1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_order),
        cmocka_unit_test(test_fifo_ties),
        cmocka_unit_test(test_update_earlier_later),
        cmocka_unit_test(test_remove),
        cmocka_unit_test(test_remove_sifts_up),
        cmocka_unit_test(test_pop_due_stops_at_now),
        cmocka_unit_test(test_next_wait),
        cmocka_unit_test(test_ids_reused),
        cmocka_unit_test(test_seq_renumbered),
        cmocka_unit_test(test_random_ops),
        cmocka_unit_test(test_million),
        cmocka_unit_test(test_spread),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
