/*
 * test_conf: the config parser (mail/conf): built-in defaults, every key with
 * a valid and invalid value, "FILE:LINE: message" with the right line, listen
 * replacement, repeated keys, relative paths, cross-key checks, users and
 * aliases files loaded through the config, CIDR matching for IPv4, IPv6 and
 * IPv4-mapped clients and HOST[:PORT] forms. conf_print and `postino check`
 * are in test_conf_print.c; the shared fixtures in conf_fixture.h.
 * Each test has its own temporary folder (testutil), removed afterwards.
 */
#define _XOPEN_SOURCE 700
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <arpa/inet.h>
#include <ftw.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <sched.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include "cmd/cmd.h"
#include "lib/buf.h"
#include "lib/str.h"
#include "testutil.h"
#include "mail/alias.h"
#include "mail/auth.h"
#include "mail/conf.h"
#include "conf_fixture.h"

/*
 * A machine name the hostname key refuses is no default: localhost instead.
 * The child sets such a name in a UTS namespace of its own (root only;
 * skipped elsewhere); it exits 0 if the default is localhost, 1 if not, 2
 * without a namespace.
 */
static void test_default_hostname_invalid(void **state)
{
    (void)state;
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        if (unshare(CLONE_NEWUTS) < 0 || sethostname("build_42", 8) < 0)
            _exit(2);
        struct conf c;
        conf_defaults(&c);
        int ok = strcmp(c.hostname, "localhost") == 0;
        conf_free(&c);
        _exit(ok ? 0 : 1);
    }
    int st = 0;
    assert_int_equal(waitpid(pid, &st, 0), pid);
    assert_true(WIFEXITED(st));
    if (WEXITSTATUS(st) == 2) {
        print_message("skipped: no UTS namespace (needs root)\n");
        skip();
    }
    assert_int_equal(WEXITSTATUS(st), 0);
}

static void test_defaults(void **state)
{
    (void)state;
    struct conf c;
    struct buf err;
    buf_init(&err, 4096);
    assert_int_equal(conf_load(NULL, &c, &err), 0);
    assert_null(c.path);
    assert_true(strlen(c.hostname) > 0);
    assert_int_equal(c.data_dir[0], '/');
    assert_non_null(strstr(c.data_dir, "/postino-data"));
    assert_int_equal(c.n_listens, 3);
    assert_int_equal(c.listens[0].kind, LISTEN_SMTP);
    assert_string_equal(c.listens[0].addr, "127.0.0.1");
    assert_int_equal(c.listens[0].port, 2525);
    assert_int_equal(c.listens[1].kind, LISTEN_SUBMISSION);
    assert_int_equal(c.listens[1].port, 2587);
    assert_int_equal(c.listens[2].kind, LISTEN_POP3);
    assert_int_equal(c.listens[2].port, 2110);
    assert_int_equal(c.n_local_domains, 1);
    assert_string_equal(c.local_domains[0], "localhost");
    assert_int_equal(c.n_relay_networks, 2);
    assert_null(c.users_file);
    assert_null(c.aliases_file);
    assert_false(c.has_relayhost);
    assert_int_equal(c.n_routes + c.n_relay_domains + c.n_dns_servers, 0);
    assert_int_equal(c.smtp_port, 25);
    assert_null(c.tls_cert);
    assert_int_equal(c.max_message_size, 25 * 1024 * 1024);
    assert_int_equal(c.max_recipients, 1000);
    assert_int_equal(c.retry_min_ms, 300000);
    assert_int_equal(c.retry_max_ms, 3600000);
    assert_int_equal(c.delay_warning_ms, 4 * 3600000);
    assert_int_equal(c.queue_lifetime_ms, 5 * 86400000LL);
    assert_int_equal(c.timeout_greeting_ms, 300000);
    assert_int_equal(c.timeout_mail_ms, 300000);
    assert_int_equal(c.timeout_rcpt_ms, 300000);
    assert_int_equal(c.timeout_data_init_ms, 120000);
    assert_int_equal(c.timeout_data_block_ms, 180000);
    assert_int_equal(c.timeout_data_end_ms, 600000);
    assert_int_equal(c.timeout_server_ms, 300000);
    assert_int_equal(c.timeout_pop3_ms, 600000);
    assert_int_equal(c.max_connections, 1000);
    assert_int_equal(c.max_connections_per_ip, 50);
    assert_int_equal(c.max_hops, 50);
    assert_int_equal(c.dsn_return_limit, 50 * 1024);
    assert_string_equal(c.run_as, "postino");
    assert_null(c.log_file);
    assert_string_equal(c.log_format, "text");
    conf_free(&c);
    buf_free(&err);
}

