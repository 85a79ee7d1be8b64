/*
 * test_xtext: unit tests for proto/xtext (RFC 3461 section 4 xtext).
 * Covers strict decoding (bad '+' escapes, raw bytes outside '!'..'~', raw
 * '='), refusal of decoded control characters (CR, LF, NUL, DEL) and 8-bit
 * bytes, upper-case encoding, the buffer limit, and round trips.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
#include <string.h>
#include "proto/xtext.h"

/* Decodes s and returns the result (static), or NULL on failure. */
static const char *decode(const char *s)
{
    static char out[1024];
    struct buf b;
    buf_init(&b, sizeof out - 1);
    int r = xtext_decode(s, strlen(s), &b);
    memcpy(out, buf_cstr(&b), b.len + 1);
    buf_free(&b);
    return r == 0 ? out : NULL;
}

static const char *encode_n(const char *s, size_t n)
{
    static char out[1024];
    struct buf b;
    buf_init(&b, sizeof out - 1);
    int r = xtext_encode(s, n, &b);
    memcpy(out, buf_cstr(&b), b.len + 1);
    buf_free(&b);
    return r == 0 ? out : NULL;
}

static void test_decode_plain(void **state)
{
    (void)state;
    assert_string_equal(decode("abc@example.org"), "abc@example.org");
    assert_string_equal(decode(""), "");
    assert_string_equal(decode("!~"), "!~");
}

static void test_decode_escapes(void **state)
{
    (void)state;
    assert_string_equal(decode("a+2Bb"), "a+b");
    assert_string_equal(decode("a+3Db"), "a=b");
    assert_string_equal(decode("+20"), " ");
    assert_string_equal(decode("+2b"), "+"); /* lower-case hex accepted */
    assert_string_equal(decode("+41+42C"), "ABC");
}

static void test_decode_bad_plus(void **state)
{
    (void)state;
    assert_null(decode("+"));
    assert_null(decode("a+"));
    assert_null(decode("a+2"));
    assert_null(decode("+G0"));
    assert_null(decode("+0G"));
    assert_null(decode("+ 2B"));
    assert_null(decode("++2B"));
}

static void test_decode_bad_raw(void **state)
{
    (void)state;
    assert_null(decode("a=b"));
    assert_null(decode("a b"));
    assert_null(decode("a\tb"));
    assert_null(decode("a\rb"));
    assert_null(decode("a\nb"));
    assert_null(decode("a\x7f" "b"));
    assert_null(decode("caf\xc3\xa9"));
    struct buf b;
    buf_init(&b, 100);
    assert_int_equal(xtext_decode("a\0b", 3, &b), -1);
    buf_free(&b);
}

static void test_decode_forbidden_results(void **state)
{
    (void)state;
    assert_null(decode("+0D"));
    assert_null(decode("+0A"));
    assert_null(decode("a+0D+0AX-Injected: 1"));
    assert_null(decode("+00"));
    assert_null(decode("+1F"));
    assert_null(decode("+7F"));
    assert_null(decode("+80"));
    assert_null(decode("+FF"));
    assert_string_equal(decode("+7E"), "~");
}

static void test_decode_keeps_buffer_on_error(void **state)
{
    (void)state;
    struct buf b;
    buf_init(&b, 100);
    buf_appends(&b, "keep");
    assert_int_equal(xtext_decode("abc+0A", 6, &b), -1);
    assert_int_equal(b.len, 4);
    assert_string_equal(buf_cstr(&b), "keep");
    assert_int_equal(xtext_decode("xy", 2, &b), 0);
    assert_string_equal(buf_cstr(&b), "keepxy");
    buf_free(&b);
}

static void test_decode_limit(void **state)
{
    (void)state;
    struct buf b;
    buf_init(&b, 3);
    assert_int_equal(xtext_decode("abcd", 4, &b), -1);
    assert_int_equal(b.len, 0);
    assert_int_equal(xtext_decode("a+2Bc", 5, &b), 0);
    assert_string_equal(buf_cstr(&b), "a+c");
    buf_free(&b);
}

static void test_encode(void **state)
{
    (void)state;
    assert_string_equal(encode_n("abc", 3), "abc");
    assert_string_equal(encode_n("a+b=c", 5), "a+2Bb+3Dc");
    assert_string_equal(encode_n("a b", 3), "a+20b");
    assert_string_equal(encode_n("\r\n", 2), "+0D+0A");
    assert_string_equal(encode_n("\xff\x7f", 2), "+FF+7F");
    assert_string_equal(encode_n("a\0b", 3), "a+00b");
    assert_string_equal(encode_n("", 0), "");
}

static void test_encode_limit(void **state)
{
    (void)state;
    struct buf b;
    buf_init(&b, 4);
    assert_int_equal(xtext_encode("ab+", 3, &b), -1); /* "ab+2B" is 5 bytes */
    assert_int_equal(b.len, 0);
    assert_int_equal(xtext_encode("a+", 2, &b), 0);
    assert_string_equal(buf_cstr(&b), "a+2B");
    buf_free(&b);
}

/* Every printable byte and space survives encode then decode. */
static void test_round_trip_printable(void **state)
{
    (void)state;
    char all[96];
    for (int i = 0; i < 95; i++)
        all[i] = (char)(0x20 + i);
    all[95] = '\0';
    const char *enc = encode_n(all, 95);
    assert_non_null(enc);
    for (const char *p = enc; *p; p++)
        assert_true(*p >= '!' && *p <= '~' && *p != '=');
    assert_string_equal(decode(enc), all);
}

static void test_round_trip_examples(void **state)
{
    (void)state;
    const char *cases[] = { "bob@example.org", "a+b@c", "x=y", "<id.123@host>", "Q&A ~!" };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char enc[256];
        const char *e = encode_n(cases[i], strlen(cases[i]));
        assert_non_null(e);
        memcpy(enc, e, strlen(e) + 1);
        assert_string_equal(decode(enc), cases[i]);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_decode_plain),
        cmocka_unit_test(test_decode_escapes),
        cmocka_unit_test(test_decode_bad_plus),
        cmocka_unit_test(test_decode_bad_raw),
        cmocka_unit_test(test_decode_forbidden_results),
        cmocka_unit_test(test_decode_keeps_buffer_on_error),
        cmocka_unit_test(test_decode_limit),
        cmocka_unit_test(test_encode),
        cmocka_unit_test(test_encode_limit),
        cmocka_unit_test(test_round_trip_printable),
        cmocka_unit_test(test_round_trip_examples),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
