/*
 * test_addrlist: unit tests for proto/addrlist (RFC 5322 3.4 address-lists
 * and the obsolete syntax of 4.4). Covers addr-specs, lists with empty
 * elements, name-addrs (quoted, dotted, encoded-word and 8-bit display
 * names), comments and folding, quoted local parts, domain literals, routes,
 * groups, <>, unqualified addresses, the callback's stop value, bounds
 * (never reading past len), and every error with its message.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
#include <stdlib.h>
#include <string.h>
#include "proto/addrlist.h"
#include "lib/str.h"

/* Addresses reported by the last parse, joined with '|'. */
static char got[4096];
static int ngot;
static const char *err;

static int collect(void *ctx, const char *addr)
{
    (void)ctx;
    size_t n = strlen(got);
    assert_int_equal(str_fmt(got + n, sizeof got - n, "%s%s", ngot ? "|" : "", addr), 0);
    ngot++;
    return 0;
}

static int parse_dd(const char *s, const char *dd)
{
    got[0] = '\0';
    ngot = 0;
    err = "unset";
    return addrlist_parse(s, strlen(s), dd, collect, NULL, &err);
}

static int parse(const char *s)
{
    return parse_dd(s, NULL);
}

/* Parses s, expects success and exactly the addresses in want. */
static void ok(const char *s, const char *want)
{
    assert_int_equal(parse(s), 0);
    assert_null(err);
    assert_string_equal(got, want);
}

/* Parses s, expects a syntax error whose message contains frag. */
static void bad(const char *s, const char *frag)
{
    assert_int_equal(parse(s), -1);
    assert_non_null(err);
    if (!strstr(err, frag))
        fail_msg("input \"%s\": error \"%s\" lacks \"%s\"", s, err, frag);
}

static void test_empty(void **state)
{
    (void)state;
    ok("", "");
    ok("   ", "");
    ok(" (nobody) ", "");
    ok("\r\n ", "");
    assert_int_equal(ngot, 0);
}

static void test_addr_spec(void **state)
{
    (void)state;
    ok("a@x", "a@x");
    ok("  Bob.Smith+tag@Sub.Example-1.ORG  ", "Bob.Smith+tag@Sub.Example-1.ORG");
    ok("!#$%&'*+-/=?^_`{|}~@x.example", "!#$%&'*+-/=?^_`{|}~@x.example");
}

static void test_list(void **state)
{
    (void)state;
    ok("a@x, b@y", "a@x|b@y");
    ok("a@x,b@y,c@z", "a@x|b@y|c@z");
    assert_int_equal(ngot, 3);
}

static void test_empty_elements(void **state)
{
    (void)state;
    ok("a@x,,b@y", "a@x|b@y");
    ok(",a@x", "a@x");
    ok("a@x,", "a@x");
    ok(" , , a@x , (c) , b@y ,, ", "a@x|b@y");
    ok(",,,", "");
}

static void test_name_addr(void **state)
{
    (void)state;
    ok("John Doe <jd@x>", "jd@x");
    ok("<jd@x>", "jd@x");
    ok("John Doe<jd@x>,Jane <jane@y>", "jd@x|jane@y");
    ok("John Doe < jd @ x >", "jd@x");
}

static void test_quoted_display_name(void **state)
{
    (void)state;
    ok("\"Doe, John\" <jd@x>", "jd@x");
    ok("\"Doe, John\" <jd@x>, \"a;b:c<d>\" <e@f>", "jd@x|e@f");
    ok("\"Say \\\"hi\\\"\" <h@x>", "h@x");
    ok("\"\" <e@x>", "e@x");
}

static void test_obs_phrase(void **state)
{
    (void)state;
    ok("J. Doe <jd@x>", "jd@x");
    ok("John Q. Public <jqp@x>, Dr. No. <no@y>", "jqp@x|no@y");
}

