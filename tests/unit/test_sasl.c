/*
 * test_sasl: unit tests for proto/sasl (RFC 4648 base64, RFC 4616 PLAIN,
 * the LOGIN mechanism, RFC 4954 response conventions).
 * Covers base64 decoding of every padding form, strictness (alphabet,
 * length, misplaced and excess '=', non-zero unused bits, white space),
 * the output limit at its edge, encoding and round trips; "*" and "="
 * responses; PLAIN with and without authzid, missing NULs, empty fields,
 * extra NULs, fields over their limits; LOGIN steps.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
#include <string.h>
#include "lib/str.h"
#include "proto/sasl.h"

static unsigned char out[4096];
static size_t out_len;

/* Decodes s; returns 0/-1 as sasl_base64_decode, with out NUL-terminated on success. */
static int dec(const char *s, size_t cap)
{
    memset(out, 0x55, sizeof out);
    int r = sasl_base64_decode(s, strlen(s), out, cap, &out_len);
    if (r == 0)
        out[out_len] = '\0';
    return r;
}

/* base64 of len bytes of p, in a static buffer (overwritten by the next call). */
static const char *enc(const void *p, size_t len)
{
    static char text[8192];
    assert_int_equal(sasl_base64_encode(p, len, text, sizeof text), 0);
    return text;
}

static void test_decode_valid(void **state)
{
    (void)state;
    assert_int_equal(dec("", 100), 0);
    assert_int_equal(out_len, 0);
    assert_int_equal(dec("Zg==", 100), 0);
    assert_string_equal((char *)out, "f");
    assert_int_equal(dec("Zm8=", 100), 0);
    assert_string_equal((char *)out, "fo");
    assert_int_equal(dec("Zm9v", 100), 0);
    assert_string_equal((char *)out, "foo");
    assert_int_equal(dec("Zm9vYmFy", 100), 0);
    assert_string_equal((char *)out, "foobar");
    assert_int_equal(dec(SASL_LOGIN_USER_CHALLENGE, 100), 0);
    assert_string_equal((char *)out, "Username:");
    assert_int_equal(dec(SASL_LOGIN_PASS_CHALLENGE, 100), 0);
    assert_string_equal((char *)out, "Password:");
    /* '+' and '/' and binary output */
    assert_int_equal(dec("+/8A", 100), 0);
    assert_int_equal(out_len, 3);
    assert_int_equal(out[0], 0xfb);
    assert_int_equal(out[1], 0xff);
    assert_int_equal(out[2], 0x00);
}

static void test_decode_invalid(void **state)
{
    (void)state;
    assert_int_equal(dec("Zg=", 100), -1);       /* length not a multiple of 4 */
    assert_int_equal(dec("Zm9", 100), -1);
    assert_int_equal(dec("Z", 100), -1);
    assert_int_equal(dec("=", 100), -1);         /* "=" is a response convention, not base64 */
    assert_int_equal(dec("====", 100), -1);
    assert_int_equal(dec("Z===", 100), -1);      /* three pads */
    assert_int_equal(dec("Zg=a", 100), -1);      /* pad then data */
    assert_int_equal(dec("Zg==Zm9v", 100), -1);  /* pad in the middle */
    assert_int_equal(dec("Zm9v Zm9v", 100), -1); /* white space */
    assert_int_equal(dec("Zm9v\r\n", 100), -1);
    assert_int_equal(dec("Zm9-", 100), -1);      /* base64url alphabet is not ours */
    assert_int_equal(dec("Zm9_", 100), -1);
    assert_int_equal(dec("Zm\x80v", 100), -1);
    assert_int_equal(dec("Zh==", 100), -1);      /* unused bits not zero */
    assert_int_equal(dec("Zm9=", 100), -1);
    /* a NUL inside the given length is just a bad character */
    assert_int_equal(sasl_base64_decode("Zm\0v", 4, out, 100, &out_len), -1);
    assert_int_equal(out_len, 0);
}