static void check_full_listens(const struct conf *c)
{
    assert_int_equal(c->n_listens, 5);
    assert_int_equal(c->listens[0].kind, LISTEN_SMTP);
    assert_string_equal(c->listens[0].addr, "0.0.0.0");
    assert_int_equal(c->listens[0].port, 25);
    assert_int_equal(c->listens[1].kind, LISTEN_SUBMISSION);
    assert_string_equal(c->listens[1].addr, "::1");
    assert_int_equal(c->listens[1].port, 587);
    assert_int_equal(c->listens[2].kind, LISTEN_SMTPS);
    assert_int_equal(c->listens[3].kind, LISTEN_POP3);
    assert_string_equal(c->listens[3].addr, "::");
    assert_int_equal(c->listens[4].kind, LISTEN_POP3S);
}

static void check_full_hops(const struct conf *c)
{
    assert_true(c->has_relayhost);
    assert_string_equal(c->relayhost.host, "smarthost.example.net");
    assert_int_equal(c->relayhost.port, 2525);
    assert_true(c->relayhost.no_mx);
    assert_int_equal(c->n_relay_domains, 1);
    assert_string_equal(c->relay_domains[0], "backup.example.com");
    assert_int_equal(c->n_routes, 2);
    assert_string_equal(c->routes[0].hop.host, "10.0.0.2");
    assert_true(c->routes[0].hop.no_mx);
    assert_string_equal(c->routes[1].domain, "other.example.com");
    assert_false(c->routes[1].hop.no_mx);
    assert_int_equal(c->routes[1].hop.port, 0);
    assert_int_equal(c->n_dns_servers, 4);
    assert_string_equal(c->dns_servers[1].host, "2001:4860:4860::8888");
    assert_int_equal(c->dns_servers[1].port, 5353);
    assert_string_equal(c->dns_servers[2].host, "::1");
    assert_int_equal(c->dns_servers[3].port, 53);
}

static void check_full_values(const struct conf *c)
{
    char p[PATH_MAX];
    assert_string_equal(c->hostname, "mx.Example.org");
    assert_string_equal(c->data_dir, "/var/lib/postino");
    assert_int_equal(c->n_local_domains, 2);
    assert_string_equal(c->local_domains[0], "example.org");
    str_fmt(p, sizeof p, "%s/users.txt", tmpdir);
    assert_string_equal(c->users_file, p);
    assert_int_equal(users_count(c->users), 2);
    assert_int_equal(aliases_count(c->aliases), 1);
    assert_int_equal(c->n_relay_networks, 3);
    assert_int_equal(c->relay_networks[2].prefix, 32);
    assert_int_equal(c->smtp_port, 2525);
    str_fmt(p, sizeof p, "%s/cert.pem", tmpdir);
    assert_string_equal(c->tls_cert, p);
    assert_string_equal(c->tls_key, "/dev/null");
    assert_int_equal(c->max_message_size, 10 << 20);
    assert_int_equal(c->max_recipients, 200);
    assert_int_equal(c->retry_min_ms, 30000);
    assert_int_equal(c->retry_max_ms, 7200000);
    assert_int_equal(c->delay_warning_ms, 0);
    assert_int_equal(c->queue_lifetime_ms, 3 * 86400000LL);
    assert_int_equal(c->timeout_greeting_ms + c->timeout_mail_ms + c->timeout_rcpt_ms, 360000);
    assert_int_equal(c->timeout_data_init_ms + c->timeout_data_block_ms, 540000);
    assert_int_equal(c->timeout_data_end_ms, 360000);
    assert_int_equal(c->timeout_server_ms, 500);
    assert_int_equal(c->timeout_pop3_ms, 420000);
    assert_int_equal(c->max_connections, 10);
    assert_int_equal(c->max_connections_per_ip, 2);
    assert_int_equal(c->max_hops, 30);
    assert_int_equal(c->dsn_return_limit, 0);
    assert_string_equal(c->run_as, "postino");
    str_fmt(p, sizeof p, "%s/log/postino.log", tmpdir);
    assert_string_equal(c->log_file, p);
}

static void test_every_key_valid(void **state)
{
    (void)state;
    struct conf c;
    write_tables();
    load_ok(full_conf, &c);
    assert_string_equal(c.path, conf_path);
    check_full_listens(&c);
    check_full_hops(&c);
    check_full_values(&c);
    conf_free(&c);
}

