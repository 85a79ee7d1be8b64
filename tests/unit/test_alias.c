/*
 * test_alias: the aliases file (mail/alias): target lists separated by
 * commas and/or blanks, comments, case-insensitive lookup, every kind of bad
 * line reported as "FILE:LINE: message" (no domain, no targets, bad target,
 * duplicate alias, repeated target), and a missing file.
 * Each test has its own temporary folder (testutil), removed afterwards.
 */
#define _XOPEN_SOURCE 700
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <ftw.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "lib/buf.h"
#include "lib/str.h"
#include "testutil.h"
#include "mail/alias.h"

TESTUTIL_TMPDIR_FIXTURES("alias")
static char aliases_path[PATH_MAX];

static void write_aliases(const char *text, size_t len)
{
    FILE *f = fopen(aliases_path, "w");
    assert_non_null(f);
    assert_int_equal(fwrite(text, 1, len, f), len);
    assert_int_equal(fclose(f), 0);
}

static struct aliases *load_ok(const char *text)
{
    struct buf err;
    buf_init(&err, 4096);
    write_aliases(text, strlen(text));
    struct aliases *a = aliases_load(aliases_path, &err);
    if (!a)
        fail_msg("unexpected error: %s", buf_cstr(&err));
    buf_free(&err);
    return a;
}

static void load_fails(const char *text, size_t len, unsigned line, const char *substr)
{
    struct buf err;
    char prefix[PATH_MAX + 32];
    buf_init(&err, 4096);
    write_aliases(text, len);
    assert_null(aliases_load(aliases_path, &err));
    str_fmt(prefix, sizeof prefix, "%s:%u: ", aliases_path, line);
    const char *e = buf_cstr(&err);
    if (strncmp(e, prefix, strlen(prefix)) != 0 || !strstr(e, substr))
        fail_msg("file:\n%s\nwanted \"%s...%s\", got \"%s\"", text, prefix, substr, e);
    buf_free(&err);
}

/* A fresh folder per test (tmpdir) with aliases_path the aliases file in it. */
static int setup_alias(void **state)
{
    if (setup(state) < 0)
        return -1;
    return str_fmt(aliases_path, sizeof aliases_path, "%s/aliases", tmpdir);
}

static void expect_targets(const struct aliases *a, const char *local, const char *domain,
                           const char *const *want, size_t n_want)
{
    size_t n = 99;
    const char *const *t = aliases_lookup(a, local, domain, &n);
    assert_non_null(t);
    assert_int_equal(n, n_want);
    for (size_t i = 0; i < n; i++)
        assert_string_equal(t[i], want[i]);
}

static void test_parse_and_lookup(void **state)
{
    (void)state;
    struct aliases *a = load_ok("# aliases\n"
                                "\n"
                                "postmaster@example.org: alice@example.org\n"
                                "List@Example.org: a@x.org, b@y.org c@z.org,d@w.org\t e@v.org ,\n"
                                "  fwd@example.org:Remote.User@Elsewhere.NET  \r\n"
                                "\t# indented comment\n"
                                "self@example.org: self@example.org, copy/box@remote.example\n"
                                "last@example.org: x@example.org\n"
                                "quoted@example.org: \"bob\"@example.net x@[192.0.2.1]\n");
    assert_int_equal(aliases_count(a), 6);
    static const char *const pm[] = {"alice@example.org"};
    static const char *const list[] = {"a@x.org", "b@y.org", "c@z.org", "d@w.org", "e@v.org"};
    static const char *const fwd[] = {"Remote.User@Elsewhere.NET"};
    static const char *const self[] = {"self@example.org", "copy/box@remote.example"};
    expect_targets(a, "postmaster", "example.org", pm, 1);
    expect_targets(a, "POSTMASTER", "Example.ORG", pm, 1);
    expect_targets(a, "list", "example.org", list, 5);
    expect_targets(a, "fwd", "EXAMPLE.org", fwd, 1);
    expect_targets(a, "self", "example.org", self, 2);
    static const char *const quoted[] = {"bob@example.net", "x@[192.0.2.1]"};
    expect_targets(a, "QUOTED", "example.org", quoted, 2); /* normal spelling */
    size_t n = 99;
    assert_null(aliases_lookup(a, "alice", "example.org", &n));
    assert_int_equal(n, 0);
    assert_null(aliases_lookup(a, "list", "example.com", &n));
    char longlocal[400];
    memset(longlocal, 'a', sizeof longlocal - 1);
    longlocal[sizeof longlocal - 1] = '\0';
    assert_null(aliases_lookup(a, longlocal, "example.org", &n));
    aliases_free(a);
    assert_null(aliases_lookup(NULL, "a", "b", &n));
    assert_int_equal(aliases_count(NULL), 0);
    aliases_free(NULL);
}

