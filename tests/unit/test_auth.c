/*
 * test_auth: the users file and password checks (mail/auth): parsing with
 * comments and odd but valid spellings, every kind of bad line reported as
 * "FILE:LINE: message", case-insensitive lookup that returns the file's
 * spelling, {PLAIN} and crypt(3) checks (a hash made by auth_hash_password,
 * a $6$ one), wrong passwords, a 100k-user file, and the cost of a failed
 * check, which must not tell an unknown user from a known one.
 * Each test has its own temporary folder (testutil), removed afterwards.
 */
#define _XOPEN_SOURCE 700
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <crypt.h>
#include <ftw.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "lib/buf.h"
#include "lib/str.h"
#include "testutil.h"
#include "mail/auth.h"

TESTUTIL_TMPDIR_FIXTURES("auth")
static char users_path[PATH_MAX];

static void write_users(const char *text, size_t len)
{
    FILE *f = fopen(users_path, "w");
    assert_non_null(f);
    assert_int_equal(fwrite(text, 1, len, f), len);
    assert_int_equal(fclose(f), 0);
}

static struct users *load_ok(const char *text)
{
    struct buf err;
    buf_init(&err, 4096);
    write_users(text, strlen(text));
    struct users *u = users_load(users_path, &err);
    if (!u)
        fail_msg("unexpected error: %s", buf_cstr(&err));
    buf_free(&err);
    return u;
}

static void load_fails(const char *text, size_t len, unsigned line, const char *substr)
{
    struct buf err;
    char prefix[PATH_MAX + 32];
    buf_init(&err, 4096);
    write_users(text, len);
    assert_null(users_load(users_path, &err));
    str_fmt(prefix, sizeof prefix, "%s:%u: ", users_path, line);
    const char *e = buf_cstr(&err);
    if (strncmp(e, prefix, strlen(prefix)) != 0 || !strstr(e, substr))
        fail_msg("file:\n%s\nwanted \"%s...%s\", got \"%s\"", text, prefix, substr, e);
    buf_free(&err);
}

/* A fresh folder per test (tmpdir) with users_path the users file in it. */
static int setup_auth(void **state)
{
    if (setup(state) < 0)
        return -1;
    return str_fmt(users_path, sizeof users_path, "%s/users", tmpdir);
}

static void test_parse_and_lookup(void **state)
{
    (void)state;
    struct users *u = load_ok("# the users\n"
                              "\n"
                              "Alice@Example.org:{PLAIN}secret\n"
                              "  bob.smith+tag@example.org:  {PLAIN}pa:ss#word  \r\n"
                              "\t# indented comment\n"
                              "carol@mail.example.org:$6$salt$abcdefghijklmnop\n"
                              "dave@example.org:{plain}lower-case scheme\n"
                              "eve@example.org:!locked");
    assert_int_equal(users_count(u), 5);
    assert_string_equal(users_lookup(u, "alice", "example.org"), "Alice@Example.org");
    assert_string_equal(users_lookup(u, "ALICE", "EXAMPLE.ORG"), "Alice@Example.org");
    assert_string_equal(users_lookup(u, "Bob.Smith+Tag", "example.org"),
                        "bob.smith+tag@example.org");
    assert_non_null(users_lookup(u, "carol", "Mail.Example.Org"));
    assert_null(users_lookup(u, "carol", "example.org"));
    assert_null(users_lookup(u, "nobody", "example.org"));
    assert_null(users_lookup(u, "", ""));
    char longlocal[400];
    memset(longlocal, 'a', sizeof longlocal - 1);
    longlocal[sizeof longlocal - 1] = '\0';
    assert_null(users_lookup(u, longlocal, "example.org"));
    assert_true(users_check_password(u, "bob.smith+tag@example.org", "pa:ss#word"));
    assert_true(users_check_password(u, "dave@EXAMPLE.org", "lower-case scheme"));
    assert_false(users_check_password(u, "eve@example.org", "!locked"));
    assert_false(users_check_password(u, "eve@example.org", ""));
    users_free(u);
    assert_null(users_lookup(NULL, "a", "b"));
    assert_int_equal(users_count(NULL), 0);
    assert_false(users_check_password(NULL, "a@b", "x"));
    users_free(NULL);
}