static void test_encoded_and_8bit_names(void **state)
{
    (void)state;
    ok("=?utf-8?q?J=C3=B6rg?= <j@x>", "j@x");
    ok("=?UTF-8?B?SsO2cmc=?= Smith <j@x>", "j@x");
    ok("J\xc3\xb6rg <j@x>", "j@x");
    ok("\"J\xc3\xb6rg\" <j@x>", "j@x");
}

static void test_comments(void **state)
{
    (void)state;
    ok("jd@x (John (the) Doe)", "jd@x");
    ok("(c) <jd@x>", "jd@x");
    ok("jd(c)@x(c)", "jd@x");
    ok("(a)jd(b)@(c)x(d),(e)k@y", "jd@x|k@y");
    ok("John (middle) Doe <jd@x> (work)", "jd@x");
    ok("<(c)jd@x(c)>", "jd@x");
    ok("jd@x (((deep)))", "jd@x");
}

static void test_comment_quoted_pairs(void **state)
{
    (void)state;
    ok("jd@x (a \\) still comment)", "jd@x");
    ok("jd@x (a \\( b)", "jd@x");
    ok("jd@x (\"not a quote, really)", "jd@x");
    ok("(<no@x>, no@y) jd@x", "jd@x");
}

static void test_quoted_local_kept(void **state)
{
    (void)state;
    ok("\"john doe\"@x", "\"john doe\"@x");
    ok("Name <\"john doe\"@x>", "\"john doe\"@x");
    ok("\"a..b\"@x", "\"a..b\"@x");
    ok("\"a@b\"@x", "\"a@b\"@x");
    ok("\"a,b\"@x, c@y", "\"a,b\"@x|c@y");
}

static void test_quoted_local_unquoted(void **state)
{
    (void)state;
    ok("\"bob\"@x", "bob@x");
    ok("\"b.o.b\"@x", "b.o.b@x");
    ok("\"a\".\"b\"@x", "a.b@x");
    ok("a . b @ x . y", "a.b@x.y");
}

static void test_quoted_pairs_in_quoted(void **state)
{
    (void)state;
    ok("\"\\b\\o\\b\"@x", "bob@x");
    ok("\"a\\\"b\"@x", "\"a\\\"b\"@x");
    ok("\"a\\\\b\"@x", "\"a\\\\b\"@x");
    ok("\"a\\ b\"@x", "\"a b\"@x");
}

static void test_domain_literal(void **state)
{
    (void)state;
    ok("a@[127.0.0.1]", "a@[127.0.0.1]");
    ok("Lit <a@[IPv6:2001:db8::1]>", "a@[IPv6:2001:db8::1]");
    ok("a@[ 127.0.0.1 ]", "a@[127.0.0.1]");
    ok("a@[127.0.0.1], b@y", "a@[127.0.0.1]|b@y");
    bad("a@[999.0.0.1]", "not a valid RFC 5321");
    bad("a@[1.2[3]", "'[' inside");
}

static void test_route(void **state)
{
    (void)state;
    ok("<@a,@b:jd@x>", "jd@x");
    ok("Name <@a.example:jd@x>", "jd@x");
    ok("< @a , @b : jd@x >", "jd@x");
    ok("<@a,,@b:jd@x>", "jd@x");
    bad("<@a jd@x>", "malformed route");
    bad("<@:jd@x>", "missing domain");
}

static void test_group(void **state)
{
    (void)state;
    ok("team: a@x, b@y;", "a@x|b@y");
    ok("team:a@x,b@y;", "a@x|b@y");
    ok("\"the team\": A <a@x>, (c) b@y ;", "a@x|b@y");
    ok("team: a@x,, ,b@y,;", "a@x|b@y");
    ok("team: a@x; (trailing comment)", "a@x");
}

static void test_empty_group(void **state)
{
    (void)state;
    ok("undisclosed-recipients:;", "");
    ok("undisclosed-recipients: ;", "");
    ok("Undisclosed recipients: (none) ;", "");
    assert_int_equal(ngot, 0);
}

static void test_group_mixed(void **state)
{
    (void)state;
    ok("a@x, team: b@y;, c@z", "a@x|b@y|c@z");
    ok("g1: a@x;, g2: b@y;", "a@x|b@y");
    ok("list:;, a@x", "a@x");
}

