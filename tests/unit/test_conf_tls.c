/*
 * test_conf_tls: the outbound security keys of postino.conf: tls_policy
 * (parsing, a later line winning, the lookup by recipient domain and the
 * next hop key that keeps policies apart), relay_auth (parsing, the
 * password file read by the full load only, its checks, the host matching
 * rule) and tls_ca_file (must be readable). The password never appears in
 * an error or in `postino check`.
 */
#include "conf_fixture.h"
#include "mail/route.h"

/* A config error never shows the password. */
static void load_fails_tls(const char *text, unsigned line, const char *substr)
{
    load_fails_hiding(text, line, substr, "Hunter2-secret");
}

static void test_tls_policy_default(void **state)
{
    (void)state;
    struct conf c;
    write_tables(); /* the full config's files: with it, the keys below keep their defaults */
    load_ok(full_conf, &c);
    assert_int_equal(c.n_tls_policies, 1);
    assert_string_equal(c.tls_policies[0].domain, "*");
    assert_int_equal(conf_tls_policy(&c, "example.com"), TLS_POLICY_MAY);
    assert_null(c.tls_ca_file);
    assert_int_equal(c.n_relay_auths, 0);
    conf_free(&c);
}

static void test_tls_policy_lines(void **state)
{
    (void)state;
    struct conf c;
    load_ok("tls_policy Bank.Example verify\n"
            "tls_policy * encrypt\n"
            "tls_policy old.example none\n"
            "tls_policy bank.example encrypt\n" /* a later line for a domain wins */
            "tls_policy partner.example may\n",
            &c);
    assert_int_equal(c.n_tls_policies, 4);
    assert_int_equal(conf_tls_policy(&c, "bank.example"), TLS_POLICY_ENCRYPT);
    assert_int_equal(conf_tls_policy(&c, "OLD.example"), TLS_POLICY_NONE);
    assert_int_equal(conf_tls_policy(&c, "partner.example"), TLS_POLICY_MAY);
    assert_int_equal(conf_tls_policy(&c, "other.example"), TLS_POLICY_ENCRYPT);
    /* exact domains only: a subdomain takes "*" */
    assert_int_equal(conf_tls_policy(&c, "sub.old.example"), TLS_POLICY_ENCRYPT);
    char *text = print_body(&c);
    assert_non_null(strstr(text, "tls_policy * encrypt\ntls_policy bank.example encrypt\n"
                                 "tls_policy old.example none\ntls_policy partner.example may\n"));
    free(text);
    conf_free(&c);
    assert_string_equal(conf_tls_policy_name(TLS_POLICY_VERIFY), "verify");
    assert_string_equal(conf_tls_policy_name(TLS_POLICY_NONE), "none");
}

static void test_tls_policy_invalid(void **state)
{
    (void)state;
    load_fails_tls("\ntls_policy example.com\n", 2, "tls_policy: missing value");
    load_fails_tls("tls_policy example.com may x\n", 1, "too many values");
    load_fails_tls("tls_policy example.com maybe\n", 1, "is not one of none|may|encrypt|verify");
    load_fails_tls("tls_policy example.com VERIFY\n", 1, "is not one of");
    load_fails_tls("tls_policy bad..domain may\n", 1, "invalid domain");
    load_fails_tls("tls_policy *.example.com may\n", 1, "invalid domain");
}

/* The next hop carries the domain's policy, and the key keeps policies apart. */
static void test_route_key_policy(void **state)
{
    (void)state;
    struct conf c;
    struct route_hop a, b, m;
    char ka[300], kb[300];
    load_ok("relayhost [smtp.provider.example]:587\ntls_policy secure.example verify\n", &c);
    route_next_hop(&c, "Secure.Example", &a);
    route_next_hop(&c, "other.example", &b);
    assert_int_equal(a.tls, TLS_POLICY_VERIFY);
    assert_int_equal(b.tls, TLS_POLICY_MAY);
    assert_int_equal(a.relay, 1);
    route_hop_key(&a, ka, sizeof ka);
    route_hop_key(&b, kb, sizeof kb);
    assert_string_equal(ka, "smtp.provider.example:587:a:verify");
    assert_string_equal(kb, "smtp.provider.example:587:a:may");
    conf_free(&c);
    load_ok("", &c);
    route_next_hop(&c, "example.net", &m);
    assert_int_equal(m.relay, 0);
    route_hop_key(&m, ka, sizeof ka);
    assert_string_equal(ka, "example.net:25:mx:may");
    conf_free(&c);
}

