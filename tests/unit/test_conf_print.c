/*
 * test_conf_print: the config as postino prints it (conf_print, mail/conf):
 * round trips (what is printed loads back to the same text), the defaults,
 * golden texts byte for byte for the defaults and for a config that sets
 * every key, and `postino check` (cmd_check) with -c, $POSTINO_CONFIG,
 * --help and a bad config. Fixtures shared with test_conf.c: conf_fixture.h.
 * Each test has its own temporary folder (testutil), removed afterwards.
 */
#define _XOPEN_SOURCE 700
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "cmd/cmd.h"
#include "conf_fixture.h"

static void test_print_round_trip(void **state)
{
    (void)state;
    struct conf c, again;
    write_tables();
    load_ok(full_conf, &c);
    char *first = print_body(&c);
    assert_non_null(strstr(first, "\nlisten submission [::1]:587\n"));
    assert_non_null(strstr(first, "\nlisten pop3 [::]:110\n"));
    assert_non_null(strstr(first, "\nrelay_networks 10.0.0.0/8 2001:db8::/32 192.168.1.5/32\n"));
    assert_non_null(strstr(first, "\nrelayhost [smarthost.example.net]:2525\n"));
    assert_non_null(strstr(first, "\nroute other.example.com relay.example.com\n"));
    assert_non_null(strstr(first, "\ndns_servers 8.8.8.8 [2001:4860:4860::8888]:5353 [::1] "
                                  "127.0.0.1:53\n"));
    assert_non_null(strstr(first, "\nmax_message_size 10M\n"));
    assert_non_null(strstr(first, "\ndelay_warning 0\n"));
    assert_non_null(strstr(first, "\ntimeout_server 500ms\n"));
    assert_non_null(strstr(first, "\n# 2 users\n"));
    assert_non_null(strstr(first, "\n# 1 aliases\n"));
    assert_non_null(strstr(first, "\ndsn_return_limit 0\n"));
    conf_free(&c);
    load_ok(first, &again);
    char *second = print_body(&again);
    assert_string_equal(first, second);
    conf_free(&again);
    free(first);
    free(second);
}

static void test_print_defaults(void **state)
{
    (void)state;
    struct conf c;
    struct buf err;
    buf_init(&err, 64);
    assert_int_equal(conf_load(NULL, &c, &err), 0);
    char *body = print_body(&c);
    static const char *const lines[] = {
        "listen smtp 127.0.0.1:2525\nlisten submission 127.0.0.1:2587\n"
        "listen pop3 127.0.0.1:2110\n",
        "\nlocal_domains localhost\n# users none\n# aliases none\n",
        "\nrelay_networks 127.0.0.0/8 ::1/128\n# relayhost none\n# relay_domains none\n",
        "\n# dns_servers from /etc/resolv.conf\nsmtp_port 25\n# tls_cert none\n# tls_key none\n",
        "\nmax_message_size 25M\nmax_recipients 1000\nretry_min 5m\nretry_max 1h\n",
        "\ndelay_warning 4h\nqueue_lifetime 5d\ntimeout_greeting 5m\ntimeout_mail 5m\n",
        "\ntimeout_data_init 2m\ntimeout_data_block 3m\ntimeout_data_end 10m\ntimeout_server 5m\n",
        "\ntimeout_pop3 10m\nmax_connections 1000\nmax_connections_per_ip 50\nmax_hops 50\n",
        "\ndsn_return_limit 50K\nrun_as postino\n# log_file stderr\n"};
    for (size_t i = 0; i < sizeof lines / sizeof lines[0]; i++)
        if (!strstr(body, lines[i]))
            fail_msg("missing \"%s\" in:\n%s", lines[i], body);
    free(body);
    conf_free(&c);
    assert_string_equal(conf_listen_kind_name(LISTEN_POP3S), "pop3s");
}