static void test_decode_limit(void **state)
{
    (void)state;
    assert_int_equal(dec("Zm9vYmFy", 6), 0);
    assert_int_equal(out_len, 6);
    assert_int_equal(dec("Zm9vYmFy", 5), -1);
    assert_int_equal(dec("Zm9vYg==", 4), 0);
    assert_int_equal(dec("Zm9vYg==", 3), -1);
    assert_int_equal(dec("Zg==", 0), -1);
    assert_int_equal(dec("", 0), 0);
    /* nothing written past cap: the byte after stays untouched */
    memset(out, 0x55, sizeof out);
    assert_int_equal(sasl_base64_decode("Zm9vYmFy", 8, out, 4, &out_len), -1);
    assert_int_equal(out[4], 0x55);
}

static void test_encode(void **state)
{
    (void)state;
    assert_string_equal(enc("", 0), "");
    assert_string_equal(enc("f", 1), "Zg==");
    assert_string_equal(enc("fo", 2), "Zm8=");
    assert_string_equal(enc("foo", 3), "Zm9v");
    assert_string_equal(enc("Username:", 9), SASL_LOGIN_USER_CHALLENGE);
    assert_string_equal(enc("\0bob@example.test\0secret", 24), "AGJvYkBleGFtcGxlLnRlc3QAc2VjcmV0");
    char small[9];
    assert_int_equal(sasl_base64_encode("foobar", 6, small, sizeof small), 0); /* 8 + NUL fits */
    assert_string_equal(small, "Zm9vYmFy");
    assert_int_equal(sasl_base64_encode("foobar", 6, small, 8), -1);
    assert_int_equal(sasl_base64_encode("f", 1, small, 0), -1);
}

static void test_round_trip(void **state)
{
    (void)state;
    unsigned char all[256];
    for (int i = 0; i < 256; i++)
        all[i] = (unsigned char)i;
    for (size_t n = 0; n <= sizeof all; n += 1) {
        const char *t = enc(all, n);
        assert_int_equal(strlen(t) % 4, 0);
        assert_int_equal(sasl_base64_decode(t, strlen(t), out, sizeof out, &out_len), 0);
        assert_int_equal(out_len, n);
        assert_memory_equal(out, all, n);
    }
}

static void test_response_conventions(void **state)
{
    (void)state;
    assert_int_equal(sasl_decode_response("*", 1, out, 100, &out_len), SASL_CANCEL);
    assert_int_equal(sasl_decode_response("=", 1, out, 100, &out_len), SASL_OK);
    assert_int_equal(out_len, 0);
    assert_int_equal(sasl_decode_response("", 0, out, 100, &out_len), SASL_OK);
    assert_int_equal(out_len, 0);
    assert_int_equal(sasl_decode_response("**", 2, out, 100, &out_len), SASL_BAD_BASE64);
    assert_int_equal(sasl_decode_response("*Zm9", 4, out, 100, &out_len), SASL_BAD_BASE64);
    assert_int_equal(sasl_decode_response("Zm9v", 4, out, 100, &out_len), SASL_OK);
    assert_int_equal(out_len, 3);
}

static struct sasl_plain P;

/* PLAIN-decodes the raw message m (n bytes) after base64-encoding it. */
static enum sasl_result plain_raw(const char *m, size_t n)
{
    const char *t = enc(m, n);
    memset(&P, 0x55, sizeof P);
    return sasl_plain_decode(t, strlen(t), &P);
}