static void test_group_missing_semicolon(void **state)
{
    (void)state;
    ok("team: a@x, b@y", "a@x|b@y");
    ok("team:", "");
    ok("a@x, team: b@y (c)", "a@x|b@y");
}

static void test_folding(void **state)
{
    (void)state;
    ok("a@x,\r\n b@y", "a@x|b@y");
    ok("a@x,\n\tb@y", "a@x|b@y");
    ok("John\r\n Doe\r\n <jd@x>", "jd@x");
    ok("jd@x (a\r\n comment)", "jd@x");
    ok("\"john\r\n doe\"@x", "\"john doe\"@x");
    ok("team:\r\n a@x,\r\n\tb@y;\r\n", "a@x|b@y");
    ok("a@[127.0.0.1\r\n ]", "a@[127.0.0.1]");
}

static void test_bare_line_breaks(void **state)
{
    (void)state;
    bad("a@x,\r\nb@y", "line break");
    bad("a@x,\nb@y", "line break");
    bad("jd@x (a\nb)", "comment is not folding");
    bad("\"a\nb\"@x", "quoted string is not folding");
    bad("a@[1.2.3.4\n]", "domain literal is not folding");
    bad("a@x\r", "line break");
}

static void test_empty_angle(void **state)
{
    (void)state;
    ok("<>", "");
    ok("Nobody <>, a@x", "a@x");
    ok("< (c) >", "");
    ok("team: <>, a@x;", "a@x");
}

static void test_unqualified(void **state)
{
    (void)state;
    assert_int_equal(parse_dd("user", "d.example"), 0);
    assert_string_equal(got, "user@d.example");
    assert_int_equal(parse_dd("User <user>, b@y, \"j d\"", "d.example"), 0);
    assert_string_equal(got, "user@d.example|b@y|\"j d\"@d.example");
    assert_int_equal(parse_dd("team: u1, u2;", "d.example"), 0);
    assert_string_equal(got, "u1@d.example|u2@d.example");
}

static void test_unqualified_errors(void **state)
{
    (void)state;
    bad("user", "no domain");
    bad("<user>", "no domain");
    assert_int_equal(parse_dd("user", "bad domain!"), -1);
    assert_string_equal(err, "address is not a valid RFC 5321 mailbox");
}

static void test_unterminated(void **state)
{
    (void)state;
    bad("\"john@x", "unterminated quoted string");
    bad("\"john\\\"@x", "unterminated quoted string");
    bad("jd@x (c", "unterminated comment");
    bad("jd@x (a (b)", "unterminated comment");
    bad("jd@x (a \\", "unterminated comment");
    bad("<a@x", "unterminated '<'");
    bad("John <a@x, b@y>", "unexpected character inside <address>");
    bad("a@[127.0.0.1", "unterminated domain literal");
    bad("a@[127.0.0.1\\]", "unterminated domain literal");
}

static void test_missing_parts(void **state)
{
    (void)state;
    bad("a@", "missing domain after '@'");
    bad("a@ , b@y", "missing domain after '@'");
    bad("a@(c)", "missing domain after '@'");
    bad("<a@>", "missing domain after '@'");
    bad("@x", "missing local part before '@'");
    bad("<@x>", "malformed route");
    bad("a@x.", "empty label");
    bad("a@x..y", "empty label");
}

static void test_garbage(void **state)
{
    (void)state;
    bad("a@x>", "'>' without a matching '<'");
    bad(">", "'>' without a matching '<'");
    bad("a@x b@y", "expected ','");
    bad("<a@x> b", "expected ','");
    bad("a@x;", "';' outside a group");
    bad(";", "';' outside a group");
    bad("team: a@x;;", "';' outside a group");
    bad("a@x <b@y>", "expected ','");
    bad("John Doe", "invalid local part");
    bad("John Doe@x", "invalid local part");
    bad("john..doe@x", "invalid local part");
    bad(".john@x", "invalid local part");
    bad("<<a@x>>", "unexpected character where an address was expected");
    bad("a@x\\", "expected ','");
    bad("team: a@x b@y;", "expected ',' or ';'");
}

