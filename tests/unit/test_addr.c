/*
 * test_addr: unit tests for proto/addr (RFC 5321 4.1.2 paths and mailboxes).
 * Covers dot-atom and quoted local parts (quoted-pairs, spaces, unquoting),
 * domain names and literals (IPv4, IPv6, general, malformed), <> and
 * <Postmaster>, source routes, the 64/255 length limits at their edges,
 * bounds (never reading past len), and format/equal/is_literal.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
#include <stdlib.h>
#include <string.h>
#include "proto/addr.h"
#include "lib/str.h"

static struct addr A;
static size_t used;

/* Parses a NUL-terminated path as MAIL would (null allowed, no Postmaster). */
static enum addr_err path(const char *s)
{
    memset(&A, 0x55, sizeof A);
    used = 0;
    return addr_parse_path(s, strlen(s), 1, 0, &A, &used);
}

/* Parses as RCPT would (no null, Postmaster allowed). */
static enum addr_err rpath(const char *s)
{
    used = 0;
    return addr_parse_path(s, strlen(s), 0, 1, &A, &used);
}

/* A valid domain of exactly n octets (labels of at most 50). */
static char *make_domain(size_t n)
{
    char *d = malloc(n + 1);
    for (size_t i = 0; i < n; i++)
        d[i] = (i % 50 == 49) ? '.' : 'a';
    if (d[n - 1] == '.')
        d[n - 1] = 'a';
    d[n] = '\0';
    return d;
}

static char *make_path(size_t local_len, size_t domain_len)
{
    char *dom = make_domain(domain_len);
    char *p = malloc(local_len + domain_len + 4);
    p[0] = '<';
    memset(p + 1, 'l', local_len);
    p[local_len + 1] = '@';
    memcpy(p + local_len + 2, dom, domain_len);
    memcpy(p + local_len + 2 + domain_len, ">", 2);
    free(dom);
    return p;
}

static void test_simple_path(void **state)
{
    (void)state;
    assert_int_equal(path("<bob@example.org>"), ADDR_OK);
    assert_int_equal(A.is_null, 0);
    assert_string_equal(A.local, "bob");
    assert_string_equal(A.domain, "example.org");
    assert_int_equal(used, 17);
    assert_int_equal(path("<Bob.Smith+tag@Sub.Example-1.ORG> SIZE=10"), ADDR_OK);
    assert_int_equal(used, 33);
    assert_string_equal(A.local, "Bob.Smith+tag");
    assert_string_equal(A.domain, "Sub.Example-1.ORG");
    assert_int_equal(path("<a@b>"), ADDR_OK);
    assert_int_equal(path("<user@localhost>"), ADDR_OK);
}

static void test_atext_specials(void **state)
{
    (void)state;
    assert_int_equal(path("<!#$%&'*+-/=?^_`{|}~@x.example>"), ADDR_OK);
    assert_string_equal(A.local, "!#$%&'*+-/=?^_`{|}~");
}

static void test_bad_dot_atom(void **state)
{
    (void)state;
    assert_int_equal(path("<.bob@x.example>"), ADDR_SYNTAX);
    assert_int_equal(path("<bob.@x.example>"), ADDR_SYNTAX);
    assert_int_equal(path("<bo..b@x.example>"), ADDR_SYNTAX);
    assert_int_equal(path("<@x.example>"), ADDR_SYNTAX);
    assert_int_equal(path("<bo(b@x.example>"), ADDR_SYNTAX);
    assert_int_equal(path("<bo,b@x.example>"), ADDR_SYNTAX);
    assert_int_equal(path("<a@b@x.example>"), ADDR_SYNTAX);
    assert_int_equal(path("<b\xc3\xb6@x.example>"), ADDR_SYNTAX);
    assert_int_equal(path("<bob>"), ADDR_SYNTAX);
    assert_int_equal(path("<bob@>"), ADDR_SYNTAX);
}