static void test_bad_lines(void **state)
{
    (void)state;
    char local65[100], domain256[300], text[600];
    memset(local65, 'l', 65);
    local65[65] = '\0';
    memset(domain256, 'd', 256);
    for (int i = 60; i < 256; i += 61)
        domain256[i] = '.';
    domain256[256] = '\0';
    static const struct { const char *line, *msg; } bad[] = {
        {"no-at-sign:{PLAIN}x", "expected local@domain:HASH"},
        {"a@example.org", "expected local@domain:HASH"},
        {"a@example.org {PLAIN}x", "expected local@domain:HASH"},
        {"@example.org:{PLAIN}x", "invalid address"},
        {"a@:{PLAIN}x", "invalid address"},
        {"a/b@example.org:{PLAIN}x", "invalid address \"a/b@example.org\""},
        {"a b@example.org:{PLAIN}x", "invalid address"},
        {"a@exa mple.org:{PLAIN}x", "invalid address"},
        {".a@example.org:{PLAIN}x", "invalid address"},
        {"a..b@example.org:{PLAIN}x", "invalid address"},
        {"a@b@example.org:{PLAIN}x", "invalid address"},
        {"a@example..org:{PLAIN}x", "invalid address"},
        {"a@-example.org:{PLAIN}x", "invalid address"},
        {"a@[127.0.0.1]:{PLAIN}x", "invalid address"},
        {"a@example.org:", "empty password hash"},
        {"a@example.org:   ", "empty password hash"},
        {"a@example.org:{PLAIN}", "empty {PLAIN} password"},
        {"a@example.org:{MD5}abc", "unknown password scheme"},
        {"a@example.org:$6$ab cd", "white space"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        str_fmt(text, sizeof text, "# x\nok@example.org:{PLAIN}p\n\n%s\nz@example.org:{PLAIN}p\n",
                bad[i].line);
        load_fails(text, strlen(text), 4, bad[i].msg);
    }
    str_fmt(text, sizeof text, "%s@example.org:{PLAIN}x\n", local65);
    load_fails(text, strlen(text), 1, "invalid address");
    str_fmt(text, sizeof text, "\n%.64s@example.org:{PLAIN}x\na@%s:{PLAIN}x\n", local65, domain256);
    load_fails(text, strlen(text), 3, "invalid address");
    static const char nul[] = "a@x.org:{PLAIN}p\nb@x.org:{PLAIN}\0p\n";
    load_fails(nul, sizeof nul - 1, 2, "NUL byte");
}

static void test_duplicates(void **state)
{
    (void)state;
    static const char one[] =
        "a@x.org:{PLAIN}1\nb@x.org:{PLAIN}2\n# c\nB@X.ORG:{PLAIN}3\nb@x.org:{PLAIN}4\n";
    static const char two[] =
        "z@x.org:{PLAIN}1\na@x.org:{PLAIN}2\nA@x.org:{PLAIN}3\nz@X.org:{PLAIN}4\n";
    load_fails(one, strlen(one), 4, "duplicate user B@X.ORG (first at line 2)");
    load_fails(two, strlen(two), 3, "duplicate user A@x.org (first at line 2)");
}

static void test_missing_file(void **state)
{
    (void)state;
    struct buf err;
    char p[PATH_MAX], want[PATH_MAX + 64];
    buf_init(&err, 4096);
    str_fmt(p, sizeof p, "%s/none", tmpdir);
    assert_null(users_load(p, &err));
    str_fmt(want, sizeof want, "%s: cannot open: No such file or directory", p);
    assert_string_equal(buf_cstr(&err), want);
    buf_free(&err);
    struct users *u = load_ok("");
    assert_int_equal(users_count(u), 0);
    assert_null(users_lookup(u, "a", "b"));
    users_free(u);
}

static void test_plain_passwords(void **state)
{
    (void)state;
    struct users *u = load_ok("alice@example.org:{PLAIN}secret\n");
    assert_true(users_check_password(u, "alice@example.org", "secret"));
    assert_true(users_check_password(u, "ALICE@Example.Org", "secret"));
    assert_false(users_check_password(u, "alice@example.org", "Secret"));
    assert_false(users_check_password(u, "alice@example.org", "secre"));
    assert_false(users_check_password(u, "alice@example.org", "secret2"));
    assert_false(users_check_password(u, "alice@example.org", ""));
    assert_false(users_check_password(u, "alice", "secret"));
    assert_false(users_check_password(u, "bob@example.org", "secret"));
    assert_false(users_check_password(u, "", ""));
    users_free(u);
}

static void test_crypt_passwords(void **state)
{
    (void)state;
    struct buf h1, h2;
    buf_init(&h1, 1024);
    buf_init(&h2, 1024);
    assert_int_equal(auth_hash_password("hunter2", &h1), 0);
    assert_int_equal(auth_hash_password("hunter2", &h2), 0);
    assert_true(str_iprefix(buf_cstr(&h1), "$y$") || str_iprefix(buf_cstr(&h1), "$6$"));
    assert_string_not_equal(buf_cstr(&h1), buf_cstr(&h2)); /* random salt */
    /* a SHA-512 crypt hash from a fixed salt, as other tools write them */
    struct crypt_data *cd = calloc(1, sizeof *cd);
    assert_non_null(cd);
    const char *sha = crypt_r("letmein", "$6$saltsaltsalt$", cd);
    assert_non_null(sha);
    assert_true(str_iprefix(sha, "$6$saltsaltsalt$"));
    char text[1024];
    str_fmt(text, sizeof text, "u1@example.org:%s\nu2@example.org:%s\n", buf_cstr(&h1), sha);
    free(cd);
    struct users *u = load_ok(text);
    assert_true(users_check_password(u, "u1@example.org", "hunter2"));
    assert_false(users_check_password(u, "u1@example.org", "hunter3"));
    assert_false(users_check_password(u, "u1@example.org", "hunter"));
    assert_false(users_check_password(u, "u1@example.org", buf_cstr(&h1)));
    assert_true(users_check_password(u, "U2@example.org", "letmein"));
    assert_false(users_check_password(u, "u2@example.org", "letmeout"));
    assert_false(users_check_password(u, "u3@example.org", "hunter2"));
    users_free(u);
    buf_free(&h1);
    buf_free(&h2);
}

/* 100k users: loading sorts once, every lookup is a binary search. */
static void test_many_users(void **state)
{
    (void)state;
    enum { N = 100000 };
    struct buf text, err;
    buf_init(&text, BUF_UNLIMITED);
    buf_init(&err, 4096);
    for (int i = 0; i < N; i++)
        assert_int_equal(
            buf_printf(&text, "User%d@Domain%d.example:{PLAIN}pw%d\n", i, i % 97, i), 0);
    write_users(text.data, text.len);
    buf_free(&text);
    struct users *u = users_load(users_path, &err);
    assert_non_null(u);
    assert_int_equal(users_count(u), N);
    char local[32], domain[32], login[64], pw[32];
    for (int i = 0; i < N; i += 7) {
        str_fmt(local, sizeof local, "user%d", i);
        str_fmt(domain, sizeof domain, "DOMAIN%d.EXAMPLE", i % 97);
        assert_non_null(users_lookup(u, local, domain));
    }
    str_fmt(login, sizeof login, "user%d@domain%d.example", 4242, 4242 % 97);
    str_fmt(pw, sizeof pw, "pw%d", 4242);
    assert_true(users_check_password(u, login, pw));
    assert_null(users_lookup(u, "user4242", "domain0.example"));
    users_free(u);
    buf_free(&err);
}

/*
 * CPU seconds one users_check_password call takes on this thread: the work a
 * client's timing would reveal, without the time other processes of a busy
 * machine take from it (wall-clock medians could be skewed by them).
 */
static double check_seconds(const struct users *u, const char *login, const char *password)
{
    struct timespec a, b;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &a);
    assert_false(users_check_password(u, login, password));
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &b);
    return (double)(b.tv_sec - a.tv_sec) + (double)(b.tv_nsec - a.tv_nsec) / 1e9;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/*
 * Timing oracle: a failed login costs the same whether the user is unknown
 * (checked against a dummy hash), has a {PLAIN} password, a crypt(3) hash,
 * or a disabled/malformed hash. Medians of interleaved runs of the CPU time
 * each check costs (so the load of other processes does not count); the
 * bound is generous (half the unknown-user time), where the old {PLAIN}
 * check was ~1000x faster.
 */