static void test_nested_group(void **state)
{
    (void)state;
    bad("outer: inner: a@x;;", "nested group");
    bad(": a@x;", "group has no display name");
}

static void test_local_length(void **state)
{
    (void)state;
    char s[200];
    memset(s, 'l', 64);
    memcpy(s + 64, "@x", 3);
    assert_int_equal(parse(s), 0);
    assert_int_equal(ngot, 1);
    memset(s, 'l', 65);
    memcpy(s + 65, "@x", 3);
    bad(s, "local part longer than 64");
    /* 62 characters of content quoted to 64 are fine, 63 are not */
    s[0] = '"';
    memset(s + 1, ' ', 62);
    memcpy(s + 63, "\"@x", 4);
    assert_int_equal(parse(s), 0);
    s[0] = '"';
    memset(s + 1, ' ', 63);
    memcpy(s + 64, "\"@x", 4);
    bad(s, "local part longer than 64");
}

static void test_domain_length(void **state)
{
    (void)state;
    char s[400];
    memcpy(s, "a@", 2);
    for (size_t i = 0; i < 255; i++)
        s[2 + i] = (i % 50 == 49) ? '.' : 'd';
    s[257] = '\0';
    assert_int_equal(parse(s), 0);
    assert_int_equal(ngot, 1);
    memcpy(s + 257, "d", 2);
    bad(s, "domain longer than 255");
    char dd[300];
    memset(dd, 'd', 299);
    dd[299] = '\0';
    assert_int_equal(parse_dd("u", dd), -1);
    assert_non_null(strstr(err, "longer than 255"));
}

static void test_smtp_validation(void **state)
{
    (void)state;
    bad("a@-x", "not a valid RFC 5321");
    bad("a@x_y", "not a valid RFC 5321");
    bad("\"j\xc3\xb6rg\"@x", "not a valid RFC 5321");
    bad("j\xc3\xb6rg@x", "not a valid RFC 5321");
    bad("\"a\tb\"@x", "not a valid RFC 5321");
    bad("a@x!y", "not a valid RFC 5321");
    bad("\"a\\\0b\"@x", "unterminated");
}

static void test_nul_bytes(void **state)
{
    (void)state;
    static const char q[] = "\"a\0b\"@x";
    static const char l[] = "a@[1.2\0.3.4]";
    assert_int_equal(addrlist_parse(q, sizeof q - 1, NULL, collect, NULL, &err), -1);
    assert_non_null(strstr(err, "NUL"));
    assert_int_equal(addrlist_parse(l, sizeof l - 1, NULL, collect, NULL, &err), -1);
    assert_non_null(strstr(err, "NUL"));
    assert_int_equal(addrlist_parse("a@x\0", 4, NULL, collect, NULL, &err), -1);
}

static int stop_at_second(void *ctx, const char *addr)
{
    (void)addr;
    int *n = ctx;
    return ++*n == 2 ? 7 : 0;
}

static void test_callback_stop(void **state)
{
    (void)state;
    int n = 0;
    const char *s = "a@x, b@y, c@z";
    err = "unset";
    assert_int_equal(addrlist_parse(s, strlen(s), NULL, stop_at_second, &n, &err), 7);
    assert_int_equal(n, 2);
    assert_null(err);
    assert_int_equal(addrlist_parse(s, strlen(s), NULL, NULL, NULL, NULL), 0);
    assert_int_equal(addrlist_parse("a@", 2, NULL, NULL, NULL, NULL), -1);
}

static void test_reported_before_error(void **state)
{
    (void)state;
    /* an address is reported only once its separator is seen to be valid */
    assert_int_equal(parse("a@x, <b@y"), -1);
    assert_string_equal(got, "a@x");
    assert_int_equal(parse("<b@y> junk, a@x"), -1);
    assert_string_equal(got, "");
}

