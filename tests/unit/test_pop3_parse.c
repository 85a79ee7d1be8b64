/*
 * test_pop3_parse: unit tests for proto/pop3_parse: verbs (case-insensitive),
 * argument checks (numbers, counts, spaces), AUTH with and without an
 * initial response; pop3_stuff: CRLF, dot-stuffing, TOP line limits.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
#include <string.h>
#include "proto/pop3_parse.h"

static enum pop3_parse_result parse(const char *s, struct pop3_cmd *c)
{
    return pop3_parse_line(s, strlen(s), c);
}

static void test_verbs(void **state)
{
    (void)state;
    struct pop3_cmd c;
    assert_int_equal(parse("stat", &c), POP3_PARSE_OK);
    assert_int_equal(c.verb, POP3_STAT);
    assert_int_equal(parse("QUIT", &c), POP3_PARSE_OK);
    assert_int_equal(c.verb, POP3_QUIT);
    assert_int_equal(parse("Top 1 0", &c), POP3_PARSE_OK);
    assert_int_equal(c.verb, POP3_TOP);
    assert_int_equal(c.n_nums, 2);
    assert_int_equal(c.num[0], 1);
    assert_int_equal(c.num[1], 0);
    assert_int_equal(parse("XYZZY", &c), POP3_PARSE_UNKNOWN);
    assert_int_equal(parse("", &c), POP3_PARSE_UNKNOWN);
    assert_int_equal(parse("ST", &c), POP3_PARSE_UNKNOWN);
    assert_int_equal(parse("STATS", &c), POP3_PARSE_UNKNOWN);
}

static void test_numbers(void **state)
{
    (void)state;
    struct pop3_cmd c;
    assert_int_equal(parse("LIST", &c), POP3_PARSE_OK);
    assert_int_equal(c.n_nums, 0);
    assert_int_equal(parse("LIST 3", &c), POP3_PARSE_OK);
    assert_int_equal(c.num[0], 3);
    assert_int_equal(parse("LIST 0", &c), POP3_PARSE_BAD_ARGS);
    assert_int_equal(parse("LIST 1 2", &c), POP3_PARSE_BAD_ARGS);
    assert_int_equal(parse("LIST ", &c), POP3_PARSE_BAD_ARGS);
    assert_int_equal(parse("RETR", &c), POP3_PARSE_BAD_ARGS);
    assert_int_equal(parse("RETR -1", &c), POP3_PARSE_BAD_ARGS);
    assert_int_equal(parse("RETR 1x", &c), POP3_PARSE_BAD_ARGS);
    assert_int_equal(parse("RETR 1234567890", &c), POP3_PARSE_BAD_ARGS);
    assert_int_equal(parse("DELE 7", &c), POP3_PARSE_OK);
    assert_int_equal(c.num[0], 7);
    assert_int_equal(parse("TOP 1", &c), POP3_PARSE_BAD_ARGS);
    assert_int_equal(parse("TOP 1 2 ", &c), POP3_PARSE_BAD_ARGS);
    assert_int_equal(parse("TOP 1  2", &c), POP3_PARSE_BAD_ARGS);
    assert_int_equal(parse("UIDL 2", &c), POP3_PARSE_OK);
    assert_int_equal(parse("NOOP x", &c), POP3_PARSE_BAD_ARGS);
}

static void test_user_pass_auth(void **state)
{
    (void)state;
    struct pop3_cmd c;
    assert_int_equal(parse("USER bob@example.test", &c), POP3_PARSE_OK);
    assert_int_equal(c.arg_len, 16);
    assert_memory_equal(c.arg, "bob@example.test", 16);
    assert_int_equal(parse("PASS with space", &c), POP3_PARSE_OK);
    assert_int_equal(c.arg_len, 10);
    assert_int_equal(parse("PASS", &c), POP3_PARSE_BAD_ARGS);
    assert_int_equal(parse("USER ", &c), POP3_PARSE_BAD_ARGS);
    assert_int_equal(parse("AUTH", &c), POP3_PARSE_OK);
    assert_null(c.arg);
    assert_int_equal(parse("AUTH PLAIN", &c), POP3_PARSE_OK);
    assert_int_equal(c.arg_len, 5);
    assert_null(c.arg2);
    assert_int_equal(parse("AUTH PLAIN AGJvYgBz", &c), POP3_PARSE_OK);
    assert_int_equal(c.arg2_len, 8);
    assert_int_equal(parse("AUTH PLAIN a b", &c), POP3_PARSE_BAD_ARGS);
    assert_int_equal(pop3_parse_line("USER a\0b", 8, &c), POP3_PARSE_UNKNOWN);
}

static const char *stuff(const char *in, long lines)
{
    static char out[1024];
    struct pop3_stuff st;
    size_t used, n = 0, len = strlen(in);
    pop3_stuff_init(&st, lines);
    /* one byte at a time: chunk boundaries must not matter */
    for (size_t i = 0; i < len && !st.done; i++)
        n += pop3_stuff(&st, in + i, 1, out + n, &used);
    out[n] = '\0';
    return out;
}

static void test_stuff(void **state)
{
    (void)state;
    assert_string_equal(stuff("A: b\n\nbody\n.dot\n..\n", -1), "A: b\r\n\r\nbody\r\n..dot\r\n...\r\n");
    assert_string_equal(stuff("A: b\nC: d\n\nl1\nl2\nl3\n", 0), "A: b\r\nC: d\r\n\r\n");
    assert_string_equal(stuff("A: b\n\nl1\n.l2\nl3\n", 2), "A: b\r\n\r\nl1\r\n..l2\r\n");
    assert_string_equal(stuff("A: b\n\nl1\n", 5), "A: b\r\n\r\nl1\r\n");
    assert_string_equal(stuff("no end", -1), "no end");
    struct pop3_stuff st;
    size_t used;
    char out[64];
    pop3_stuff_init(&st, 0);
    pop3_stuff(&st, "H: x\n\nbody\n", 11, out, &used);
    assert_true(st.done);
    assert_int_equal(used, 6);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_verbs),
        cmocka_unit_test(test_numbers),
        cmocka_unit_test(test_user_pass_auth),
        cmocka_unit_test(test_stuff),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