/* Replaces every occurrence of from in *text with to (from not empty). */
static void replace_all(char **text, const char *from, const char *to)
{
    struct buf out;
    buf_init(&out, BUF_UNLIMITED);
    const char *p = *text, *hit;
    while ((hit = strstr(p, from))) {
        buf_append(&out, p, (size_t)(hit - p));
        buf_appends(&out, to);
        p = hit + strlen(from);
    }
    buf_appends(&out, p);
    free(*text);
    *text = strdup(buf_cstr(&out));
    buf_free(&out);
}

/* The exact `postino check` text of the defaults (cwd and host name masked). */
static const char golden_defaults[] =
    "# postino configuration: built-in defaults\n"
    "hostname HOST\n"
    "data_dir CWD/postino-data\n"
    "listen smtp 127.0.0.1:2525\n"
    "listen submission 127.0.0.1:2587\n"
    "listen pop3 127.0.0.1:2110\n"
    "local_domains localhost\n"
    "# users none\n"
    "# aliases none\n"
    "relay_networks 127.0.0.0/8 ::1/128\n"
    "# relayhost none\n"
    "# relay_domains none\n"
    "# dns_servers from /etc/resolv.conf\n"
    "smtp_port 25\n"
    "# tls_cert none\n"
    "# tls_key none\n"
    "max_message_size 25M\n"
    "max_recipients 1000\n"
    "retry_min 5m\n"
    "retry_max 1h\n"
    "delay_warning 4h\n"
    "queue_lifetime 5d\n"
    "timeout_greeting 5m\n"
    "timeout_mail 5m\n"
    "timeout_rcpt 5m\n"
    "timeout_data_init 2m\n"
    "timeout_data_block 3m\n"
    "timeout_data_end 10m\n"
    "timeout_server 5m\n"
    "timeout_pop3 10m\n"
    "max_connections 1000\n"
    "max_connections_per_ip 50\n"
    "max_hops 50\n"
    "dsn_return_limit 50K\n"
    "run_as postino\n"
    "# log_file stderr\n"
    "log_format text\n"
    "# relay_auth none\n"
    "tls_policy * may\n"
    "# tls_ca_file the system CA store\n"
    "# dkim_sign none\n"
    "auth_checks on\n"
    "dmarc_reject off\n"
    "track_retention 30d\n"
    "reject_unmatched_dsn off\n"
    "timeout_web 30m\n";

/* The exact `postino check` text of full_conf (the fixture folder masked). */
static const char golden_full[] =
    "# postino configuration: TMP/postino.conf\n"
    "hostname mx.Example.org\n"
    "data_dir /var/lib/postino\n"
    "listen smtp 0.0.0.0:25\n"
    "listen submission [::1]:587\n"
    "listen smtps 127.0.0.1:465\n"
    "listen pop3 [::]:110\n"
    "listen pop3s 127.0.0.1:995\n"
    "local_domains example.org mail.example.org\n"
    "users TMP/users.txt\n"
    "# 2 users\n"
    "aliases TMP/aliases.txt\n"
    "# 1 aliases\n"
    "relay_networks 10.0.0.0/8 2001:db8::/32 192.168.1.5/32\n"
    "relayhost [smarthost.example.net]:2525\n"
    "relay_domains backup.example.com\n"
    "route inner.example.com [10.0.0.2]:25\n"
    "route other.example.com relay.example.com\n"
    "dns_servers 8.8.8.8 [2001:4860:4860::8888]:5353 [::1] 127.0.0.1:53\n"
    "smtp_port 2525\n"
    "tls_cert TMP/cert.pem\n"
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
    "log_file TMP/log/postino.log\n"
    "log_format text\n"
    "# relay_auth none\n"
    "tls_policy * may\n"
    "# tls_ca_file the system CA store\n"
    "# dkim_sign none\n"
    "auth_checks on\n"
    "dmarc_reject off\n"
    "track_retention 30d\n"
    "reject_unmatched_dsn off\n"
    "timeout_web 30m\n";