static void test_quoted_unquoted_when_dot_atom(void **state)
{
    (void)state;
    assert_int_equal(path("<\"bob\"@x.example>"), ADDR_OK);
    assert_string_equal(A.local, "bob");
    assert_int_equal(path("<\"b.o.b\"@x.example>"), ADDR_OK);
    assert_string_equal(A.local, "b.o.b");
    assert_int_equal(path("<\"\\b\\o\\b\"@x.example>"), ADDR_OK);
    assert_string_equal(A.local, "bob");
}

static void test_quoted_kept(void **state)
{
    (void)state;
    assert_int_equal(path("<\"john smith\"@x.example>"), ADDR_OK);
    assert_string_equal(A.local, "\"john smith\"");
    assert_int_equal(path("<\"a\\\"b\"@x.example>"), ADDR_OK);
    assert_string_equal(A.local, "\"a\\\"b\"");
    assert_int_equal(path("<\"a\\\\b\"@x.example>"), ADDR_OK);
    assert_string_equal(A.local, "\"a\\\\b\"");
    assert_int_equal(path("<\"a..b\"@x.example>"), ADDR_OK);
    assert_string_equal(A.local, "\"a..b\"");
    assert_int_equal(path("<\"a@b\"@x.example>"), ADDR_OK);
    assert_string_equal(A.local, "\"a@b\"");
    assert_int_equal(path("<\"<>\"@x.example>"), ADDR_OK);
    assert_int_equal(path("<\"\\ \"@x.example>"), ADDR_OK);
    assert_string_equal(A.local, "\"\\ \"");
    assert_int_equal(path("<\"\"@x.example>"), ADDR_OK);
    assert_string_equal(A.local, "\"\"");
}

static void test_quoted_bad(void **state)
{
    (void)state;
    assert_int_equal(path("<\"bob@x.example>"), ADDR_SYNTAX);
    assert_int_equal(path("<\"bob\"x@x.example>"), ADDR_SYNTAX);
    assert_int_equal(path("<x\"bob\"@x.example>"), ADDR_SYNTAX);
    assert_int_equal(path("<\"a\tb\"@x.example>"), ADDR_SYNTAX);
    assert_int_equal(path("<\"a\rb\"@x.example>"), ADDR_SYNTAX);
    assert_int_equal(path("<\"a\\\nb\"@x.example>"), ADDR_SYNTAX);
    assert_int_equal(path("<\"a\\\"@x.example>"), ADDR_SYNTAX);
    assert_int_equal(path("<\"\xc3\xa9\"@x.example>"), ADDR_SYNTAX);
    assert_int_equal(path("<\"a\"b\"@x.example>"), ADDR_SYNTAX);
}

static void test_domains(void **state)
{
    (void)state;
    char label63[64], label64[65], buf[200];
    memset(label63, 'a', 63);
    label63[63] = '\0';
    memset(label64, 'a', 64);
    label64[64] = '\0';
    str_fmt(buf, sizeof buf, "<u@%s.example>", label63);
    assert_int_equal(path(buf), ADDR_OK);
    str_fmt(buf, sizeof buf, "<u@%s.example>", label64);
    assert_int_equal(path(buf), ADDR_SYNTAX);
    assert_int_equal(path("<u@-x.example>"), ADDR_SYNTAX);
    assert_int_equal(path("<u@x-.example>"), ADDR_SYNTAX);
    assert_int_equal(path("<u@x.example.>"), ADDR_SYNTAX);
    assert_int_equal(path("<u@.x.example>"), ADDR_SYNTAX);
    assert_int_equal(path("<u@x..example>"), ADDR_SYNTAX);
    assert_int_equal(path("<u@x_y.example>"), ADDR_SYNTAX);
    assert_int_equal(path("<u@x y.example>"), ADDR_SYNTAX);
    assert_int_equal(path("<u@x-y.example>"), ADDR_OK);
    assert_int_equal(path("<u@123.example>"), ADDR_OK);
    assert_int_equal(path("<u@x>"), ADDR_OK);
}

