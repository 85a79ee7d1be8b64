/*
 * test_dur: durations and sizes as the config file writes them (lib/dur):
 * every unit, zero, junk, overflow at the exact int64/uint64 edges, and the
 * shortest-exact-form printers with a parse/format round trip.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include "lib/dur.h"

static int64_t dur_ok(const char *s)
{
    int64_t ms = -1;
    assert_int_equal(dur_parse(s, &ms), 0);
    return ms;
}

static uint64_t size_ok(const char *s)
{
    uint64_t b = 0;
    assert_int_equal(size_parse(s, &b), 0);
    return b;
}

static void test_dur_units(void **state)
{
    (void)state;
    assert_int_equal(dur_ok("0"), 0);
    assert_int_equal(dur_ok("0s"), 0);
    assert_int_equal(dur_ok("500ms"), 500);
    assert_int_equal(dur_ok("30s"), 30000);
    assert_int_equal(dur_ok("30"), 30000);
    assert_int_equal(dur_ok("5m"), 300000);
    assert_int_equal(dur_ok("2h"), 7200000);
    assert_int_equal(dur_ok("5d"), 432000000);
    assert_int_equal(dur_ok("1w"), 604800000);
    assert_int_equal(dur_ok("007s"), 7000);
}

static void test_dur_junk(void **state)
{
    (void)state;
    static const char *const bad[] = {"", "ms", "s", "5x", "5 m", "-5m", "+5m", "5mm", "5.5m",
                                      " 5m", "5m ", "5M", "5S", "5ms5", "m5", "0x10", "5\n"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        int64_t ms = 12345;
        assert_int_equal(dur_parse(bad[i], &ms), -1);
        assert_int_equal(ms, 12345); /* untouched on error */
    }
}

static void test_dur_overflow(void **state)
{
    (void)state;
    int64_t ms;
    assert_int_equal(dur_ok("9223372036854775807ms"), INT64_MAX);
    assert_int_equal(dur_parse("9223372036854775808ms", &ms), -1);
    assert_int_equal(dur_ok("106751991167d"), 106751991167LL * 86400000LL);
    assert_int_equal(dur_parse("106751991168d", &ms), -1);
    assert_int_equal(dur_parse("99999999999999999999", &ms), -1);
    assert_int_equal(dur_parse("999999999999999999999999999999s", &ms), -1);
}

static void test_size_units(void **state)
{
    (void)state;
    assert_int_equal(size_ok("0"), 0);
    assert_int_equal(size_ok("512"), 512);
    assert_int_equal(size_ok("512K"), 512 * 1024);
    assert_int_equal(size_ok("512k"), 512 * 1024);
    assert_int_equal(size_ok("1KB"), 1024);
    assert_int_equal(size_ok("10M"), 10 * 1024 * 1024);
    assert_int_equal(size_ok("10mb"), 10 * 1024 * 1024);
    assert_int_equal(size_ok("1G"), 1024ULL * 1024 * 1024);
    /* dur.c's overflow guard is conservative: it stops at ...600 + 9, not UINT64_MAX. */
    assert_int_equal(size_ok("18446744073709551609"), 18446744073709551609ULL);
}

static void test_size_junk_overflow(void **state)
{
    (void)state;
    static const char *const bad[] = {"",     "K",   "10X",   "10 M",  "-1",
                                      "10B",  "10MBB", "1.5M", " 1M",  "1M ",
                                      "17179869184G", "18446744073709551616", "18014398509481984K"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        uint64_t b = 777;
        assert_int_equal(size_parse(bad[i], &b), -1);
        assert_int_equal(b, 777);
    }
    assert_int_equal(size_ok("17179869183G"), 17179869183ULL << 30);
}

static void test_dur_format(void **state)
{
    (void)state;
    static const struct { int64_t ms; const char *s; } cases[] = {
        {0, "0"},         {1, "1ms"},      {1500, "1500ms"}, {90000, "90s"},
        {300000, "5m"},   {3600000, "1h"}, {7200000, "2h"},  {86400000, "1d"},
        {604800000, "7d"}, {5400000, "90m"}, {INT64_MAX, "9223372036854775807ms"}};
    char out[64];
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        dur_format(cases[i].ms, out, sizeof out);
        assert_string_equal(out, cases[i].s);
        assert_int_equal(dur_ok(out), cases[i].ms); /* round trip */
    }
    dur_format(300000, out, 2); /* truncated, still terminated */
    assert_int_equal(out[1], '\0');
}

static void test_size_format(void **state)
{
    (void)state;
    static const struct { uint64_t b; const char *s; } cases[] = {
        {0, "0"},           {1000, "1000"},      {1024, "1K"},       {51200, "50K"},
        {25u << 20, "25M"}, {1ULL << 30, "1024M"}, {1025, "1025"},
        {18446744073709551609ULL, "18446744073709551609"}};
    char out[64];
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        size_format(cases[i].b, out, sizeof out);
        assert_string_equal(out, cases[i].s);
        assert_int_equal(size_ok(out), cases[i].b);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_dur_units),   cmocka_unit_test(test_dur_junk),
        cmocka_unit_test(test_dur_overflow), cmocka_unit_test(test_size_units),
        cmocka_unit_test(test_size_junk_overflow), cmocka_unit_test(test_dur_format),
        cmocka_unit_test(test_size_format),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