/* conf_print of a loaded config with the fixture folder, cwd and host masked. */
static char *print_masked(const struct conf *c)
{
    char *text = NULL, cwd[PATH_MAX], host[300];
    size_t n = 0;
    FILE *f = open_memstream(&text, &n);
    assert_non_null(f);
    conf_print(c, f);
    fclose(f);
    replace_all(&text, tmpdir, "TMP");
    assert_non_null(getcwd(cwd, sizeof cwd));
    replace_all(&text, cwd, "CWD");
    str_fmt(host, sizeof host, "\nhostname %s\n", c->hostname);
    if (c->path == NULL)
        replace_all(&text, host, "\nhostname HOST\n");
    return text;
}

/* conf_print output stays byte for byte what it was, for the defaults and every key. */
static void test_print_golden(void **state)
{
    (void)state;
    struct conf c;
    struct buf err;
    buf_init(&err, 64);
    assert_int_equal(conf_load(NULL, &c, &err), 0);
    char *text = print_masked(&c);
    assert_string_equal(text, golden_defaults);
    free(text);
    conf_free(&c);
    write_tables();
    load_ok(full_conf, &c);
    text = print_masked(&c);
    assert_string_equal(text, golden_full);
    free(text);
    conf_free(&c);
    buf_free(&err);
}

/* cmd_check with stdout and stderr sent to /dev/null. */
static int run_check_quietly(int argc, char **argv)
{
    fflush(stdout);
    fflush(stderr);
    int out = dup(1), errfd = dup(2), null = open("/dev/null", O_WRONLY);
    assert_true(out >= 0 && errfd >= 0 && null >= 0);
    dup2(null, 1);
    dup2(null, 2);
    int r = cmd_check(argc, argv);
    fflush(stdout);
    fflush(stderr);
    dup2(out, 1);
    dup2(errfd, 2);
    close(out);
    close(errfd);
    close(null);
    return r;
}

static void test_cmd_load_conf(void **state)
{
    (void)state;
    struct conf c;
    char other[PATH_MAX], missing[PATH_MAX];
    str_fmt(other, sizeof other, "%s/other.conf", tmpdir);
    str_fmt(missing, sizeof missing, "%s/missing.conf", tmpdir);
    write_file("postino.conf", "smtp_port 2600\n");
    write_file("other.conf", "smtp_port 2700\n");
    assert_int_equal(setenv("POSTINO_CONFIG", conf_path, 1), 0);
    assert_int_equal(cmd_load_conf(NULL, &c), 0);
    assert_int_equal(c.smtp_port, 2600);
    conf_free(&c);
    assert_int_equal(cmd_load_conf(other, &c), 0); /* -c wins over the environment */
    assert_int_equal(c.smtp_port, 2700);
    conf_free(&c);
    char *ok_argv[] = {"check", "-c", other, NULL};
    assert_int_equal(run_check_quietly(3, ok_argv), 0);
    char *env_argv[] = {"check", NULL};
    assert_int_equal(run_check_quietly(1, env_argv), 0);
    char *help_argv[] = {"check", "--help", NULL};
    assert_int_equal(run_check_quietly(2, help_argv), 0);
    char *bad_argv[] = {"check", "-c", missing, NULL};
    assert_int_equal(run_check_quietly(3, bad_argv), EXIT_CONFIG_ERROR);
    char *usage_argv[] = {"check", "-c", NULL};
    assert_true(run_check_quietly(2, usage_argv) != 0);
    assert_int_equal(setenv("POSTINO_CONFIG", missing, 1), 0);
    assert_int_equal(run_check_quietly(1, env_argv), EXIT_CONFIG_ERROR);
    write_file("postino.conf", "smtp_port 0\n");
    assert_int_equal(setenv("POSTINO_CONFIG", conf_path, 1), 0);
    assert_int_equal(run_check_quietly(1, env_argv), EXIT_CONFIG_ERROR);
    assert_int_equal(unsetenv("POSTINO_CONFIG"), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        TEST(test_print_round_trip),
        TEST(test_print_defaults),
        TEST(test_print_golden),
        TEST(test_cmd_load_conf),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