static void test_literals(void **state)
{
    (void)state;
    assert_int_equal(path("<u@[192.0.2.1]>"), ADDR_OK);
    assert_string_equal(A.domain, "[192.0.2.1]");
    assert_int_equal(addr_is_literal(&A), 1);
    assert_int_equal(path("<u@[IPv6:2001:db8::1]>"), ADDR_OK);
    assert_string_equal(A.domain, "[IPv6:2001:db8::1]");
    assert_int_equal(path("<u@[ipv6:::1]>"), ADDR_OK);
    assert_int_equal(path("<u@[IPv6:::ffff:192.0.2.1]>"), ADDR_OK);
    assert_int_equal(path("<u@[x-tag:anything-goes>here]>"), ADDR_OK);
    assert_string_equal(A.domain, "[x-tag:anything-goes>here]");
}

static void test_bad_literals(void **state)
{
    (void)state;
    assert_int_equal(path("<u@[256.0.2.1]>"), ADDR_SYNTAX);
    assert_int_equal(path("<u@[192.0.2]>"), ADDR_SYNTAX);
    assert_int_equal(path("<u@[192.0.2.1.5]>"), ADDR_SYNTAX);
    assert_int_equal(path("<u@[]>"), ADDR_SYNTAX);
    assert_int_equal(path("<u@[192.0.2.1>"), ADDR_SYNTAX);
    assert_int_equal(path("<u@[192.0.2.1]x>"), ADDR_SYNTAX);
    assert_int_equal(path("<u@[ 192.0.2.1]>"), ADDR_SYNTAX);
    assert_int_equal(path("<u@[IPv6:zz::1]>"), ADDR_SYNTAX);
    assert_int_equal(path("<u@[IPv6:192.0.2.1]>"), ADDR_SYNTAX);
    assert_int_equal(path("<u@[IPv6:1:2:3:4:5:6:7:8:9]>"), ADDR_SYNTAX);
    assert_int_equal(path("<u@[IPv6:]>"), ADDR_SYNTAX);
    assert_int_equal(path("<u@[tag:]>"), ADDR_SYNTAX);
    assert_int_equal(path("<u@[:x]>"), ADDR_SYNTAX);
    assert_int_equal(path("<u@[-tag:x]>"), ADDR_SYNTAX);
    assert_int_equal(path("<u@[t_g:x]>"), ADDR_SYNTAX);
    assert_int_equal(path("<u@[tag:a[b]>"), ADDR_SYNTAX);
    assert_int_equal(path("<u@[tag:a\\b]>"), ADDR_SYNTAX);
    assert_int_equal(path("<u@[a.b.c.d]>"), ADDR_SYNTAX);
}

static void test_null_path(void **state)
{
    (void)state;
    assert_int_equal(path("<>"), ADDR_OK);
    assert_int_equal(A.is_null, 1);
    assert_string_equal(A.local, "");
    assert_string_equal(A.domain, "");
    assert_int_equal(used, 2);
    assert_int_equal(rpath("<>"), ADDR_SYNTAX);
    assert_int_equal(path("< >"), ADDR_SYNTAX);
    assert_int_equal(path("<"), ADDR_SYNTAX);
}

static void test_postmaster(void **state)
{
    (void)state;
    assert_int_equal(rpath("<Postmaster>"), ADDR_OK);
    assert_string_equal(A.local, "Postmaster");
    assert_string_equal(A.domain, "");
    assert_int_equal(used, 12);
    assert_int_equal(rpath("<postMASTER>"), ADDR_OK);
    assert_string_equal(A.local, "postMASTER");
    assert_int_equal(rpath("<\"Postmaster\">"), ADDR_OK);
    assert_string_equal(A.local, "Postmaster");
    assert_int_equal(path("<Postmaster>"), ADDR_SYNTAX);
    assert_int_equal(rpath("<Postmasterx>"), ADDR_SYNTAX);
    assert_int_equal(rpath("<root>"), ADDR_SYNTAX);
    assert_int_equal(rpath("<Postmaster@x.example>"), ADDR_OK);
    assert_string_equal(A.domain, "x.example");
    assert_int_equal(rpath("<@a.example:Postmaster>"), ADDR_SYNTAX);
}

