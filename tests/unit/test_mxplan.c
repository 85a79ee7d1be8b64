/*
 * test_mxplan: ordering MX records (RFC 5321 5.1, RFC 974, RFC 7505) with
 * mail/mxplan: preference order, the seeded shuffle of equal preferences
 * (deterministic, and every permutation reachable), null MX, repeated names,
 * this host's name dropping itself and every less preferred record (primary
 * and backup MX), the loop, and recognising this host by address:port.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include "lib/str.h"
#include "mail/mxplan.h"

static char self_name[] = "Mail.Example.Test.";

static size_t load(struct mxplan_rec *recs, const char *const *hosts, const int *prefs, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        str_copy(recs[i].host, sizeof recs[i].host, hosts[i]);
        recs[i].pref = prefs[i];
    }
    return n;
}

/* The hosts of recs joined with ',' into out. */
static const char *joined(const struct mxplan_rec *recs, size_t n, char *out, size_t size)
{
    out[0] = '\0';
    for (size_t i = 0; i < n; i++) {
        size_t len = strlen(out);
        str_fmt(out + len, size - len, "%s%s", i ? "," : "", recs[i].host);
    }
    return out;
}

static void test_sorted_by_preference(void **st)
{
    (void)st;
    const char *hosts[] = {"c.test", "a.test", "b.test", "d.test"};
    const int prefs[] = {30, 0, 20, 65535};
    struct mxplan_rec recs[4];
    size_t n = load(recs, hosts, prefs, 4);
    char out[256];
    assert_int_equal(mxplan_order(recs, &n, 7, NULL, NULL), MXPLAN_OK);
    assert_int_equal(n, 4);
    assert_string_equal(joined(recs, n, out, sizeof out), "a.test,b.test,c.test,d.test");
    assert_int_equal(recs[0].pref, 0);
    assert_int_equal(recs[3].pref, 65535);
}

/* Equal preferences: a seed fixes the order, and the seeds reach all 6 orders of 3. */
static void test_equal_preference_shuffle(void **st)
{
    (void)st;
    const char *hosts[] = {"z.test", "x.test", "last.test", "y.test", "first.test"};
    const int prefs[] = {10, 10, 20, 10, 5};
    char seen[6][256], out[256], again[256];
    size_t n_seen = 0;
    for (uint32_t seed = 0; seed < 300; seed++) {
        struct mxplan_rec recs[5];
        size_t n = load(recs, hosts, prefs, 5);
        assert_int_equal(mxplan_order(recs, &n, seed, NULL, NULL), MXPLAN_OK);
        assert_int_equal(n, 5);
        assert_string_equal(recs[0].host, "first.test");
        assert_string_equal(recs[4].host, "last.test");
        joined(recs + 1, 3, out, sizeof out);
        n = load(recs, hosts, prefs, 5);
        mxplan_order(recs, &n, seed, NULL, NULL);
        assert_string_equal(joined(recs + 1, 3, again, sizeof again), out); /* deterministic */
        size_t k;
        for (k = 0; k < n_seen && strcmp(seen[k], out) != 0; k++)
            ;
        if (k == n_seen) {
            assert_true(n_seen < 6);
            str_copy(seen[n_seen++], sizeof seen[0], out);
        }
    }
    assert_int_equal(n_seen, 6);
}

/* The order of the DNS answer does not matter, only the seed does. */
static void test_answer_order_irrelevant(void **st)
{
    (void)st;
    const char *h1[] = {"a.test", "b.test", "c.test"}, *h2[] = {"c.test", "a.test", "b.test"};
    const int prefs[] = {10, 10, 10};
    struct mxplan_rec r1[3], r2[3];
    size_t n1 = load(r1, h1, prefs, 3), n2 = load(r2, h2, prefs, 3);
    char o1[128], o2[128];
    mxplan_order(r1, &n1, 42, NULL, NULL);
    mxplan_order(r2, &n2, 42, NULL, NULL);
    assert_string_equal(joined(r1, n1, o1, sizeof o1), joined(r2, n2, o2, sizeof o2));
}

