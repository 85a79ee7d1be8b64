/*
 * test_smtp_dotstuff: unit tests for proto/smtp_dotstuff. Covers dots at the
 * start, after CRLF and mid-line, the end of data with and without a final
 * CRLF, empty content, and that splitting the input anywhere (a dot at a
 * piece's start, CRLF across pieces) gives the same bytes.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
#include <string.h>
#include "lib/buf.h"
#include "proto/smtp_dotstuff.h"

static void emit(void *ctx, const char *p, size_t n)
{
    assert_int_equal(buf_append(ctx, p, n), 0);
}

/* Stuffs s given in pieces of at most piece bytes; returns the wire form (static). */
static const char *stuff(const char *s, size_t piece)
{
    static char out[1024];
    struct buf b;
    struct smtp_dotstuff st;
    buf_init(&b, sizeof out - 1);
    smtp_dotstuff_init(&st);
    size_t len = strlen(s);
    for (size_t i = 0; i < len; i += piece)
        smtp_dotstuff_feed(&st, s + i, len - i < piece ? len - i : piece, emit, &b);
    smtp_dotstuff_end(&st, emit, &b);
    memcpy(out, buf_cstr(&b), b.len + 1);
    buf_free(&b);
    return out;
}

static void test_stuffing(void **state)
{
    (void)state;
    assert_string_equal(stuff("", 64), ".\r\n");
    assert_string_equal(stuff("a\r\n", 64), "a\r\n.\r\n");
    assert_string_equal(stuff(".\r\n", 64), "..\r\n.\r\n");
    assert_string_equal(stuff("a\r\n.b\r\n..c\r\n", 64), "a\r\n..b\r\n...c\r\n.\r\n");
    assert_string_equal(stuff("a.b\r\nc. .\r\n", 64), "a.b\r\nc. .\r\n.\r\n");
}

static void test_end_without_crlf(void **state)
{
    (void)state;
    assert_string_equal(stuff("abc", 64), "abc\r\n.\r\n");
    assert_string_equal(stuff("a\r\n.", 64), "a\r\n..\r\n.\r\n");
    assert_string_equal(stuff("a\r", 64), "a\r\r\n.\r\n"); /* as the client always did */
}

static void test_any_split(void **state)
{
    (void)state;
    const char *in = ".x\r\n.\r\n\r\n..\r\nmid.dle\r\n.end";
    char whole[256];
    memcpy(whole, stuff(in, 1024), strlen(stuff(in, 1024)) + 1);
    for (size_t piece = 1; piece < 12; piece++)
        assert_string_equal(stuff(in, piece), whole);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_stuffing),
        cmocka_unit_test(test_end_without_crlf),
        cmocka_unit_test(test_any_split),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