static void test_failure_cost_uniform(void **state)
{
    (void)state;
    enum { N = 15, KINDS = 5 };
    static const char *const logins[KINDS] = {
        "nobody@example.org", "plain@example.org", "crypt@example.org",
        "locked@example.org", "star@example.org",
    };
    struct buf h, text;
    buf_init(&h, 1024);
    buf_init(&text, 4096);
    assert_int_equal(auth_hash_password("right password", &h), 0);
    assert_int_equal(buf_printf(&text, "plain@example.org:{PLAIN}right password\n"
                                       "crypt@example.org:%s\nlocked@example.org:!%s\n"
                                       "star@example.org:*\n", buf_cstr(&h), buf_cstr(&h)), 0);
    struct users *u = load_ok(buf_cstr(&text));
    double t[KINDS][N];
    for (int i = 0; i < N; i++)
        for (int k = 0; k < KINDS; k++)
            t[k][i] = check_seconds(u, logins[k], "wrong password");
    for (int k = 0; k < KINDS; k++)
        qsort(t[k], N, sizeof t[k][0], cmp_double);
    double unknown = t[0][N / 2];
    int fast = 0;
    for (int k = 1; k < KINDS; k++)
        if (t[k][N / 2] < unknown * 0.5) {
            print_error("failed check for %s: median %.6fs, unknown user %.6fs\n", logins[k],
                        t[k][N / 2], unknown);
            fast++;
        }
    assert_int_equal(fast, 0);
    assert_true(users_check_password(u, "plain@example.org", "right password"));
    assert_true(users_check_password(u, "crypt@example.org", "right password"));
    users_free(u);
    buf_free(&h);
    buf_free(&text);
}