static void test_null_mx(void **st)
{
    (void)st;
    struct mxplan_rec recs[3];
    const char *dot[] = {"."}, *empty[] = {""}, *mixed[] = {"a.test", "", "b.test"};
    const int zero[] = {0}, prefs[] = {10, 0, 20};
    size_t n = load(recs, dot, zero, 1);
    assert_int_equal(mxplan_order(recs, &n, 1, NULL, NULL), MXPLAN_NULL_MX);
    n = load(recs, empty, zero, 1);
    assert_int_equal(mxplan_order(recs, &n, 1, NULL, NULL), MXPLAN_NULL_MX);
    /* RFC 7505 3: a null MX must stand alone; mixed in, the refusal still wins. */
    n = load(recs, mixed, prefs, 3);
    assert_int_equal(mxplan_order(recs, &n, 1, NULL, NULL), MXPLAN_NULL_MX);
    assert_true(mxplan_is_root("."));
    assert_true(mxplan_is_root(""));
    assert_false(mxplan_is_root("a.test"));
    n = 0;
    assert_int_equal(mxplan_order(recs, &n, 1, NULL, NULL), MXPLAN_NONE);
}

static void test_repeated_names_kept_once(void **st)
{
    (void)st;
    const char *hosts[] = {"B.test", "a.test", "b.TEST.", "a.test"};
    const int prefs[] = {30, 10, 20, 10};
    struct mxplan_rec recs[4];
    size_t n = load(recs, hosts, prefs, 4);
    char out[128];
    assert_int_equal(mxplan_order(recs, &n, 3, NULL, NULL), MXPLAN_OK);
    assert_int_equal(n, 2);
    assert_string_equal(joined(recs, n, out, sizeof out), "a.test,b.TEST.");
    assert_int_equal(recs[1].pref, 20);
}

/* A backup MX (RFC 974, RFC 5321 5.1): only the hosts preferred over itself remain. */
static void test_self_drops_less_preferred(void **st)
{
    (void)st;
    const char *hosts[] = {"tertiary.test", "mail.example.test", "primary.test", "peer.test",
                           "second.test"};
    const int prefs[] = {30, 20, 10, 20, 15};
    struct mxplan_rec recs[5];
    size_t n = load(recs, hosts, prefs, 5);
    char out[256];
    assert_int_equal(mxplan_order(recs, &n, 9, mxplan_host_is_self, self_name), MXPLAN_OK);
    /* equal preference (peer.test) and less preferred (tertiary.test) are dropped too */
    assert_string_equal(joined(recs, n, out, sizeof out), "primary.test,second.test");
}

/* Several self records: the best of them sets the cut. */
static void test_self_listed_twice(void **st)
{
    (void)st;
    const char *hosts[] = {"MAIL.example.test", "primary.test", "mail.example.test."};
    const int prefs[] = {50, 10, 20};
    struct mxplan_rec recs[3];
    size_t n = load(recs, hosts, prefs, 3);
    assert_int_equal(mxplan_order(recs, &n, 9, mxplan_host_is_self, self_name), MXPLAN_OK);
    assert_int_equal(n, 1);
    assert_string_equal(recs[0].host, "primary.test");
}

/* This host is the best MX (alone or tied): nothing to relay to. */
static void test_loop(void **st)
{
    (void)st;
    const char *hosts[] = {"backup.test", "mail.example.test"};
    const int prefs[] = {20, 10};
    const char *tied[] = {"other.test", "mail.example.test"};
    const int tprefs[] = {10, 10};
    struct mxplan_rec recs[2];
    size_t n = load(recs, hosts, prefs, 2);
    assert_int_equal(mxplan_order(recs, &n, 1, mxplan_host_is_self, self_name), MXPLAN_LOOP);
    assert_int_equal(n, 0);
    n = load(recs, tied, tprefs, 2);
    assert_int_equal(mxplan_order(recs, &n, 1, mxplan_host_is_self, self_name), MXPLAN_LOOP);
    /* without a self test the same list is fine */
    n = load(recs, hosts, prefs, 2);
    assert_int_equal(mxplan_order(recs, &n, 1, NULL, NULL), MXPLAN_OK);
    assert_int_equal(n, 2);
}

