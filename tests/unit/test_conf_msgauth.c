/*
 * test_conf_msgauth: the authentication and tracking keys of postino.conf:
 * dkim_sign (domain as a lower-case A-label, selector syntax, one key a
 * domain, the key file joined to the config folder, printed without the
 * key), auth_checks, dmarc_reject, reject_unmatched_dsn (on|off) and
 * track_retention (a duration).
 */
#include "conf_fixture.h"

static void test_msgauth_defaults(void **state)
{
    (void)state;
    struct conf c;
    write_tables(); /* the full config sets every older key: these keep their defaults */
    load_ok(full_conf, &c);
    assert_int_equal(c.n_dkim_keys, 0);
    assert_true(conf_is_on(c.auth_checks));
    assert_false(conf_is_on(c.dmarc_reject));
    assert_false(conf_is_on(c.reject_unmatched_dsn));
    assert_int_equal(c.track_retention_ms, 30LL * 24 * 3600 * 1000);
    conf_free(&c);
}

static void test_dkim_sign_lines(void **state)
{
    (void)state;
    struct conf c;
    char want[PATH_MAX + 64];
    load_ok("dkim_sign Example.ORG mail2026 keys/example.key\n"
            "dkim_sign bücher.example s1.sub /etc/postino/b.key\n"
            "auth_checks off\ndmarc_reject on\nreject_unmatched_dsn on\ntrack_retention 7d\n",
            &c);
    assert_int_equal(c.n_dkim_keys, 2);
    assert_string_equal(c.dkim_keys[0].domain, "example.org");
    assert_string_equal(c.dkim_keys[0].selector, "mail2026");
    str_fmt(want, sizeof want, "%s/keys/example.key", tmpdir);
    assert_string_equal(c.dkim_keys[0].key_file, want);
    assert_int_equal(c.dkim_keys[0].line, 1);
    assert_string_equal(c.dkim_keys[1].domain, "xn--bcher-kva.example");
    assert_string_equal(c.dkim_keys[1].key_file, "/etc/postino/b.key");
    assert_false(conf_is_on(c.auth_checks));
    assert_true(conf_is_on(c.dmarc_reject));
    assert_true(conf_is_on(c.reject_unmatched_dsn));
    assert_int_equal(c.track_retention_ms, 7LL * 24 * 3600 * 1000);
    char *text = print_body(&c);
    str_fmt(want, sizeof want, "dkim_sign example.org mail2026 %s/keys/example.key\n"
            "dkim_sign xn--bcher-kva.example s1.sub /etc/postino/b.key\n", tmpdir);
    assert_non_null(strstr(text, want));
    assert_non_null(strstr(text, "auth_checks off\ndmarc_reject on\ntrack_retention 7d\n"
                                 "reject_unmatched_dsn on\n"));
    free(text);
    conf_free(&c);
}

static void test_msgauth_invalid(void **state)
{
    (void)state;
    load_fails("dkim_sign example.org sel\n", 1, "dkim_sign: missing value");
    load_fails("dkim_sign example.org sel k x\n", 1, "too many values");
    load_fails("\ndkim_sign bad..domain sel k\n", 2, "invalid domain");
    load_fails("dkim_sign example.org se/l k\n", 1, "invalid selector");
    load_fails("dkim_sign example.org .sel k\n", 1, "invalid selector");
    load_fails("dkim_sign example.org sel. k\n", 1, "invalid selector");
    load_fails("dkim_sign example.org a k\ndkim_sign EXAMPLE.org b k\n", 2, "already has a key");
    load_fails("auth_checks yes\n", 1, "is not one of on|off");
    load_fails("dmarc_reject ON\n", 1, "is not one of on|off");
    load_fails("reject_unmatched_dsn\n", 1, "missing value");
    load_fails("track_retention 0\n", 1, "track_retention");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        TEST(test_msgauth_defaults),
        TEST(test_dkim_sign_lines),
        TEST(test_msgauth_invalid),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