static void test_source_route(void **state)
{
    (void)state;
    const char *s = "<@a.example,@b.example:user@c.example>";
    assert_int_equal(path(s), ADDR_OK);
    assert_string_equal(A.local, "user");
    assert_string_equal(A.domain, "c.example");
    assert_int_equal(used, strlen(s));
    assert_int_equal(path("<@a.example:user@c.example>"), ADDR_OK);
    assert_string_equal(A.domain, "c.example");
    assert_int_equal(path("<@a.example:>"), ADDR_SYNTAX);
    assert_int_equal(path("<@:u@c.example>"), ADDR_SYNTAX);
    assert_int_equal(path("<@a.example,b.example:u@c.example>"), ADDR_SYNTAX);
    assert_int_equal(path("<@a.example;u@c.example>"), ADDR_SYNTAX);
    assert_int_equal(path("<@a.example,:u@c.example>"), ADDR_SYNTAX);
    assert_int_equal(path("<@[192.0.2.1]:u@c.example>"), ADDR_SYNTAX);
    assert_int_equal(path("<@a..example:u@c.example>"), ADDR_SYNTAX);
    assert_int_equal(path("<@a.example"), ADDR_SYNTAX);
    assert_int_equal(path("<@a.example,"), ADDR_SYNTAX);
}

static void test_spaces_and_brackets(void **state)
{
    (void)state;
    assert_int_equal(path("< bob@x.example>"), ADDR_SYNTAX);
    assert_int_equal(path("<bob@x.example >"), ADDR_SYNTAX);
    assert_int_equal(path("<bob @x.example>"), ADDR_SYNTAX);
    assert_int_equal(path("<bob@ x.example>"), ADDR_SYNTAX);
    assert_int_equal(path("bob@x.example"), ADDR_SYNTAX);
    assert_int_equal(path("<bob@x.example"), ADDR_SYNTAX);
    assert_int_equal(path(""), ADDR_SYNTAX);
    assert_int_equal(path("<<bob@x.example>>"), ADDR_SYNTAX);
}

static void test_local_length(void **state)
{
    (void)state;
    char *p = make_path(64, 9);
    assert_int_equal(path(p), ADDR_OK);
    assert_int_equal(strlen(A.local), 64);
    free(p);
    p = make_path(65, 9);
    assert_int_equal(path(p), ADDR_LOCAL_TOO_LONG);
    free(p);
    p = make_path(1000, 9);
    assert_int_equal(path(p), ADDR_LOCAL_TOO_LONG);
    free(p);
    /* quoted, 63 octets as written: fits; 65 as written: too long */
    char q[100];
    str_fmt(q, sizeof q, "<\"%061d\"@x>", 0);
    assert_int_equal(path(q), ADDR_OK);
    str_fmt(q, sizeof q, "<\"%063d\"@x>", 0);
    assert_int_equal(path(q), ADDR_LOCAL_TOO_LONG);
    str_fmt(q, sizeof q, "<\"a b%059d\"@x>", 0);
    assert_int_equal(path(q), ADDR_OK);
    assert_int_equal(strlen(A.local), 64);
}

static void test_domain_length(void **state)
{
    (void)state;
    char *p = make_path(3, 255);
    assert_int_equal(path(p), ADDR_OK);
    assert_int_equal(strlen(A.domain), 255);
    free(p);
    p = make_path(3, 256);
    assert_int_equal(path(p), ADDR_DOMAIN_TOO_LONG);
    free(p);
    p = make_path(3, 2000);
    assert_int_equal(path(p), ADDR_DOMAIN_TOO_LONG);
    free(p);
    /* malformed beats too long */
    p = make_path(80, 3);
    p[2] = '.';
    p[3] = '.';
    assert_int_equal(path(p), ADDR_SYNTAX);
    free(p);
}