static void test_plain_valid(void **state)
{
    (void)state;
    assert_int_equal(plain_raw("\0bob@example.test\0secret", 24), SASL_OK);
    assert_string_equal(P.authzid, "");
    assert_string_equal(P.authcid, "bob@example.test");
    assert_string_equal(P.passwd, "secret");
    /* with an authzid (RFC 4616 2); the decoder reports it, the server judges it */
    assert_int_equal(plain_raw("admin\0bob\0pw", 12), SASL_OK);
    assert_string_equal(P.authzid, "admin");
    assert_string_equal(P.authcid, "bob");
    assert_string_equal(P.passwd, "pw");
    /* the RFC 4616 4 example: "tim" NUL "tim" NUL "tanstaaftanstaaf" */
    const char *ex = "dGltAHRpbQB0YW5zdGFhZnRhbnN0YWFm";
    assert_int_equal(sasl_plain_decode(ex, strlen(ex), &P), SASL_OK);
    assert_string_equal(P.authzid, "tim");
    assert_string_equal(P.authcid, "tim");
    assert_string_equal(P.passwd, "tanstaaftanstaaf");
    /* passwords may hold blanks, ':' and 8-bit bytes */
    assert_int_equal(plain_raw("\0u\0a b:c\xc3\xa9", 10), SASL_OK);
    assert_string_equal(P.passwd, "a b:c\xc3\xa9");
}

/* One rule for SMTP AUTH and POP3: an authzid other than the login is proxy authorization. */
static void test_plain_proxy(void **state)
{
    (void)state;
    assert_int_equal(plain_raw("\0bob@example.test\0secret", 24), SASL_OK);
    assert_false(sasl_plain_proxy(&P));
    assert_int_equal(plain_raw("admin\0bob\0pw", 12), SASL_OK);
    assert_true(sasl_plain_proxy(&P));
    assert_int_equal(plain_raw("BOB@Example.Test\0bob@example.test\0pw", 36), SASL_OK);
    assert_false(sasl_plain_proxy(&P));
    assert_int_equal(plain_raw("bob@example.test.\0bob@example.test\0pw", 37), SASL_OK);
    assert_true(sasl_plain_proxy(&P));
}

static void test_plain_malformed(void **state)
{
    (void)state;
    assert_int_equal(plain_raw("bob@example.test secret", 23), SASL_BAD_MESSAGE); /* no NUL */
    assert_int_equal(plain_raw("\0bob@example.test", 17), SASL_BAD_MESSAGE);      /* one NUL */
    assert_int_equal(plain_raw("\0\0secret", 8), SASL_BAD_MESSAGE);               /* empty authcid */
    assert_int_equal(plain_raw("\0bob\0", 5), SASL_BAD_MESSAGE);                  /* empty passwd */
    assert_int_equal(plain_raw("\0\0", 2), SASL_BAD_MESSAGE);
    assert_int_equal(plain_raw("\0bob\0pw\0more", 12), SASL_BAD_MESSAGE);         /* third NUL */
    assert_int_equal(plain_raw("", 0), SASL_BAD_MESSAGE);                         /* empty response */
    assert_int_equal(sasl_plain_decode("=", 1, &P), SASL_BAD_MESSAGE);
    assert_int_equal(sasl_plain_decode("*", 1, &P), SASL_CANCEL);
    assert_int_equal(sasl_plain_decode("AGJvYgBwdw", 10, &P), SASL_BAD_BASE64);    /* unpadded */
    assert_int_equal(sasl_plain_decode("AGJvYgBwdw=!", 12, &P), SASL_BAD_BASE64);
    /* a failure leaves nothing behind */
    assert_int_equal(plain_raw("\0bob\0pw\0more", 12), SASL_BAD_MESSAGE);
    assert_int_equal(P.passwd[0], '\0');
    assert_int_equal(P.authcid[0], '\0');
}

