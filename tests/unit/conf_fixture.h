/*
 * conf_fixture: what test_conf.c and test_conf_print.c share: a temporary
 * folder per test (testutil) holding postino.conf at conf_path, writing and
 * loading a config text, and full_conf, a config that sets every key, with
 * the users, aliases and certificate files it names (write_tables).
 */
#ifndef POSTINO_CONF_FIXTURE_H
#define POSTINO_CONF_FIXTURE_H
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "lib/buf.h"
#include "lib/str.h"
#include "mail/conf.h"
#include "testutil.h"

TESTUTIL_TMPDIR_FIXTURES("conf")
static char conf_path[PATH_MAX];

static void write_file(const char *name, const char *text)
{
    char p[PATH_MAX];
    assert_int_equal(str_fmt(p, sizeof p, "%s/%s", tmpdir, name), 0);
    FILE *f = fopen(p, "w");
    assert_non_null(f);
    fputs(text, f);
    assert_int_equal(fclose(f), 0);
}

/* Writes text as postino.conf and loads it. */
static int load(const char *text, struct conf *c, struct buf *err)
{
    write_file("postino.conf", text);
    return conf_load(conf_path, c, err);
}

static void load_ok(const char *text, struct conf *c)
{
    struct buf err;
    buf_init(&err, 4096);
    int r = load(text, c, &err);
    if (r != 0)
        fail_msg("unexpected error: %s", buf_cstr(&err));
    buf_free(&err);
}

/* A fresh folder per test (tmpdir) with conf_path the config file in it. */
static int setup_conf(void **state)
{
    if (setup(state) < 0)
        return -1;
    return str_fmt(conf_path, sizeof conf_path, "%s/postino.conf", tmpdir);
}

static const char full_conf[] =
    "# every key\n"
    "hostname mx.Example.org\n"
    "data_dir /var/lib/postino\n"
    "listen smtp 0.0.0.0:25   # public MX\n"
    "listen submission [::1]:587\n"
    "listen smtps 127.0.0.1:465\n"
    "listen pop3 [::]:110\n"
    "listen pop3s 127.0.0.1:995\n"
    "local_domains Example.ORG mail.example.org\n"
    "users users.txt\n"
    "aliases aliases.txt\n"
    "relay_networks 10.1.2.3/8 2001:db8::/32 192.168.1.5\n"
    "relayhost [smarthost.example.net]:2525\n"
    "relay_domains Backup.example.com\n"
    "route inner.example.com [10.0.0.2]:25\n"
    "route Other.example.com relay.example.com\n"
    "dns_servers 8.8.8.8 [2001:4860:4860::8888]:5353 ::1 127.0.0.1:53\n"
    "smtp_port 2525\n"
    "tls_cert cert.pem\n"
    "tls_key /dev/null\n"
    "max_message_size 10M\n"
    "max_recipients 200\n"
    "retry_min 30s\n"
    "retry_max 2h\n"
    "delay_warning 0\n"
    "queue_lifetime 3d\n"
    "timeout_greeting 1m\n"
    "timeout_mail 2m\n"
    "timeout_rcpt 3m\n"
    "timeout_data_init 4m\n"
    "timeout_data_block 5m\n"
    "timeout_data_end 6m\n"
    "timeout_server 500ms\n"
    "timeout_pop3 7m\n"
    "max_connections 10\n"
    "max_connections_per_ip 2\n"
    "max_hops 30\n"
    "dsn_return_limit 0\n"
    "run_as postino\n"
    "log_file log/postino.log\n";

static void write_tables(void)
{
    write_file("users.txt", "alice@example.org:{PLAIN}secret\nbob@example.org:{PLAIN}pw\n");
    write_file("aliases.txt", "postmaster@example.org: alice@example.org\n");
    write_file("cert.pem", "not really a certificate\n");
}

/* Loading text must fail with "CONF:line: ...substr..." (line 0: substr anywhere), and
 * the error never holds secret (may be NULL). */
static inline void load_fails_hiding(const char *text, unsigned line, const char *substr,
                                     const char *secret)
{
    struct conf c;
    struct buf err;
    char prefix[PATH_MAX + 32];
    buf_init(&err, 4096);
    assert_int_equal(load(text, &c, &err), -1);
    if (line)
        str_fmt(prefix, sizeof prefix, "%s:%u: ", conf_path, line);
    else
        prefix[0] = '\0';
    const char *e = buf_cstr(&err);
    if (strncmp(e, prefix, strlen(prefix)) != 0 || !strstr(e, substr))
        fail_msg("config:\n%s\nwanted \"%s...%s\", got \"%s\"", text, prefix, substr, e);
    if (secret)
        assert_null(strstr(e, secret));
    buf_free(&err);
    conf_free(&c); /* harmless after a failed load */
}

static inline void load_fails(const char *text, unsigned line, const char *substr)
{
    load_fails_hiding(text, line, substr, NULL);
}

/* Prints c into a malloc'd string without its first (path) line. */
static inline char *print_body(const struct conf *c)
{
    char *text = NULL;
    size_t n = 0;
    FILE *f = open_memstream(&text, &n);
    assert_non_null(f);
    conf_print(c, f);
    fclose(f);
    char *body = strdup(strchr(text, '\n') + 1);
    free(text);
    return body;
}

/* A test in its own temporary folder. */
#define TEST(f) cmocka_unit_test_setup_teardown(f, setup_conf, teardown)

#endif