/* A path cut by len must not be read past it. */
static void test_bounds(void **state)
{
    (void)state;
    const char *s = "<bob@x.example>";
    for (size_t n = 0; n < strlen(s); n++) {
        char *copy = malloc(n ? n : 1);
        memcpy(copy, s, n);
        assert_int_equal(addr_parse_path(copy, n, 1, 1, &A, &used), ADDR_SYNTAX);
        free(copy);
    }
    char *copy = malloc(strlen(s));
    memcpy(copy, s, strlen(s));
    assert_int_equal(addr_parse_path(copy, strlen(s), 1, 1, &A, &used), ADDR_OK);
    free(copy);
    copy = malloc(2);
    memcpy(copy, "<>", 2);
    assert_int_equal(addr_parse_path(copy, 2, 1, 0, &A, &used), ADDR_OK);
    free(copy);
}

static void test_parse_mailbox(void **state)
{
    (void)state;
    assert_int_equal(addr_parse_mailbox("bob@x.example", &A), ADDR_OK);
    assert_string_equal(A.local, "bob");
    assert_string_equal(A.domain, "x.example");
    assert_int_equal(addr_parse_mailbox("\"a b\"@x.example", &A), ADDR_OK);
    assert_string_equal(A.local, "\"a b\"");
    assert_int_equal(addr_parse_mailbox("u@[192.0.2.1]", &A), ADDR_OK);
    assert_int_equal(addr_parse_mailbox("<bob@x.example>", &A), ADDR_SYNTAX);
    assert_int_equal(addr_parse_mailbox("bob@x.example ", &A), ADDR_SYNTAX);
    assert_int_equal(addr_parse_mailbox("bob", &A), ADDR_SYNTAX);
    assert_int_equal(addr_parse_mailbox("", &A), ADDR_SYNTAX);
    assert_int_equal(addr_parse_mailbox("Postmaster", &A), ADDR_SYNTAX);
    assert_int_equal(addr_parse_mailbox_n("bob@x.exampleJUNK", 13, &A), ADDR_OK);
    assert_string_equal(A.domain, "x.example");
    char *p = make_path(65, 5);
    p[strlen(p) - 1] = '\0';
    assert_int_equal(addr_parse_mailbox(p + 1, &A), ADDR_LOCAL_TOO_LONG);
    free(p);
}

static void test_format(void **state)
{
    (void)state;
    char out[400];
    assert_int_equal(path("<bob@x.example>"), ADDR_OK);
    assert_int_equal(addr_format(&A, out, sizeof out), 0);
    assert_string_equal(out, "bob@x.example");
    assert_int_equal(addr_format(&A, out, 5), -1);
    assert_int_equal(addr_format(&A, out, 14), 0);
    assert_int_equal(addr_format(&A, out, 0), -1);
    assert_int_equal(path("<>"), ADDR_OK);
    assert_int_equal(addr_format(&A, out, sizeof out), 0);
    assert_string_equal(out, "");
    assert_int_equal(rpath("<Postmaster>"), ADDR_OK);
    assert_int_equal(addr_format(&A, out, sizeof out), 0);
    assert_string_equal(out, "Postmaster");
    char *p = make_path(64, 255);
    assert_int_equal(path(p), ADDR_OK);
    assert_int_equal(addr_format(&A, out, sizeof out), 0);
    assert_int_equal(strlen(out), 64 + 1 + 255);
    free(p);
}