static void test_bounds(void **state)
{
    (void)state;
    /* only len bytes are read: the rest of the buffer is ignored */
    char *s = malloc(9);
    memcpy(s, "a@x, b@yZ", 9);
    got[0] = '\0';
    ngot = 0;
    assert_int_equal(addrlist_parse(s, 8, NULL, collect, NULL, &err), 0);
    assert_string_equal(got, "a@x|b@y");
    ngot = 0;
    assert_int_equal(addrlist_parse(s, 2, NULL, collect, NULL, &err), -1);
    assert_int_equal(addrlist_parse(s, 0, NULL, collect, NULL, &err), 0);
    assert_int_equal(ngot, 0);
    free(s);
}

/* addrlist_field_domain: the first mailbox of the first field of that name. */
static void test_field_domain(void **state)
{
    (void)state;
    char d[256];
    const char *m = "Received: by x\r\nFROM: \"Ann\" <ann@Mail.Example.ORG>,\r\n bob@b.example\r\n"
                    "From: eve@evil.example\r\n\r\nFrom: body@body.example\r\n";
    assert_int_equal(addrlist_field_domain(m, strlen(m), "From", d, sizeof d), 0);
    assert_string_equal(d, "mail.example.org");
    assert_int_equal(addrlist_field_domain(m, strlen(m), "Sender", d, sizeof d), -1);
    const char *g = "From: undisclosed:;\r\n\r\n";
    assert_int_equal(addrlist_field_domain(g, strlen(g), "From", d, sizeof d), -1);
    const char *b = "From: a@@b\r\n\r\n";
    assert_int_equal(addrlist_field_domain(b, strlen(b), "From", d, sizeof d), -1);
    const char *q = "From: \"a@b\"@Q.example\r\n";
    assert_int_equal(addrlist_field_domain(q, strlen(q), "From", d, sizeof d), 0);
    assert_string_equal(d, "q.example");
    assert_int_equal(addrlist_field_domain(q, strlen(q), "From", d, 5), -1);
    const char *body = "Subject: x\r\n\r\nFrom: a@b.example\r\n";
    assert_int_equal(addrlist_field_domain(body, strlen(body), "From", d, sizeof d), -1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_empty),
        cmocka_unit_test(test_addr_spec),
        cmocka_unit_test(test_list),
        cmocka_unit_test(test_empty_elements),
        cmocka_unit_test(test_name_addr),
        cmocka_unit_test(test_quoted_display_name),
        cmocka_unit_test(test_obs_phrase),
        cmocka_unit_test(test_encoded_and_8bit_names),
        cmocka_unit_test(test_comments),
        cmocka_unit_test(test_comment_quoted_pairs),
        cmocka_unit_test(test_quoted_local_kept),
        cmocka_unit_test(test_quoted_local_unquoted),
        cmocka_unit_test(test_quoted_pairs_in_quoted),
        cmocka_unit_test(test_domain_literal),
        cmocka_unit_test(test_route),
        cmocka_unit_test(test_group),
        cmocka_unit_test(test_empty_group),
        cmocka_unit_test(test_group_mixed),
        cmocka_unit_test(test_group_missing_semicolon),
        cmocka_unit_test(test_folding),
        cmocka_unit_test(test_bare_line_breaks),
        cmocka_unit_test(test_empty_angle),
        cmocka_unit_test(test_unqualified),
        cmocka_unit_test(test_unqualified_errors),
        cmocka_unit_test(test_unterminated),
        cmocka_unit_test(test_missing_parts),
        cmocka_unit_test(test_garbage),
        cmocka_unit_test(test_nested_group),
        cmocka_unit_test(test_local_length),
        cmocka_unit_test(test_domain_length),
        cmocka_unit_test(test_smtp_validation),
        cmocka_unit_test(test_nul_bytes),
        cmocka_unit_test(test_callback_stop),
        cmocka_unit_test(test_reported_before_error),
        cmocka_unit_test(test_bounds),
        cmocka_unit_test(test_field_domain),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
