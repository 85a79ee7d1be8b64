/*
 * test_conf_reload: what a reload of `postino serve` needs from mail/conf:
 * the reference count of a reloadable conf (conf_new, conf_hold,
 * conf_release: the last release frees, a conf_load'd conf is not
 * counted), conf_new's FILE:LINE error, and conf_keep_restart_keys: the
 * keys only a restart applies keep their running values and are named,
 * every other change stays. The shared fixtures are in conf_fixture.h.
 */
#include "conf_fixture.h"
#include <stdlib.h>
#include "mail/conf_keys.h"

static const char running_conf[] =
    "data_dir /var/lib/postino\n"
    "listen smtp 127.0.0.1:25\n"
    "dns_servers 127.0.0.1\n"
    "max_connections 100\n"
    "max_recipients 10\n"
    "run_as postino\n"
    "log_file syslog\n";

static const char changed_conf[] =
    "data_dir /srv/mail\n"
    "listen smtp 127.0.0.1:2525\n"
    "listen pop3 127.0.0.1:110\n"
    "dns_servers 10.0.0.1 10.0.0.2\n"
    "max_connections 200\n"
    "max_recipients 20\n"
    "run_as mailer\n"
    "log_file /var/log/postino.log\n";

static void test_refcount(void **state)
{
    (void)state;
    struct buf err;
    buf_init(&err, 4096);
    write_file("postino.conf", running_conf);
    struct conf *c = conf_new(conf_path, &err);
    assert_non_null(c);
    assert_ptr_equal(conf_hold(c), c);
    assert_ptr_equal(conf_hold(c), c);
    conf_release(c);
    conf_release(c);
    assert_string_equal(c->data_dir, "/var/lib/postino"); /* one reference left */
    conf_release(c); /* the last: freed (the sanitizer build sees a leak or a double free) */
    conf_release(NULL);
    assert_null(conf_hold(NULL));
    struct conf plain;
    load_ok(running_conf, &plain);
    conf_release(conf_hold(&plain)); /* not counted: nothing happens */
    assert_string_equal(plain.data_dir, "/var/lib/postino");
    conf_free(&plain);
    buf_free(&err);
}

/* Every key, with the users and aliases files: loaded and counted as conf_load does. */
static void test_new_full(void **state)
{
    (void)state;
    struct buf err;
    buf_init(&err, 4096);
    write_tables();
    write_file("postino.conf", full_conf);
    struct conf *c = conf_new(conf_path, &err);
    if (!c)
        fail_msg("%s", buf_cstr(&err));
    assert_non_null(c->users);
    assert_non_null(c->aliases);
    assert_string_equal(c->path, conf_path);
    conf_release(c);
    buf_free(&err);
}

static void test_new_error(void **state)
{
    (void)state;
    struct buf err;
    char where[PATH_MAX + 8];
    buf_init(&err, 4096);
    write_file("postino.conf", "hostname mx.example.org\nmax_recipients lots\n");
    assert_null(conf_new(conf_path, &err));
    str_fmt(where, sizeof where, "%s:2: ", conf_path);
    assert_true(strncmp(buf_cstr(&err), where, strlen(where)) == 0);
    buf_free(&err);
}

static void test_keep_restart_keys(void **state)
{
    (void)state;
    struct conf running, c, want;
    char changed[256];
    load_ok(running_conf, &running);
    load_ok(changed_conf, &c);
    conf_keep_restart_keys(&c, &running, changed, sizeof changed);
    assert_string_equal(changed, "data_dir, listen, dns_servers, max_connections, run_as, "
                                 "log_file");
    /* the running values, except max_recipients, which a reload applies */
    load_ok("data_dir /var/lib/postino\nlisten smtp 127.0.0.1:25\ndns_servers 127.0.0.1\n"
            "max_connections 100\nmax_recipients 20\nrun_as postino\nlog_file syslog\n",
            &want);
    char *a = print_body(&c), *b = print_body(&want);
    assert_string_equal(a, b);
    free(a);
    free(b);
    conf_keep_restart_keys(&c, &running, changed, sizeof changed);
    assert_string_equal(changed, ""); /* nothing left to keep */
    conf_keep_restart_keys(&c, &running, changed, 10); /* a short buffer still ends */
    conf_free(&want);
    conf_free(&c);
    load_ok(changed_conf, &c);
    conf_keep_restart_keys(&c, &running, changed, 12);
    assert_string_equal(changed, "data_dir, l");
    conf_free(&c);
    conf_free(&running);
}

/* conf_keep_restart_keys copies values of these kinds only. */
static void test_restart_key_kinds(void **state)
{
    (void)state;
    size_t n = 0;
    for (size_t i = 0; i < conf_keys_count; i++) {
        const struct conf_key *k = &conf_keys[i];
        if (!k->restart)
            continue;
        n++;
        assert_true(k->kind == CONF_KIND_PATH || k->kind == CONF_KIND_HOSTNAME ||
                    k->kind == CONF_KIND_USER || k->kind == CONF_KIND_LOGFILE ||
                    k->kind == CONF_KIND_CHOICE || k->kind == CONF_KIND_COUNT ||
                    k->kind == CONF_KIND_LISTEN || k->kind == CONF_KIND_RESOLVERS);
    }
    assert_int_equal(n, 6);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        TEST(test_refcount),
        TEST(test_new_full),
        TEST(test_new_error),
        TEST(test_keep_restart_keys),
        TEST(test_restart_key_kinds),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