static void test_equal_and_literal(void **state)
{
    (void)state;
    struct addr a, b, n;
    assert_int_equal(addr_parse_mailbox("Bob@X.Example", &a), ADDR_OK);
    assert_int_equal(addr_parse_mailbox("bob@x.example", &b), ADDR_OK);
    assert_true(addr_equal(&a, &b));
    assert_int_equal(addr_parse_mailbox("\"bob\"@x.example", &b), ADDR_OK);
    assert_true(addr_equal(&a, &b));
    assert_int_equal(addr_parse_mailbox("bob@y.example", &b), ADDR_OK);
    assert_false(addr_equal(&a, &b));
    assert_int_equal(addr_parse_path("<>", 2, 1, 0, &n, &used), ADDR_OK);
    assert_false(addr_equal(&a, &n));
    assert_true(addr_equal(&n, &n));
    assert_false(addr_is_literal(&a));
}

static void test_utf8_addresses(void **state)
{
    (void)state;
    struct addr a;
    const char *p = "<j\xc3\xbcrgen@b\xc3\xbc" "cher.test>";
    /* ASCII-only parsers refuse UTF-8 */
    assert_int_equal(addr_parse_path(p, strlen(p), 0, 0, &a, &used), ADDR_SYNTAX);
    assert_int_equal(addr_parse_path_flags(p, strlen(p), ADDR_ALLOW_UTF8, &a, &used), ADDR_OK);
    assert_int_equal(used, strlen(p));
    assert_true(a.utf8);
    assert_string_equal(a.local, "j\xc3\xbcrgen");
    assert_string_equal(a.domain, "b\xc3\xbc" "cher.test");
    /* the same mailbox with its A-label is equal */
    struct addr b;
    const char *m = "j\xc3\xbcrgen@XN--BCHER-KVA.test";
    assert_int_equal(addr_parse_mailbox_flags(m, strlen(m), ADDR_ALLOW_UTF8, &b), ADDR_OK);
    assert_true(addr_equal(&a, &b));
    assert_int_equal(addr_parse_mailbox("plain@x.test", &b), ADDR_OK);
    assert_false(b.utf8);
    /* quoted UTF-8 content that is a dot-atom is stored unquoted */
    p = "<\"\xe7\x94\xa8\xe6\x88\xb7\"@x.test>";
    assert_int_equal(addr_parse_path_flags(p, strlen(p), ADDR_ALLOW_UTF8, &a, &used), ADDR_OK);
    assert_string_equal(a.local, "\xe7\x94\xa8\xe6\x88\xb7");
    static const char *const bad[] = {
        "<ju\xcc\x88rgen@x.test>",       /* NFD */
        "<j\xc3rgen@x.test>",             /* invalid UTF-8 */
        "<a\xc2\x85" "b@x.test>",        /* C1 control */
        "<a@\xff.test>",                  /* no IDN */
        "<a@b\xc3\xbc" "cher..test>",    /* empty label */
        "<a@xn--zz.test>",                 /* bad punycode is still an LDH label: allowed */
    };
    for (size_t i = 0; i + 1 < sizeof bad / sizeof bad[0]; i++)
        assert_int_equal(addr_parse_path_flags(bad[i], strlen(bad[i]), ADDR_ALLOW_UTF8, &a, &used),
                         ADDR_SYNTAX);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_simple_path),
        cmocka_unit_test(test_atext_specials),
        cmocka_unit_test(test_bad_dot_atom),
        cmocka_unit_test(test_quoted_unquoted_when_dot_atom),
        cmocka_unit_test(test_quoted_kept),
        cmocka_unit_test(test_quoted_bad),
        cmocka_unit_test(test_domains),
        cmocka_unit_test(test_literals),
        cmocka_unit_test(test_bad_literals),
        cmocka_unit_test(test_null_path),
        cmocka_unit_test(test_postmaster),
        cmocka_unit_test(test_source_route),
        cmocka_unit_test(test_spaces_and_brackets),
        cmocka_unit_test(test_local_length),
        cmocka_unit_test(test_domain_length),
        cmocka_unit_test(test_bounds),
        cmocka_unit_test(test_parse_mailbox),
        cmocka_unit_test(test_format),
        cmocka_unit_test(test_equal_and_literal),
        cmocka_unit_test(test_utf8_addresses),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