static void test_bad_lines(void **state)
{
    (void)state;
    static const struct { const char *line, *msg; } bad[] = {
        {"postmaster: root@example.org", "alias \"postmaster\" has no domain"},
        {"a@example.org root@example.org", "expected alias@domain: target"},
        {"a@example.org:", "alias a@example.org has no targets"},
        {"a@example.org: , ,\t", "has no targets"},
        {"a@example.org: root", "invalid target address \"root\""},
        {"a@example.org: ok@example.org, x@", "invalid target address \"x@\""},
        {"a@example.org: @example.org", "invalid target"},
        {"a@example.org: x@exa..mple.org", "invalid target"},
        {"a@example.org: <x@example.org>", "invalid target"},
        {"a@example.org: x@example.org;y@example.org", "invalid target"},
        {"a@example.org: b@x.org, B@X.ORG", "target B@X.ORG listed twice"},
        {"a b@example.org: x@example.org", "invalid alias address"},
        {"a@exa_mple.org: x@example.org", "invalid alias address"},
        {"@example.org: x@example.org", "invalid alias address"},
        {": x@example.org", "has no domain"},
    };
    char text[512];
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        str_fmt(text, sizeof text,
                "# x\nok@example.org: z@example.org\n\n%s\nz@example.org: q@x.org\n", bad[i].line);
        load_fails(text, strlen(text), 4, bad[i].msg);
    }
    static const char nul[] = "a@x.org: b@x.org\nc@x.org: d@\0x.org\n";
    load_fails(nul, sizeof nul - 1, 2, "NUL byte");
}

static void test_duplicates(void **state)
{
    (void)state;
    static const char dup[] =
        "z@x.org: a@x.org\nb@x.org: a@x.org\n\nB@X.org: c@x.org\nz@x.org: q@x.org\n";
    load_fails(dup, strlen(dup), 4, "duplicate alias b@x.org (first at line 2)");
}

static void test_missing_and_empty(void **state)
{
    (void)state;
    struct buf err;
    char p[PATH_MAX], want[PATH_MAX + 64];
    buf_init(&err, 4096);
    str_fmt(p, sizeof p, "%s/none", tmpdir);
    assert_null(aliases_load(p, &err));
    str_fmt(want, sizeof want, "%s: cannot open: No such file or directory", p);
    assert_string_equal(buf_cstr(&err), want);
    buf_free(&err);
    struct aliases *a = load_ok("# nothing\n\n");
    size_t n = 5;
    assert_int_equal(aliases_count(a), 0);
    assert_null(aliases_lookup(a, "x", "y", &n));
    assert_int_equal(n, 0);
    aliases_free(a);
}

/* A test in its own temporary folder. */
#define TEST(f) cmocka_unit_test_setup_teardown(f, setup_alias, teardown)

int main(void)
{
    const struct CMUnitTest tests[] = {
        TEST(test_parse_and_lookup),
        TEST(test_bad_lines),
        TEST(test_duplicates),
        TEST(test_missing_and_empty),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
