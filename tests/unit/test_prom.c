/*
 * test_prom: unit tests for lib/prom, the Prometheus text format writer:
 * one # HELP and # TYPE per family, label values escaped (backslash, double
 * quote, newline), HELP text escaped, counters as exact integers, histogram
 * buckets cumulative with le="+Inf" equal to _count, and _sum.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
#include "lib/prom.h"

static void test_family_and_samples(void **state)
{
    (void)state;
    struct buf b;
    buf_init(&b, 4096);
    prom_family(&b, "x_total", "Help with \\ and\nnewline.", PROM_COUNTER);
    prom_sample_u64(&b, "x_total", "k", "a\"b\\c\nd", 18446744073709551615ULL);
    prom_sample(&b, "x_total", NULL, NULL, 0.25);
    prom_family(&b, "g", "A gauge.", PROM_GAUGE);
    assert_string_equal(buf_cstr(&b),
                        "# HELP x_total Help with \\\\ and\\nnewline.\n"
                        "# TYPE x_total counter\n"
                        "x_total{k=\"a\\\"b\\\\c\\nd\"} 18446744073709551615\n"
                        "x_total 0.25\n"
                        "# HELP g A gauge.\n"
                        "# TYPE g gauge\n");
    buf_free(&b);
}

static void test_histogram(void **state)
{
    (void)state;
    static const double bounds[] = {0.1, 1};
    uint64_t counts[3] = {0};
    struct prom_hist h = {.bounds = bounds, .n_bounds = 2, .counts = counts};
    prom_hist_observe(&h, 0.05);
    prom_hist_observe(&h, 0.1);   /* le is inclusive */
    prom_hist_observe(&h, 0.5);
    prom_hist_observe(&h, 7);
    struct buf b;
    buf_init(&b, 4096);
    prom_hist_write(&b, "h_seconds", &h);
    assert_string_equal(buf_cstr(&b),
                        "h_seconds_bucket{le=\"0.1\"} 2\n"
                        "h_seconds_bucket{le=\"1\"} 3\n"
                        "h_seconds_bucket{le=\"+Inf\"} 4\n"
                        "h_seconds_sum 7.65\n"
                        "h_seconds_count 4\n");
    buf_free(&b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_family_and_samples),
        cmocka_unit_test(test_histogram),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