/* Each bad line is put on line 4, after a comment, a blank line and a good key. */
static void test_every_key_invalid(void **state)
{
    (void)state;
    static const struct { const char *line, *msg; } bad[] = {
        {"no_such_key 1", "unknown key \"no_such_key\""},
        {"Hostname x", "unknown key"},
        {"hostname", "hostname: missing value"},
        {"hostname a b", "hostname: too many values"},
        {"hostname bad_host!", "invalid host name"},
        {"hostname -a.example", "invalid host name"},
        {"data_dir", "missing value"},
        {"listen smtp", "listen: missing value"},
        {"listen smtp 127.0.0.1:25 x", "too many values"},
        {"listen imap 127.0.0.1:143", "unknown kind \"imap\""},
        {"listen smtp 127.0.0.1", "invalid ADDR:PORT"},
        {"listen smtp localhost:25", "invalid ADDR:PORT"},
        {"listen smtp ::1:25", "invalid ADDR:PORT"},
        {"listen smtp 127.0.0.1:0", "invalid ADDR:PORT"},
        {"listen smtp 127.0.0.1:65536", "invalid ADDR:PORT"},
        {"listen smtp 127.0.0.1:25x", "invalid ADDR:PORT"},
        {"listen smtp 300.0.0.1:25", "invalid ADDR:PORT"},
        {"local_domains", "local_domains: missing value"},
        {"local_domains a..b", "invalid domain \"a..b\""},
        {"local_domains a.example A.example", "listed twice"},
        {"users", "missing value"},
        {"aliases a b", "too many values"},
        {"relay_networks 10.0.0.0/33", "invalid address or CIDR \"10.0.0.0/33\""},
        {"relay_networks ::/129", "invalid address or CIDR"},
        {"relay_networks 10.0.0.0/", "invalid address or CIDR"},
        {"relay_networks 10.0.0.0/-1", "invalid address or CIDR"},
        {"relay_networks 10.0.0/8", "invalid address or CIDR"},
        {"relay_networks 10.0.0.0/8x", "invalid address or CIDR"},
        {"relay_networks example.com/8", "invalid address or CIDR"},
        {"relayhost [host", "invalid HOST[:PORT]"},
        {"relayhost host:", "invalid HOST[:PORT]"},
        {"relayhost host:99999", "invalid HOST[:PORT]"},
        {"relayhost ::1", "invalid HOST[:PORT]"},
        {"relayhost [x]y", "invalid HOST[:PORT]"},
        {"relay_domains bad/domain", "invalid domain"},
        {"route example.com", "route: missing value"},
        {"route bad..domain host", "invalid domain"},
        {"route example.com host:0", "invalid HOST[:PORT]"},
        {"dns_servers dns.google", "invalid ADDR[:PORT]"},
        {"dns_servers 8.8.8.8:x", "invalid ADDR[:PORT]"},
        {"smtp_port 0", "smtp_port: invalid port"},
        {"smtp_port 65536", "invalid port"},
        {"smtp_port -25", "invalid port"},
        {"smtp_port 25x", "invalid port"},
        {"max_message_size 10X", "max_message_size: invalid size"},
        {"max_message_size 0", "must be greater than 0"},
        {"max_message_size 99999999999999999999", "invalid size"},
        {"max_recipients 0", "invalid number"},
        {"max_recipients ten", "invalid number"},
        {"max_recipients 99999999999999999999999", "invalid number"},
        {"retry_min 5x", "retry_min: invalid duration"},
        {"retry_min 0", "retry_min: must be greater than 0"},
        {"retry_max 1.5h", "invalid duration"},
        {"delay_warning -1", "invalid duration"},
        {"queue_lifetime 0", "must be greater than 0"},
        {"timeout_greeting 0", "must be greater than 0"},
        {"timeout_mail soon", "invalid duration"},
        {"timeout_rcpt 5M", "invalid duration"},
        {"timeout_data_init 99999999999999999999d", "invalid duration"},
        {"timeout_data_block", "missing value"},
        {"timeout_data_end 1 2", "too many values"},
        {"timeout_server 0ms", "must be greater than 0"},
        {"timeout_pop3 x", "invalid duration"},
        {"max_connections 0", "invalid number"},
        {"max_connections_per_ip 1e3", "invalid number"},
        {"max_hops +5", "invalid number"},
        {"dsn_return_limit 50Q", "invalid size"},
        {"run_as bad user", "too many values"},
        {"run_as -root", "invalid user name"},
        {"run_as root", "run_as root: refused"},
        {"log_file", "missing value"},
        {"log_format xml", "\"xml\" is not one of text|json"},
        {"log_format tex", "is not one of"},
        {"log_format text json", "too many values"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char text[512];
        str_fmt(text, sizeof text, "# test\n\nsmtp_port 25\n%s\nsmtp_port 26\n", bad[i].line);
        load_fails(text, 4, bad[i].msg);
    }
}

static void test_line_numbers_and_comments(void **state)
{
    (void)state;
    struct conf c;
    load_fails("smtp_port 1\n\n\n   \n# x\n\t\nsmtp_port 2 # fine\nsmtp_port bad\n", 8,
               "invalid port");
    load_fails("smtp_port 1\r\nsmtp_port 2\r\nbogus\r\n", 3, "unknown key");
    load_ok("smtp_port 1\nsmtp_port 2", &c); /* no final newline */
    assert_int_equal(c.smtp_port, 2);
    conf_free(&c);
    load_ok("#only comments\n   # indented\n\n", &c);
    assert_int_equal(c.smtp_port, 25);
    conf_free(&c);
    load_ok("smtp_port 2526#no space before the comment\n\tmax_hops\t7 \t\n", &c);
    assert_int_equal(c.smtp_port, 2526);
    assert_int_equal(c.max_hops, 7);
    conf_free(&c);
    load_ok("", &c);
    assert_int_equal(c.n_listens, 3);
    conf_free(&c);
}

static void test_nul_byte(void **state)
{
    (void)state;
    struct conf c;
    struct buf err;
    char p[PATH_MAX + 32];
    buf_init(&err, 4096);
    FILE *f = fopen(conf_path, "w");
    assert_non_null(f);
    fwrite("smtp_port 25\nsmtp\0_port 26\n", 1, 27, f);
    fclose(f);
    assert_int_equal(conf_load(conf_path, &c, &err), -1);
    str_fmt(p, sizeof p, "%s:2: NUL byte in line", conf_path);
    assert_string_equal(buf_cstr(&err), p);
    buf_free(&err);
}

static void test_missing_file(void **state)
{
    (void)state;
    struct conf c;
    struct buf err;
    char p[PATH_MAX], want[PATH_MAX + 64];
    buf_init(&err, 4096);
    str_fmt(p, sizeof p, "%s/nope.conf", tmpdir);
    assert_int_equal(conf_load(p, &c, &err), -1);
    str_fmt(want, sizeof want, "%s: cannot open: No such file or directory", p);
    assert_string_equal(buf_cstr(&err), want);
    buf_free(&err);
}

static void test_listen_replacement(void **state)
{
    (void)state;
    struct conf c;
    load_ok("listen pop3 127.0.0.1:10110\n", &c);
    assert_int_equal(c.n_listens, 1);
    assert_int_equal(c.listens[0].kind, LISTEN_POP3);
    assert_int_equal(c.listens[0].port, 10110);
    conf_free(&c);
    load_ok("listen smtp 127.0.0.1:2525\nsmtp_port 25\nlisten smtp [::1]:2525\n"
            "listen submission 127.0.0.1:2587\n", &c);
    assert_int_equal(c.n_listens, 3);
    assert_string_equal(c.listens[1].addr, "::1");
    conf_free(&c);
    load_fails("listen smtp 127.0.0.1:25\nlisten pop3 127.0.0.1:25\n", 2, "already used");
    /* a default listener address may be reused: the defaults are gone */
    load_ok("listen pop3 127.0.0.1:2525\n", &c);
    assert_int_equal(c.n_listens, 1);
    conf_free(&c);
}

static void test_repeated_keys(void **state)
{
    (void)state;
    struct conf c;
    load_ok("local_domains a.example b.example\nlocal_domains C.example\n"
            "relay_networks 10.0.0.0/8\nrelay_networks 192.168.0.0/16\n"
            "dns_servers 1.1.1.1\ndns_servers 9.9.9.9 8.8.8.8\n"
            "hostname one.example\nhostname two.example\n"
            "route a.example [10.0.0.1]\nroute b.example [10.0.0.2]:2525\n", &c);
    assert_int_equal(c.n_local_domains, 1);
    assert_string_equal(c.local_domains[0], "c.example");
    assert_true(conf_is_local_domain(&c, "C.EXAMPLE"));
    assert_false(conf_is_local_domain(&c, "a.example"));
    assert_int_equal(c.n_relay_networks, 1);
    assert_int_equal(c.n_dns_servers, 2);
    assert_string_equal(c.hostname, "two.example");
    assert_int_equal(c.n_routes, 2);
    assert_non_null(conf_find_route(&c, "B.Example"));
    assert_int_equal(conf_find_route(&c, "B.Example")->hop.port, 2525);
    assert_null(conf_find_route(&c, "c.example"));
    assert_null(conf_find_route(&c, "x.b.example"));
    conf_free(&c);
    load_fails("route a.example h1\nroute A.example h2\n", 2, "already defined");
}

static void test_domains(void **state)
{
    (void)state;
    struct conf c;
    load_ok("local_domains Local.Example\nrelay_domains Backup.Example gw.example\n", &c);
    assert_true(conf_is_local_domain(&c, "local.example"));
    assert_true(conf_is_local_domain(&c, "LOCAL.EXAMPLE"));
    assert_false(conf_is_local_domain(&c, "backup.example"));
    assert_true(conf_is_relay_domain(&c, "BACKUP.example"));
    assert_false(conf_is_relay_domain(&c, "local.example"));
    conf_free(&c);
    load_fails("local_domains a.example\n\nrelay_domains b.example A.example\n", 3,
               "a.example is in both local_domains and relay_domains");
    load_fails("relay_domains a.example\nlocal_domains A.example\n", 2, "in both");
}

static void test_relative_paths(void **state)
{
    (void)state;
    struct conf c;
    struct buf err;
    char sub[PATH_MAX], p[PATH_MAX], cwd[PATH_MAX];
    buf_init(&err, 4096);
    str_fmt(sub, sizeof sub, "%s/sub", tmpdir);
    assert_int_equal(mkdir(sub, 0700), 0);
    write_file("sub/u", "a@localhost:{PLAIN}x\n");
    write_file("sub/p.conf", "data_dir ./data\nusers u\nlog_file ../log.txt\n");
    /* a relative config path, resolved from the current directory */
    assert_non_null(getcwd(cwd, sizeof cwd));
    assert_int_equal(chdir(tmpdir), 0);
    int r = conf_load("sub/p.conf", &c, &err);
    assert_int_equal(chdir(cwd), 0);
    if (r != 0)
        fail_msg("%s", buf_cstr(&err));
    str_fmt(p, sizeof p, "%s/data", sub);
    assert_string_equal(c.data_dir, p);
    str_fmt(p, sizeof p, "%s/u", sub);
    assert_string_equal(c.users_file, p);
    assert_non_null(users_lookup(c.users, "A", "LOCALHOST"));
    str_fmt(p, sizeof p, "%s/../log.txt", sub);
    assert_string_equal(c.log_file, p);
    conf_free(&c);
    /* the word syslog is not a path */
    write_file("sub/s.conf", "log_file syslog\nlog_format json\n");
    str_fmt(p, sizeof p, "%s/sub/s.conf", tmpdir);
    r = conf_load(p, &c, &err);
    if (r != 0)
        fail_msg("%s", buf_cstr(&err));
    assert_string_equal(c.log_file, "syslog");
    assert_string_equal(c.log_format, "json");
    conf_free(&c);
    /* the default data_dir lives beside the config file */
    load_ok("smtp_port 25\n", &c);
    str_fmt(p, sizeof p, "%s/postino-data", tmpdir);
    assert_string_equal(c.data_dir, p);
    conf_free(&c);
    buf_free(&err);
}

static void test_cross_key_checks(void **state)
{
    (void)state;
    struct conf c;
    write_file("cert.pem", "x\n");
    load_fails("retry_min 2h\n", 1, "retry_min (2h) is greater than retry_max (1h)");
    load_fails("retry_max 1m\n\n", 1, "retry_min (5m) is greater than retry_max (1m)");
    load_fails("retry_max 10m\nretry_min 30m\n", 2, "greater than retry_max");
    load_ok("retry_min 1h\nretry_max 1h\n", &c);
    conf_free(&c);
    load_fails("\ntls_cert cert.pem\n", 2, "tls_cert without tls_key");
    load_fails("\n\ntls_key cert.pem\n", 3, "tls_key without tls_cert");
    load_fails("listen smtp 127.0.0.1:25\nlisten smtps 127.0.0.1:465\n", 2, "need tls_cert");
    load_fails("listen pop3s 127.0.0.1:995\n", 1, "need tls_cert");
    load_fails("tls_cert cert.pem\ntls_key missing.pem\n", 2, "cannot read");
    load_ok("tls_cert cert.pem\ntls_key cert.pem\nlisten smtps 127.0.0.1:465\n", &c);
    assert_int_equal(c.listens[0].kind, LISTEN_SMTPS);
    conf_free(&c);
}

/* The settings-only load (sendmail, queue) never looks at the TLS files; the full one does. */
static void test_settings_skip_tls_files(void **state)
{
    (void)state;
    struct conf c;
    struct buf err;
    buf_init(&err, 4096);
    write_file("cert.pem", "x\n");
    write_file("postino.conf", "tls_cert cert.pem\ntls_key missing-key.pem\n");
    assert_int_equal(conf_load_settings(conf_path, &c, &err), 0);
    assert_non_null(strstr(c.tls_key, "missing-key.pem"));
    conf_free(&c);
    assert_int_equal(conf_load(conf_path, &c, &err), -1);
    assert_non_null(strstr(buf_cstr(&err), ":2: cannot read"));
    buf_reset(&err);
    /* the cross-key checks still hold for the settings-only load */
    write_file("postino.conf", "tls_key missing-key.pem\n");
    assert_int_equal(conf_load_settings(conf_path, &c, &err), -1);
    assert_non_null(strstr(buf_cstr(&err), "tls_key without tls_cert"));
    buf_free(&err);
}

static void test_users_aliases_through_conf(void **state)
{
    (void)state;
    struct conf c;
    struct buf err;
    char want[PATH_MAX + 64];
    buf_init(&err, 4096);
    write_file("u.txt", "# users\nok@localhost:{PLAIN}pw\nbad line\n");
    assert_int_equal(load("users u.txt\n", &c, &err), -1);
    str_fmt(want, sizeof want, "%s/u.txt:3: ", tmpdir);
    assert_memory_equal(buf_cstr(&err), want, strlen(want));
    buf_reset(&err);
    write_file("a.txt", "x@localhost: good@example.com\ny@localhost: not-an-address\n");
    assert_int_equal(load("aliases a.txt\n", &c, &err), -1);
    str_fmt(want, sizeof want, "%s/a.txt:2: ", tmpdir);
    assert_memory_equal(buf_cstr(&err), want, strlen(want));
    assert_non_null(strstr(buf_cstr(&err), "not-an-address"));
    buf_reset(&err);
    assert_int_equal(load("aliases nothere.txt\n", &c, &err), -1);
    assert_non_null(strstr(buf_cstr(&err), "nothere.txt: cannot open"));
    buf_free(&err);
    write_file("u.txt", "ok@localhost:{PLAIN}pw\n");
    load_ok("users u.txt\naliases /dev/null\n", &c);
    assert_int_equal(users_count(c.users), 1);
    assert_int_equal(aliases_count(c.aliases), 0);
    conf_free(&c);
}

static void sa4(struct sockaddr_storage *ss, const char *a)
{
    struct sockaddr_in *in = (struct sockaddr_in *)ss;
    memset(ss, 0, sizeof *ss);
    in->sin_family = AF_INET;
    assert_int_equal(inet_pton(AF_INET, a, &in->sin_addr), 1);
}

static void sa6(struct sockaddr_storage *ss, const char *a)
{
    struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)ss;
    memset(ss, 0, sizeof *ss);
    in6->sin6_family = AF_INET6;
    assert_int_equal(inet_pton(AF_INET6, a, &in6->sin6_addr), 1);
}