/* A reader's login (POP3, the Web): the file's spelling, the mailbox's path parts. */
static void test_mailbox_login(void **state)
{
    (void)state;
    struct users *u = load_ok("Alice@Example.ORG:{PLAIN}right\n");
    struct auth_box box;
    assert_true(auth_mailbox_login(u, "alice@example.org", "right", &box));
    assert_string_equal(box.addr, "Alice@Example.ORG");
    assert_string_equal(box.local, "Alice");
    assert_string_equal(box.domain, "example.org");
    assert_false(auth_mailbox_login(u, "alice@example.org", "wrong", &box));
    assert_string_equal(box.addr, "");
    assert_false(auth_mailbox_login(u, "alice@example.org", "", &box));
    assert_false(auth_mailbox_login(u, "nobody@example.org", "right", &box));
    assert_false(auth_mailbox_login(NULL, "alice@example.org", "right", &box));
    users_free(u);
}

/* A test in its own temporary folder. */
#define TEST(f) cmocka_unit_test_setup_teardown(f, setup_auth, teardown)

int main(void)
{
    const struct CMUnitTest tests[] = {
        TEST(test_parse_and_lookup), TEST(test_bad_lines),
        TEST(test_duplicates),       TEST(test_missing_file),
        TEST(test_plain_passwords),  TEST(test_crypt_passwords),
        TEST(test_many_users),       TEST(test_failure_cost_uniform),
        TEST(test_mailbox_login),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