static void test_plain_limits(void **state)
{
    (void)state;
    static char m[SASL_PLAIN_MAX + 16];
    /* authcid of exactly SASL_USER_MAX, passwd of exactly SASL_PASS_MAX: accepted */
    size_t n = 0;
    m[n++] = '\0';
    memset(m + n, 'u', SASL_USER_MAX);
    n += SASL_USER_MAX;
    m[n++] = '\0';
    memset(m + n, 'p', SASL_PASS_MAX);
    n += SASL_PASS_MAX;
    assert_int_equal(plain_raw(m, n), SASL_OK);
    assert_int_equal(strlen(P.authcid), SASL_USER_MAX);
    assert_int_equal(strlen(P.passwd), SASL_PASS_MAX);
    assert_true(strlen(enc(m, n)) <= SASL_RESPONSE_MAX);
    /* one more octet of password: refused */
    m[n++] = 'p';
    assert_int_equal(plain_raw(m, n), SASL_BAD_MESSAGE);
    /* authcid one over its limit (total still small enough) */
    n = 0;
    m[n++] = '\0';
    memset(m + n, 'u', SASL_USER_MAX + 1);
    n += SASL_USER_MAX + 1;
    m[n++] = '\0';
    m[n++] = 'p';
    assert_int_equal(plain_raw(m, n), SASL_BAD_MESSAGE);
    /* authzid over its limit */
    memset(m, 'z', SASL_USER_MAX + 1);
    n = SASL_USER_MAX + 1;
    memcpy(m + n, "\0u\0p", 4);
    n += 4;
    assert_int_equal(plain_raw(m, n), SASL_BAD_MESSAGE);
    /* a message longer than the largest valid one does not even decode */
    memset(m, 'x', sizeof m);
    m[0] = '\0';
    m[1] = '\0';
    assert_int_equal(plain_raw(m, SASL_PLAIN_MAX + 3), SASL_BAD_BASE64);
}

static void test_login_steps(void **state)
{
    (void)state;
    char user[SASL_USER_MAX + 1], pass[SASL_PASS_MAX + 1];
    const char *u = enc("bob@example.test", 16);
    assert_int_equal(sasl_login_decode(u, strlen(u), user, sizeof user), SASL_OK);
    assert_string_equal(user, "bob@example.test");
    const char *p = enc("s3cr3t pass", 11);
    assert_int_equal(sasl_login_decode(p, strlen(p), pass, sizeof pass), SASL_OK);
    assert_string_equal(pass, "s3cr3t pass");
    assert_int_equal(sasl_login_decode("*", 1, user, sizeof user), SASL_CANCEL);
    assert_int_equal(sasl_login_decode("", 0, user, sizeof user), SASL_BAD_MESSAGE);
    assert_int_equal(sasl_login_decode("=", 1, user, sizeof user), SASL_BAD_MESSAGE);
    assert_int_equal(sasl_login_decode("not base64!", 11, user, sizeof user), SASL_BAD_BASE64);
    const char *nul = enc("bo\0b", 4);
    assert_int_equal(sasl_login_decode(nul, strlen(nul), user, sizeof user), SASL_BAD_MESSAGE);
    assert_string_equal(user, ""); /* wiped */
    /* size limit: 3 octets fit in 4 bytes with the NUL, 4 do not */
    char tiny[4], three[16], four[16];
    str_copy(three, sizeof three, enc("abc", 3));
    str_copy(four, sizeof four, enc("abcd", 4));
    assert_int_equal(sasl_login_decode(three, strlen(three), tiny, sizeof tiny), SASL_OK);
    assert_string_equal(tiny, "abc");
    assert_int_equal(sasl_login_decode(four, strlen(four), tiny, sizeof tiny), SASL_BAD_BASE64);
    assert_int_equal(sasl_login_decode(three, strlen(three), tiny, 0), SASL_BAD_MESSAGE);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_decode_valid),
        cmocka_unit_test(test_decode_invalid),
        cmocka_unit_test(test_decode_limit),
        cmocka_unit_test(test_encode),
        cmocka_unit_test(test_round_trip),
        cmocka_unit_test(test_response_conventions),
        cmocka_unit_test(test_plain_valid),
        cmocka_unit_test(test_plain_proxy),
        cmocka_unit_test(test_plain_malformed),
        cmocka_unit_test(test_plain_limits),
        cmocka_unit_test(test_login_steps),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
