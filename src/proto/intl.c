/*
 * intl: UTF-8, NFC and IDNA2008 helpers (see intl.h). UTF-8 validity and
 * NFC come from libunistring (u8_check, u8_normalize), the IDN conversion
 * from libidn2, which already depends on libunistring. Every function works
 * on a (pointer, length) or a NUL-terminated string with an output size and
 * never writes past it.
 */
#include "proto/intl.h"
#include "lib/str.h"
#include <idn2.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <uninorm.h>
#include <unistr.h>

int intl_is_ascii(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)s[i] > 127)
            return 0;
    return 1;
}

/* 1 if the UTF-8 string s[0..n) (already checked well-formed) holds a control character. */
static int intl_has_control(const uint8_t *s, size_t n)
{
    const uint8_t *p = s, *end = s + n;
    while (p < end) {
        ucs4_t uc;
        int len = u8_mbtouc(&uc, p, (size_t)(end - p));
        if (len <= 0 || uc < 0x20 || (uc >= 0x7f && uc <= 0x9f))
            return 1;
        p += len;
    }
    return 0;
}

/* 1 if the well-formed UTF-8 string s[0..n) is unchanged by NFC normalization. */
static int intl_is_nfc(const uint8_t *s, size_t n)
{
    if (intl_is_ascii((const char *)s, n))
        return 1;
    size_t len = 0;
    uint8_t *norm = u8_normalize(UNINORM_NFC, s, n, NULL, &len);
    if (!norm)
        return 0;
    int same = len == n && memcmp(norm, s, n) == 0;
    free(norm);
    return same;
}

int intl_utf8_ok(const char *s, size_t n)
{
    const uint8_t *u = (const uint8_t *)s;
    return u8_check(u, n) == NULL && !intl_has_control(u, n) && intl_is_nfc(u, n);
}

int intl_domain_to_ascii(const char *domain, char *out, size_t size)
{
    size_t n = strlen(domain);
    if (intl_is_ascii(domain, n)) {
        if (str_copy(out, size, domain) < 0)
            return -1;
        str_lower(out);
        return 0;
    }
    if (!intl_utf8_ok(domain, n))
        return -1;
    char *a = NULL;
    if (idn2_to_ascii_8z(domain, &a, IDN2_NFC_INPUT | IDN2_NONTRANSITIONAL) != IDN2_OK)
        return -1;
    int r = str_copy(out, size, a);
    idn2_free(a);
    if (r == 0)
        str_lower(out);
    return r;
}

int intl_domain_to_unicode(const char *domain, char *out, size_t size)
{
    char *u = NULL;
    if (idn2_to_unicode_8z8z(domain, &u, 0) != IDN2_OK)
        return -1;
    int r = str_copy(out, size, u);
    idn2_free(u);
    return r;
}

int intl_domain_equal(const char *a, const char *b)
{
    char aa[INTL_DOMAIN_MAX], bb[INTL_DOMAIN_MAX];
    if (intl_is_ascii(a, strlen(a)) && intl_is_ascii(b, strlen(b)))
        return str_ieq(a, b);
    return intl_domain_to_ascii(a, aa, sizeof aa) == 0 &&
           intl_domain_to_ascii(b, bb, sizeof bb) == 0 && strcmp(aa, bb) == 0;
}

int intl_mailbox_key(const char *mailbox, char *out, size_t size)
{
    const char *at = strrchr(mailbox, '@');
    char domain[INTL_DOMAIN_MAX];
    if (!at || intl_domain_to_ascii(at + 1, domain, sizeof domain) < 0)
        return -1;
    size_t local = (size_t)(at - mailbox);
    if (local + 1 + strlen(domain) + 1 > size)
        return -1;
    memcpy(out, mailbox, local);
    out[local] = '\0';
    str_lower(out);
    out[local] = '@';
    memcpy(out + local + 1, domain, strlen(domain) + 1);
    return 0;
}

int intl_head_8bit(const char *buf, size_t n)
{
    int line_start = 1;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)buf[i];
        if (line_start && (c == '\n' || (c == '\r' && i + 1 < n && buf[i + 1] == '\n')))
            return 0; /* the empty line: the body starts */
        if (c > 127)
            return 1;
        line_start = c == '\n';
    }
    return 0;
}
