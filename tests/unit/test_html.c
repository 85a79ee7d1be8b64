/*
 * test_html: escaping page values (lib/html): every markup character, control
 * characters, NUL inside a length-given string, UTF-8 kept as it is, a full
 * buffer reported; URL encoding of path segments and query values.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>
#include "lib/html.h"

static void esc_is(const char *in, size_t n, const char *want)
{
    struct buf b;
    buf_init(&b, 4096);
    assert_int_equal(html_escape(&b, in, n), 0);
    assert_string_equal(buf_cstr(&b), want);
    buf_free(&b);
}

static void test_html_markup(void **state)
{
    (void)state;
    esc_is("plain text", 10, "plain text");
    esc_is("<script>alert('x')</script>", 27,
           "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;");
    esc_is("a & b \"c\"", 9, "a &amp; b &quot;c&quot;");
    esc_is("&amp;", 5, "&amp;amp;");
    esc_is("", 0, "");
}

static void test_html_controls(void **state)
{
    (void)state;
    esc_is("a\tb\r\nc", 6, "a\tb\r\nc");
    esc_is("a\0b", 3, "a\xef\xbf\xbd" "b");
    esc_is("\x1b[31m\x7f", 6, "\xef\xbf\xbd[31m\xef\xbf\xbd");
    esc_is("caf\xc3\xa9 \xe2\x82\xac", 9, "caf\xc3\xa9 \xe2\x82\xac");
}

static void test_html_full(void **state)
{
    (void)state;
    struct buf b;
    buf_init(&b, 8);
    assert_int_equal(html_escape(&b, "<<<<", 4), -1);
    buf_free(&b);
    buf_init(&b, 64);
    assert_int_equal(html_escapes(&b, NULL), 0);
    assert_int_equal(b.len, 0);
    buf_free(&b);
}

static void test_html_urlencode(void **state)
{
    (void)state;
    struct buf b;
    buf_init(&b, 256);
    assert_int_equal(html_urlencode(&b, "a b/c?d=e&f~g.h-i_j%\xc3\xa9"), 0);
    assert_string_equal(buf_cstr(&b), "a%20b%2Fc%3Fd%3De%26f~g.h-i_j%25%C3%A9");
    buf_free(&b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_html_markup),
        cmocka_unit_test(test_html_controls),
        cmocka_unit_test(test_html_full),
        cmocka_unit_test(test_html_urlencode),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