static void test_host_is_self(void **st)
{
    (void)st;
    assert_true(mxplan_host_is_self(self_name, "mail.example.test"));
    assert_true(mxplan_host_is_self(self_name, "MAIL.EXAMPLE.TEST."));
    assert_false(mxplan_host_is_self(self_name, "mail.example.test.."));
    assert_false(mxplan_host_is_self(self_name, "mail.example"));
    assert_false(mxplan_host_is_self(self_name, "xmail.example.test"));
    assert_false(mxplan_host_is_self(self_name, ""));
    assert_false(mxplan_host_is_self("", ""));
    assert_false(mxplan_host_is_self(NULL, "a.test"));
}

static struct sockaddr_storage sa_of(const char *addr, int port)
{
    struct sockaddr_storage ss;
    memset(&ss, 0, sizeof ss);
    if (strchr(addr, ':')) {
        struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;
        s6->sin6_family = AF_INET6;
        s6->sin6_port = htons((uint16_t)port);
        assert_int_equal(inet_pton(AF_INET6, addr, &s6->sin6_addr), 1);
    } else {
        struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;
        s4->sin_family = AF_INET;
        s4->sin_port = htons((uint16_t)port);
        assert_int_equal(inet_pton(AF_INET, addr, &s4->sin_addr), 1);
    }
    return ss;
}

static int is_self(const struct listen_spec *l, size_t n, const char *addr, int port)
{
    struct sockaddr_storage ss = sa_of(addr, port);
    return mxplan_addr_is_self(l, n, (struct sockaddr *)&ss);
}

static void test_addr_is_self(void **st)
{
    (void)st;
    const struct listen_spec l[] = {
        {LISTEN_SMTP, "127.0.0.1", 25},     {LISTEN_SUBMISSION, "0.0.0.0", 587},
        {LISTEN_POP3, "127.0.0.1", 110},    {LISTEN_SMTPS, "::1", 465},
        {LISTEN_SMTP, "192.0.2.1", 25},     {LISTEN_SMTP, "::", 2525},
    };
    size_t n = sizeof l / sizeof l[0];
    assert_true(is_self(l, n, "127.0.0.1", 25));
    assert_true(is_self(l, n, "192.0.2.1", 25));
    assert_true(is_self(l, n, "::ffff:127.0.0.1", 25));   /* IPv4-mapped */
    assert_true(is_self(l, n, "0.0.0.0", 25));            /* reaches this machine */
    assert_true(is_self(l, n, "::", 25));
    assert_true(is_self(l, n, "::1", 465));
    assert_true(is_self(l, n, "127.0.0.5", 587));         /* wildcard listen, loopback target */
    assert_true(is_self(l, n, "::1", 2525));
    assert_true(is_self(l, n, "127.0.0.1", 2525));        /* :: listens on IPv4 too */
    assert_false(is_self(l, n, "127.0.0.2", 25));         /* another loopback address */
    assert_false(is_self(l, n, "127.0.0.1", 26));         /* another port */
    assert_false(is_self(l, n, "198.51.100.7", 587));     /* wildcard, but not ours for sure */
    assert_false(is_self(l, n, "127.0.0.1", 110));        /* POP3 is not a mail listen */
    assert_false(is_self(l, n, "::2", 465));
    assert_false(is_self(l, n, "192.0.2.1", 465));
    assert_false(is_self(l, 0, "127.0.0.1", 25));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sorted_by_preference),
        cmocka_unit_test(test_equal_preference_shuffle),
        cmocka_unit_test(test_answer_order_irrelevant),
        cmocka_unit_test(test_null_mx),
        cmocka_unit_test(test_repeated_names_kept_once),
        cmocka_unit_test(test_self_drops_less_preferred),
        cmocka_unit_test(test_self_listed_twice),
        cmocka_unit_test(test_loop),
        cmocka_unit_test(test_host_is_self),
        cmocka_unit_test(test_addr_is_self),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