/* 1 if address a (IPv4 or IPv6 text) is inside cidr text n. */
static int in_net(const char *n, const char *a)
{
    struct cidr net;
    struct sockaddr_storage ss;
    assert_int_equal(cidr_parse(n, &net), 0);
    if (strchr(a, ':'))
        sa6(&ss, a);
    else
        sa4(&ss, a);
    return cidr_match(&net, (struct sockaddr *)&ss);
}

static void test_cidr(void **state)
{
    (void)state;
    struct cidr n;
    assert_int_equal(cidr_parse("10.1.2.3/8", &n), 0);
    assert_int_equal(n.family, AF_INET);
    assert_int_equal(n.prefix, 8);
    assert_memory_equal(n.addr, "\x0a\0\0\0", 4);
    assert_int_equal(cidr_parse("2001:db8:ffff::1/33", &n), 0);
    assert_int_equal(n.family, AF_INET6);
    assert_memory_equal(n.addr, "\x20\x01\x0d\xb8\x80\0\0\0\0\0\0\0\0\0\0\0", 16);
    assert_int_equal(cidr_parse("1.2.3.4", &n), 0);
    assert_int_equal(n.prefix, 32);
    assert_int_equal(cidr_parse("::1", &n), 0);
    assert_int_equal(n.prefix, 128);
    assert_int_equal(cidr_parse("0.0.0.0/0", &n), 0);
    static const char *const bad[] = {"", "/8", "1.2.3.4/", "1.2.3.4/33", "::/129", "1.2.3.4/08x",
                                      "1.2.3.4/0008", "1.2.3.4/ 8", "1.2.3.4 /8", "1.2.3/24",
                                      "[::1]/128", "::1/1/2", "abc"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        assert_int_equal(cidr_parse(bad[i], &n), -1);
}

static void test_cidr_match(void **state)
{
    (void)state;
    assert_true(in_net("127.0.0.0/8", "127.1.2.3"));
    assert_false(in_net("127.0.0.0/8", "128.0.0.1"));
    assert_true(in_net("192.168.1.0/23", "192.168.0.200"));
    assert_false(in_net("192.168.1.0/23", "192.168.2.1"));
    assert_true(in_net("0.0.0.0/0", "8.8.8.8"));
    assert_true(in_net("10.0.0.5", "10.0.0.5"));
    assert_false(in_net("10.0.0.5", "10.0.0.6"));
    assert_true(in_net("::1/128", "::1"));
    assert_false(in_net("::1/128", "::2"));
    assert_true(in_net("2001:db8::/32", "2001:db8:1234::9"));
    assert_false(in_net("2001:db8::/32", "2001:db9::1"));
    /* IPv4-mapped IPv6 clients (dual-stack sockets) match IPv4 networks */
    assert_true(in_net("127.0.0.0/8", "::ffff:127.0.0.1"));
    assert_false(in_net("127.0.0.0/8", "::ffff:10.0.0.1"));
    assert_false(in_net("127.0.0.0/8", "::1"));
    assert_false(in_net("0.0.0.0/0", "2001:db8::1"));
    /* and IPv4 clients match IPv6 networks written in mapped form */
    assert_true(in_net("::ffff:10.0.0.0/104", "10.9.9.9"));
    assert_false(in_net("::ffff:10.0.0.0/104", "11.0.0.1"));
    assert_false(in_net("::1/128", "127.0.0.1"));
    struct cidr n;
    struct sockaddr_storage ss;
    memset(&ss, 0, sizeof ss);
    ss.ss_family = AF_UNIX;
    assert_int_equal(cidr_parse("0.0.0.0/0", &n), 0);
    assert_false(cidr_match(&n, (struct sockaddr *)&ss));
}

static void test_relay_networks(void **state)
{
    (void)state;
    struct conf c;
    struct sockaddr_storage ss;
    load_ok("relay_networks 192.0.2.0/24 2001:db8::/48\n", &c);
    sa4(&ss, "192.0.2.77");
    assert_true(conf_in_relay_networks(&c, (struct sockaddr *)&ss));
    sa6(&ss, "::ffff:192.0.2.77");
    assert_true(conf_in_relay_networks(&c, (struct sockaddr *)&ss));
    sa6(&ss, "2001:db8:0:1::1");
    assert_true(conf_in_relay_networks(&c, (struct sockaddr *)&ss));
    sa6(&ss, "2001:db8:1::1");
    assert_false(conf_in_relay_networks(&c, (struct sockaddr *)&ss));
    sa4(&ss, "127.0.0.1"); /* the default is replaced */
    assert_false(conf_in_relay_networks(&c, (struct sockaddr *)&ss));
    conf_free(&c);
    load_ok("", &c);
    assert_true(conf_in_relay_networks(&c, (struct sockaddr *)&ss));
    sa6(&ss, "::1");
    assert_true(conf_in_relay_networks(&c, (struct sockaddr *)&ss));
    sa6(&ss, "::ffff:127.0.0.1");
    assert_true(conf_in_relay_networks(&c, (struct sockaddr *)&ss));
    conf_free(&c);
}

static void hp_ok(const char *s, const char *host, int port, int no_mx)
{
    struct hostport hp;
    if (hostport_parse(s, &hp) != 0)
        fail_msg("hostport_parse(\"%s\") failed", s);
    assert_string_equal(hp.host, host);
    assert_int_equal(hp.port, port);
    assert_int_equal(hp.no_mx, no_mx);
}

static void test_hostport(void **state)
{
    (void)state;
    hp_ok("mx.example.com", "mx.example.com", 0, 0);
    hp_ok("mx.example.com:2525", "mx.example.com", 2525, 0);
    hp_ok("[mx.example.com]", "mx.example.com", 0, 1);
    hp_ok("[mx.example.com]:587", "mx.example.com", 587, 1);
    hp_ok("192.0.2.1", "192.0.2.1", 0, 0);
    hp_ok("[192.0.2.1]:25", "192.0.2.1", 25, 1);
    hp_ok("[::1]:25", "::1", 25, 1);
    hp_ok("[2001:db8::1]", "2001:db8::1", 0, 1);
    hp_ok("localhost:65535", "localhost", 65535, 0);
    static const char *const bad[] = {"", ":25", "[]", "[]:25", "::1", "2001:db8::1:25",
                                      "host:", "host:0", "host:65536", "host:-1", "host:25x",
                                      "[host", "[host]x", "[host]:", "host]", "ho st", "a..b",
                                      "-host", "host-", "under_score.example", "[::1]:25:25"};
    struct hostport hp;
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        if (hostport_parse(bad[i], &hp) != -1)
            fail_msg("hostport_parse(\"%s\") accepted", bad[i]);
    char longname[300];
    memset(longname, 'a', sizeof longname - 1);
    longname[sizeof longname - 1] = '\0';
    assert_int_equal(hostport_parse(longname, &hp), -1);
}

static void test_value_parsers(void **state)
{
    (void)state;
    uint64_t v = 7;
    int port = 7;
    assert_int_equal(conf_parse_number("0", 0, 10, &v), 0);
    assert_int_equal(v, 0);
    assert_int_equal(conf_parse_number("010", 0, 10, &v), 0);
    assert_int_equal(v, 10);
    assert_int_equal(conf_parse_number("18446744073709551615", 0, UINT64_MAX, &v), -1);
    assert_int_equal(conf_parse_number("11", 0, 10, &v), -1);
    assert_int_equal(conf_parse_number("0", 1, 10, &v), -1);
    static const char *const bad_numbers[] = {"", " 1", "1 ", "+1", "-1", "1e3", "0x1", "1.0"};
    for (size_t i = 0; i < sizeof bad_numbers / sizeof bad_numbers[0]; i++)
        assert_int_equal(conf_parse_number(bad_numbers[i], 0, 100, &v), -1);
    assert_int_equal(v, 10);
    assert_int_equal(conf_parse_port("1", &port), 0);
    assert_int_equal(port, 1);
    assert_int_equal(conf_parse_port("65535", &port), 0);
    assert_int_equal(port, 65535);
    assert_int_equal(conf_parse_port("0", &port), -1);
    assert_int_equal(conf_parse_port("65536", &port), -1);
    assert_int_equal(conf_parse_port("", &port), -1);
    assert_true(conf_valid_hostname("localhost"));
    assert_true(conf_valid_hostname("mx-1.Example.ORG"));
    assert_true(conf_valid_hostname("1.2.3.4"));
    char label63[80], label64[80];
    memset(label63, 'a', 63);
    str_copy(label63 + 63, sizeof label63 - 63, ".example");
    memset(label64, 'a', 64);
    str_copy(label64 + 64, sizeof label64 - 64, ".example");
    assert_true(conf_valid_hostname(label63));
    assert_false(conf_valid_hostname(label64));
    static const char *const bad_hosts[] = {"", ".", "a.", ".a", "a..b", "-a", "a-", "a-.b",
                                            "a.-b", "a_b", "a b", "a/b", "[1.2.3.4]", "ex\xe4mple"};
    for (size_t i = 0; i < sizeof bad_hosts / sizeof bad_hosts[0]; i++)
        assert_false(conf_valid_hostname(bad_hosts[i]));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        TEST(test_defaults),
        TEST(test_default_hostname_invalid),
        TEST(test_every_key_valid),
        TEST(test_every_key_invalid),
        TEST(test_line_numbers_and_comments),
        TEST(test_nul_byte),
        TEST(test_missing_file),
        TEST(test_listen_replacement),
        TEST(test_repeated_keys),
        TEST(test_domains),
        TEST(test_relative_paths),
        TEST(test_cross_key_checks),
        TEST(test_settings_skip_tls_files),
        TEST(test_users_aliases_through_conf),
        TEST(test_cidr),
        TEST(test_cidr_match),
        TEST(test_relay_networks),
        TEST(test_hostport),
        TEST(test_value_parsers),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
