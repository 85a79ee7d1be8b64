/*
 * test_slotmap: unit tests for lib/slotmap (the hash index of slots whose
 * keys live in the caller's records): find/insert/remove on string keys,
 * colliding hashes, removals leaving tombstones that later inserts reuse,
 * rebuilds while growing, random operations checked against a plain array,
 * and the memory of a million entries (printed, bounded loosely).
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "lib/slotmap.h"

#define KEYS 5000

struct keys {
    char name[KEYS][16];
    int bad_hash;            /* every key hashes to the same value */
};

static uint64_t key_hash(const struct keys *k, const char *name)
{
    return k->bad_hash ? 42 : slotmap_hash_str(name);
}

static uint64_t hash_slot(const void *ctx, uint32_t slot)
{
    const struct keys *k = ctx;
    return key_hash(k, k->name[slot]);
}

static int eq_slot(const void *ctx, uint32_t slot, const void *key)
{
    const struct keys *k = ctx;
    return strcmp(k->name[slot], key) == 0;
}

static struct keys *keys_new(int bad_hash)
{
    struct keys *k = calloc(1, sizeof *k);
    for (int i = 0; i < KEYS; i++)
        snprintf(k->name[i], sizeof k->name[i], "K%08X", (unsigned)i * 2654435761u);
    k->bad_hash = bad_hash;
    return k;
}

static void test_basic(void **state)
{
    (void)state;
    struct keys *k = keys_new(0);
    struct slotmap m;
    slotmap_init(&m, hash_slot, eq_slot, k);
    assert_int_equal(slotmap_find(&m, key_hash(k, "x"), "x"), SLOTMAP_NONE);
    for (uint32_t i = 0; i < KEYS; i++)
        slotmap_insert(&m, key_hash(k, k->name[i]), i);
    assert_int_equal(slotmap_count(&m), KEYS);
    for (uint32_t i = 0; i < KEYS; i++)
        assert_int_equal(slotmap_find(&m, key_hash(k, k->name[i]), k->name[i]), i);
    assert_int_equal(slotmap_find(&m, key_hash(k, "nope"), "nope"), SLOTMAP_NONE);
    for (uint32_t i = 0; i < KEYS; i += 2)
        assert_int_equal(slotmap_remove(&m, key_hash(k, k->name[i]), i), 0);
    assert_int_equal(slotmap_remove(&m, key_hash(k, k->name[0]), 0), -1);
    for (uint32_t i = 0; i < KEYS; i++)
        assert_int_equal(slotmap_find(&m, key_hash(k, k->name[i]), k->name[i]),
                         i % 2 ? i : SLOTMAP_NONE);
    assert_int_equal(slotmap_count(&m), KEYS / 2);
    slotmap_free(&m);
    free(k);
}

/* Every key in one probe chain: removals in the middle must not cut the chain. */
static void test_collisions(void **state)
{
    (void)state;
    struct keys *k = keys_new(1);
    struct slotmap m;
    slotmap_init(&m, hash_slot, eq_slot, k);
    for (uint32_t i = 0; i < 300; i++)
        slotmap_insert(&m, 42, i);
    for (uint32_t i = 100; i < 200; i++)
        assert_int_equal(slotmap_remove(&m, 42, i), 0);
    for (uint32_t i = 0; i < 300; i++)
        assert_int_equal(slotmap_find(&m, 42, k->name[i]), i >= 100 && i < 200 ? SLOTMAP_NONE : i);
    for (uint32_t i = 100; i < 200; i++) /* reuse the tombstones */
        slotmap_insert(&m, 42, i);
    for (uint32_t i = 0; i < 300; i++)
        assert_int_equal(slotmap_find(&m, 42, k->name[i]), i);
    slotmap_free(&m);
    free(k);
}

/* Random inserts and removals against a membership array; tombstones force rebuilds. */
static void test_random(void **state)
{
    (void)state;
    struct keys *k = keys_new(0);
    static char in[KEYS];
    memset(in, 0, sizeof in);
    struct slotmap m;
    slotmap_init(&m, hash_slot, eq_slot, k);
    unsigned seed = 7;
    uint32_t live = 0;
    for (int step = 0; step < 200000; step++) {
        uint32_t i = (uint32_t)rand_r(&seed) % KEYS;
        uint64_t h = key_hash(k, k->name[i]);
        if (in[i]) {
            assert_int_equal(slotmap_remove(&m, h, i), 0);
            in[i] = 0;
            live--;
        } else {
            slotmap_insert(&m, h, i);
            in[i] = 1;
            live++;
        }
        if (step % 9973 == 0)
            for (uint32_t j = 0; j < KEYS; j++)
                assert_int_equal(slotmap_find(&m, key_hash(k, k->name[j]), k->name[j]),
                                 in[j] ? j : SLOTMAP_NONE);
    }
    assert_int_equal(slotmap_count(&m), live);
    assert_true(m.filled * 4 <= m.cap * 3);
    slotmap_free(&m);
    free(k);
}

struct ids {
    uint32_t n;
};

static uint64_t hash_id(const void *ctx, uint32_t slot)
{
    (void)ctx;
    char s[16];
    snprintf(s, sizeof s, "%08X", slot);
    return slotmap_hash_str(s);
}

static int eq_id(const void *ctx, uint32_t slot, const void *key)
{
    (void)ctx;
    return slot == *(const uint32_t *)key;
}

/* A million slots: found again, and the index stays near 8 bytes per entry. */
static void test_million(void **state)
{
    (void)state;
    struct slotmap m;
    slotmap_init(&m, hash_id, eq_id, NULL);
    for (uint32_t i = 0; i < 1000000; i++)
        slotmap_insert(&m, hash_id(NULL, i), i);
    for (uint32_t i = 0; i < 1000000; i += 997)
        assert_int_equal(slotmap_find(&m, hash_id(NULL, i), &i), i);
    size_t bytes = slotmap_memory_bytes(&m);
    printf("# slotmap: 1,000,000 entries in %zu bytes (%.1f per entry)\n", bytes,
           (double)bytes / 1e6);
    assert_true(bytes <= 16u * 1000000u);
    slotmap_free(&m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_basic),
        cmocka_unit_test(test_collisions),
        cmocka_unit_test(test_random),
        cmocka_unit_test(test_million),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
