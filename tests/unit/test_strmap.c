/*
 * test_strmap: unit tests for lib/strmap (string-keyed hash table): put,
 * get, replace, remove, growth across many keys with every key still
 * found, and an empty table.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <setjmp.h>
#include <cmocka.h>
#include "lib/strmap.h"

static void test_basic(void **state)
{
    (void)state;
    struct strmap m;
    strmap_init(&m);
    assert_null(strmap_get(&m, "a"));
    assert_null(strmap_remove(&m, "a"));
    int x = 1, y = 2;
    strmap_put(&m, "a", &x);
    strmap_put(&m, "b", &y);
    assert_ptr_equal(strmap_get(&m, "a"), &x);
    assert_ptr_equal(strmap_get(&m, "b"), &y);
    assert_null(strmap_get(&m, "c"));
    strmap_put(&m, "a", &y); /* replaced, not added */
    assert_int_equal(strmap_count(&m), 2);
    assert_ptr_equal(strmap_get(&m, "a"), &y);
    assert_ptr_equal(strmap_remove(&m, "a"), &y);
    assert_null(strmap_get(&m, "a"));
    assert_int_equal(strmap_count(&m), 1);
    strmap_free(&m);
    assert_int_equal(strmap_count(&m), 0);
}

static void test_many(void **state)
{
    (void)state;
    enum { N = 20000 };
    static char keys[N][48];
    struct strmap m;
    strmap_init(&m);
    for (int i = 0; i < N; i++) {
        snprintf(keys[i], sizeof keys[i], "mx%d.example:25:mx:may", i);
        strmap_put(&m, keys[i], keys[i]);
    }
    assert_int_equal(strmap_count(&m), N);
    for (int i = 0; i < N; i++)
        assert_ptr_equal(strmap_get(&m, keys[i]), keys[i]);
    for (int i = 0; i < N; i += 2)
        assert_ptr_equal(strmap_remove(&m, keys[i]), keys[i]);
    for (int i = 0; i < N; i++) {
        if (i % 2)
            assert_ptr_equal(strmap_get(&m, keys[i]), keys[i]);
        else
            assert_null(strmap_get(&m, keys[i]));
    }
    assert_int_equal(strmap_count(&m), N / 2);
    strmap_free(&m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_basic),
        cmocka_unit_test(test_many),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
