/*
 * test_intl: unit tests for proto/intl (UTF-8 validity, NFC, control
 * characters, IDNA2008 conversion and domain / mailbox keys) and for the
 * RFC 6533 utf-8 address encodings in proto/xtext.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
#include <string.h>
#include "proto/intl.h"
#include "proto/xtext.h"

#define OK(s) intl_utf8_ok((s), strlen(s))

static void test_utf8_ok(void **state)
{
    (void)state;
    assert_true(OK("plain"));
    assert_true(OK("j\xc3\xbcrgen"));                 /* jürgen, NFC */
    assert_true(OK("\xe7\x94\xa8\xe6\x88\xb7"));      /* 用户 */
    assert_false(OK("ju\xcc\x88rgen"));               /* u + combining diaeresis: NFD */
    assert_false(OK("\xc3"));                         /* truncated sequence */
    assert_false(OK("\xc0\xaf"));                     /* overlong '/' */
    assert_false(OK("\xed\xa0\x80"));                 /* surrogate U+D800 */
    assert_false(OK("\xff"));
    assert_false(OK("a\x01" "b"));                    /* C0 control */
    assert_false(OK("a\x7f"));                        /* DEL */
    assert_false(OK("a\xc2\x85"));                    /* C1 control U+0085 */
    assert_true(intl_is_ascii("abc", 3));
    assert_false(intl_is_ascii("\xc3\xbc", 2));
}

static void test_domain_to_ascii(void **state)
{
    (void)state;
    char out[INTL_DOMAIN_MAX];
    assert_int_equal(intl_domain_to_ascii("b\xc3\xbc" "cher.test", out, sizeof out), 0);
    assert_string_equal(out, "xn--bcher-kva.test");
    assert_int_equal(intl_domain_to_ascii("B\xc3\x9c" "CHER.Test", out, sizeof out), 0);
    assert_string_equal(out, "xn--bcher-kva.test");
    assert_int_equal(intl_domain_to_ascii("Example.COM", out, sizeof out), 0);
    assert_string_equal(out, "example.com");
    /* non-transitional: sharp s stays (straße.de is not strasse.de) */
    assert_int_equal(intl_domain_to_ascii("stra\xc3\x9f" "e.de", out, sizeof out), 0);
    assert_string_equal(out, "xn--strae-oqa.de");
    assert_int_equal(intl_domain_to_ascii("b\xc3\xbc" "cher.test", out, 5), -1);
    assert_int_equal(intl_domain_to_ascii("\xff.test", out, sizeof out), -1);
    assert_int_equal(intl_domain_to_ascii("bu\xcc\x88" "cher.test", out, sizeof out), -1);
    assert_int_equal(intl_domain_to_unicode("xn--bcher-kva.test", out, sizeof out), 0);
    assert_string_equal(out, "b\xc3\xbc" "cher.test");
    assert_int_equal(intl_domain_to_unicode("xn--zz.test", out, sizeof out), -1);
}

static void test_domain_equal_and_key(void **state)
{
    (void)state;
    char key[300];
    assert_true(intl_domain_equal("b\xc3\xbc" "cher.test", "XN--BCHER-KVA.test"));
    assert_true(intl_domain_equal("a.test", "A.TEST"));
    assert_false(intl_domain_equal("b\xc3\xbc" "cher.test", "bucher.test"));
    assert_false(intl_domain_equal("\xff", "\xff"));
    assert_int_equal(intl_mailbox_key("J\xc3\x9c" "rgen@B\xc3\xbc" "cher.Test", key, sizeof key), 0);
    assert_string_equal(key, "j\xc3\x9c" "rgen@xn--bcher-kva.test"); /* Ü kept, J lowered */
    assert_int_equal(intl_mailbox_key("nodomain", key, sizeof key), -1);
    assert_int_equal(intl_mailbox_key("a@b.test", key, 4), -1);
}

static void test_utf8_addr_xtext(void **state)
{
    (void)state;
    char out[200];
    assert_int_equal(xtext_utf8_decode("j\\x{FC}rgen@x.test", 18, out, sizeof out), 0);
    assert_string_equal(out, "j\xc3\xbcrgen@x.test");
    assert_int_equal(xtext_utf8_decode("j\xc3\xbcrgen@x.test", 14, out, sizeof out), 0);
    assert_string_equal(out, "j\xc3\xbcrgen@x.test");
    assert_int_equal(xtext_utf8_decode("a\\x{2B}b", 8, out, sizeof out), 0);
    assert_string_equal(out, "a+b");
    assert_int_equal(xtext_utf8_decode("a+b", 3, out, sizeof out), -1);      /* '+' no QCHAR */
    assert_int_equal(xtext_utf8_decode("a\\x{D800}", 9, out, sizeof out), -1);
    assert_int_equal(xtext_utf8_decode("a\\x{0A}", 7, out, sizeof out), -1); /* LF */
    assert_int_equal(xtext_utf8_decode("a\\x{110000}", 11, out, sizeof out), -1);
    assert_int_equal(xtext_utf8_decode("a\\x{}", 5, out, sizeof out), -1);
    assert_int_equal(xtext_utf8_decode("a\\x{41", 6, out, sizeof out), -1);
    assert_int_equal(xtext_utf8_decode("", 0, out, sizeof out), -1);
    assert_int_equal(xtext_utf8_decode("abcdef", 6, out, 4), -1);
    assert_int_equal(xtext_utf8_encode("j\xc3\xbcr+=@x", 0, out, sizeof out), 0);
    assert_string_equal(out, "j\\x{FC}r\\x{2B}\\x{3D}@x");
    assert_int_equal(xtext_utf8_encode("j\xc3\xbcr@x", 1, out, sizeof out), 0);
    assert_string_equal(out, "j\xc3\xbcr@x");
    assert_int_equal(xtext_utf8_encode("\xff", 1, out, sizeof out), -1);
    assert_int_equal(xtext_utf8_encode("abcdef", 0, out, 4), -1);
}

static void test_head_8bit(void **state)
{
    (void)state;
    const char *a = "Subject: hi\r\nFrom: a@b\r\n\r\nbody \xc3\xbc\r\n";
    const char *u = "Subject: \xc3\xbc" "ber\r\n\r\nbody\r\n";
    assert_false(intl_head_8bit(a, strlen(a)));
    assert_true(intl_head_8bit(u, strlen(u)));
    assert_false(intl_head_8bit("\r\n\xc3\xbc", 4));
    assert_true(intl_head_8bit("X: \xff", 4));
    assert_false(intl_head_8bit("", 0));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_utf8_ok),
        cmocka_unit_test(test_domain_to_ascii),
        cmocka_unit_test(test_domain_equal_and_key),
        cmocka_unit_test(test_utf8_addr_xtext),
        cmocka_unit_test(test_head_8bit),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
