/*
 * test_connlimit: unit tests for net/connlimit (max_connections and
 * max_connections_per_ip counts shared by the SMTP and POP3 servers).
 * Covers the per-address and total limits, the relay_networks exemption
 * (per address only), leaving and re-admitting, many addresses sharing
 * hash buckets, and an address that leaves more often than it came.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
#include <stdio.h>
#include "net/connlimit.h"

static void test_per_ip_limit(void **state)
{
    (void)state;
    struct connlimit *cl = connlimit_new(100, 2);
    assert_int_equal(connlimit_admit(cl, "192.0.2.1", 0), 0);
    assert_int_equal(connlimit_admit(cl, "192.0.2.1", 0), 0);
    assert_int_equal(connlimit_admit(cl, "192.0.2.1", 0), -1);
    assert_int_equal(connlimit_of(cl, "192.0.2.1"), 2);
    assert_int_equal(connlimit_admit(cl, "192.0.2.2", 0), 0); /* its own count */
    assert_int_equal(connlimit_total(cl), 3);
    connlimit_leave(cl, "192.0.2.1");
    assert_int_equal(connlimit_admit(cl, "192.0.2.1", 0), 0);
    connlimit_free(cl);
}

static void test_exempt_only_per_ip(void **state)
{
    (void)state;
    struct connlimit *cl = connlimit_new(4, 1);
    for (int i = 0; i < 4; i++)
        assert_int_equal(connlimit_admit(cl, "127.0.0.1", 1), 0);
    assert_int_equal(connlimit_admit(cl, "127.0.0.1", 1), -1); /* the total still applies */
    assert_int_equal(connlimit_admit(cl, "198.51.100.7", 0), -1);
    connlimit_leave(cl, "127.0.0.1");
    assert_int_equal(connlimit_admit(cl, "198.51.100.7", 0), 0);
    assert_int_equal(connlimit_admit(cl, "198.51.100.7", 0), -1);
    connlimit_free(cl);
}

static void test_many_addresses(void **state)
{
    (void)state;
    char ip[64];
    struct connlimit *cl = connlimit_new(100000, 1);
    for (int i = 0; i < 5000; i++) {
        snprintf(ip, sizeof ip, "2001:db8::%x", i);
        assert_int_equal(connlimit_admit(cl, ip, 0), 0);
    }
    assert_int_equal(connlimit_total(cl), 5000);
    for (int i = 0; i < 5000; i += 2) {
        snprintf(ip, sizeof ip, "2001:db8::%x", i);
        assert_int_equal(connlimit_admit(cl, ip, 0), -1);
        connlimit_leave(cl, ip);
        assert_int_equal(connlimit_of(cl, ip), 0);
    }
    assert_int_equal(connlimit_total(cl), 2500);
    snprintf(ip, sizeof ip, "2001:db8::%x", 4999);
    assert_int_equal(connlimit_of(cl, ip), 1);
    connlimit_free(cl);
}

static void test_leave_unknown(void **state)
{
    (void)state;
    struct connlimit *cl = connlimit_new(10, 10);
    connlimit_leave(cl, "203.0.113.5"); /* never admitted: no effect */
    assert_int_equal(connlimit_total(cl), 0);
    assert_int_equal(connlimit_admit(cl, "203.0.113.5", 0), 0);
    connlimit_leave(cl, "203.0.113.5");
    connlimit_leave(cl, "203.0.113.5");
    assert_int_equal(connlimit_total(cl), 0);
    connlimit_free(cl);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_per_ip_limit),
        cmocka_unit_test(test_exempt_only_per_ip),
        cmocka_unit_test(test_many_addresses),
        cmocka_unit_test(test_leave_unknown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