static void test_relay_auth_loaded(void **state)
{
    (void)state;
    struct conf c;
    char p[PATH_MAX];
    write_file("relay.pw", "Hunter2-secret\r\nignored second line\n");
    write_file("other.pw", "pw two");
    load_ok("smtp_port 2525\n"
            "relay_auth [smtp.Provider.example]:587 me@example.org relay.pw\n"
            "relay_auth mx.partner.example user2 other.pw\n",
            &c);
    assert_int_equal(c.n_relay_auths, 2);
    assert_string_equal(c.relay_auths[0].user, "me@example.org");
    assert_string_equal(c.relay_auths[0].password, "Hunter2-secret");
    assert_string_equal(c.relay_auths[1].password, "pw two");
    str_fmt(p, sizeof p, "%s/relay.pw", tmpdir);
    assert_string_equal(c.relay_auths[0].password_file, p);
    /* the matching rule: the host (any case), its brackets and its port (default smtp_port) */
    assert_ptr_equal(conf_find_relay_auth(&c, "smtp.provider.example", 587, 1), &c.relay_auths[0]);
    assert_null(conf_find_relay_auth(&c, "smtp.provider.example", 587, 0));
    assert_null(conf_find_relay_auth(&c, "smtp.provider.example", 25, 1));
    assert_ptr_equal(conf_find_relay_auth(&c, "MX.partner.example", 2525, 0), &c.relay_auths[1]);
    assert_ptr_equal(conf_find_relay_auth(&c, "mx.partner.example", 0, 0), &c.relay_auths[1]);
    assert_null(conf_find_relay_auth(&c, "mx.partner.example", 25, 0));
    char *text = print_body(&c);
    assert_null(strstr(text, "Hunter2"));
    assert_non_null(strstr(text, "relay_auth [smtp.Provider.example]:587 me@example.org "));
    free(text);
    conf_free(&c);
}

/* sendmail and queue (the settings-only load) never read the password file. */
static void test_relay_auth_settings_only(void **state)
{
    (void)state;
    struct conf c;
    struct buf err;
    buf_init(&err, 4096);
    write_file("postino.conf", "relay_auth [h.example] u missing.pw\n");
    assert_int_equal(conf_load_settings(conf_path, &c, &err), 0);
    assert_null(c.relay_auths[0].password);
    conf_free(&c);
    assert_int_equal(conf_load(conf_path, &c, &err), -1);
    assert_non_null(strstr(buf_cstr(&err), "missing.pw: cannot open"));
    buf_free(&err);
}

static void test_relay_auth_invalid(void **state)
{
    (void)state;
    char longpw[1100], conf[256];
    write_file("relay.pw", "Hunter2-secret\n");
    load_fails_tls("relay_auth h.example u\n", 1, "relay_auth: missing value");
    load_fails_tls("relay_auth h.example u relay.pw x\n", 1, "too many values");
    load_fails_tls("relay_auth [h.example u relay.pw\n", 1, "invalid HOST[:PORT]");
    load_fails_tls("relay_auth h.example:25 u relay.pw\nrelay_auth H.example:25 v relay.pw\n", 2,
               "already given credentials");
    write_file("empty.pw", "\nHunter2-secret\n");
    load_fails_tls("relay_auth h.example u empty.pw\n", 0, "the first line must hold the password");
    memset(longpw, 'x', sizeof longpw - 2);
    longpw[sizeof longpw - 2] = '\n';
    longpw[sizeof longpw - 1] = '\0';
    write_file("long.pw", longpw);
    load_fails_tls("relay_auth h.example u long.pw\n", 0, "1 to 1024 bytes");
    str_fmt(conf, sizeof conf, "relay_auth h.example u %s/nope.pw\n", tmpdir);
    load_fails_tls(conf, 0, "nope.pw: cannot open");
    load_fails_tls("\ntls_ca_file no-ca.pem\n", 2, "cannot read");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        TEST(test_tls_policy_default),
        TEST(test_tls_policy_lines),
        TEST(test_tls_policy_invalid),
        TEST(test_route_key_policy),
        TEST(test_relay_auth_loaded),
        TEST(test_relay_auth_settings_only),
        TEST(test_relay_auth_invalid),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
