/*
 * xtext: RFC 3461 section 4 "xtext" decoding and encoding for the DSN
 * parameters ENVID and ORCPT (and the AUTH= mailbox of RFC 4954 5).
 * Owns: the byte-level grammar only; what a value means is the caller's.
 * Decoding is strict: a raw byte outside '!'..'~', a raw '=', or a '+' not
 * followed by two hex digits is refused, and so is any decoded byte that is
 * not printable US-ASCII or space (RFC 3461 4.2 and 4.4 require printable
 * US-ASCII): a decoded CR, LF or NUL must never reach a header or the queue.
 * On failure the output buffer is left exactly as it was.
 * Also RFC 6533 3's utf-8 address encodings for ORCPT=utf-8;...: QCHAR
 * stands for itself, "\x{HEX}" for any Unicode scalar value, and in the
 * unitext form raw UTF-8; the decoded address must be valid UTF-8 in NFC
 * without controls (proto/intl).
 * Never does I/O; never reads past the given length.
 */
#include "proto/xtext.h"
#include "proto/intl.h"
#include "lib/str.h"
#include <stdint.h>
#include <string.h>
#include <unistr.h>

/* Value of one hex digit (either case), or -1. */
static int xtext_hex_value(unsigned char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    return -1;
}

/* 1 if c may stand for itself in xtext ("xchar"). */
static int xtext_is_xchar(unsigned char c)
{
    return c >= '!' && c <= '~' && c != '+' && c != '=';
}

/* 1 if a decoded byte is acceptable: printable US-ASCII or space. */
static int xtext_decoded_ok(int c)
{
    return c >= 0x20 && c < 0x7f;
}

/* Decodes the item at in[*i], advancing *i past it; the byte, or -1. allow8: decoded
 * octets over 127 are kept (checked as UTF-8 by the caller). */
static int xtext_decode_one(const char *in, size_t len, size_t *i, int allow8)
{
    unsigned char c = (unsigned char)in[*i];
    if (c != '+') {
        *i += 1;
        return xtext_is_xchar(c) ? c : -1;
    }
    if (len - *i < 3)
        return -1;
    int hi = xtext_hex_value((unsigned char)in[*i + 1]);
    int lo = xtext_hex_value((unsigned char)in[*i + 2]);
    if (hi < 0 || lo < 0)
        return -1;
    *i += 3;
    int v = hi * 16 + lo;
    return xtext_decoded_ok(v) || (allow8 && v > 127) ? v : -1;
}

static int xtext_decode_as(const char *in, size_t len, struct buf *out, int allow8)
{
    size_t mark = out->len;
    size_t i = 0;
    while (i < len) {
        int c = xtext_decode_one(in, len, &i, allow8);
        if (c < 0 || buf_putc(out, (char)c) < 0) {
            out->len = mark;
            return -1;
        }
    }
    if (allow8 && !intl_utf8_ok(out->data + mark, out->len - mark)) {
        out->len = mark;
        return -1;
    }
    return 0;
}

int xtext_decode(const char *in, size_t len, struct buf *out)
{
    return xtext_decode_as(in, len, out, 0);
}

int xtext_decode_utf8(const char *in, size_t len, struct buf *out)
{
    return xtext_decode_as(in, len, out, 1);
}

int xtext_encode(const char *in, size_t len, struct buf *out)
{
    static const char hex[] = "0123456789ABCDEF";
    size_t mark = out->len;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)in[i];
        int r;
        if (xtext_is_xchar(c)) {
            r = buf_putc(out, (char)c);
        } else {
            char esc[3] = { '+', hex[c >> 4], hex[c & 15] };
            r = buf_append(out, esc, sizeof esc);
        }
        if (r < 0) {
            out->len = mark;
            return -1;
        }
    }
    return 0;
}

/* RFC 6533 3 QCHAR: printable ASCII except '+', '=' and backslash. */
static int xtext_is_qchar(unsigned char c)
{
    return c >= 0x21 && c <= 0x7e && c != '+' && c != '=' && c != '\\';
}

/* Parses "\x{HEX}" at in[*i] (1 to 6 hex digits, a scalar value); the code point or -1. */
static long xtext_embedded_char(const char *in, size_t len, size_t *i)
{
    size_t p = *i + 3, digits = 0;
    long v = 0;
    if (len - *i < 5 || in[*i + 1] != 'x' || in[*i + 2] != '{')
        return -1;
    while (p < len && digits < 7 && xtext_hex_value((unsigned char)in[p]) >= 0) {
        v = v * 16 + xtext_hex_value((unsigned char)in[p++]);
        digits++;
    }
    if (digits == 0 || digits > 6 || p >= len || in[p] != '}' || v > 0x10FFFF ||
        (v >= 0xD800 && v <= 0xDFFF))
        return -1;
    *i = p + 1;
    return v;
}

int xtext_utf8_decode(const char *v, size_t n, char *dst, size_t size)
{
    size_t o = 0, i = 0;
    while (i < n) {
        unsigned char c = (unsigned char)v[i];
        if (c == '\\') {
            long u = xtext_embedded_char(v, n, &i);
            uint8_t tmp[6];
            int l = u < 0 ? -1 : u8_uctomb(tmp, (ucs4_t)u, (int)sizeof tmp);
            if (l <= 0 || o + (size_t)l >= size)
                return -1;
            memcpy(dst + o, tmp, (size_t)l);
            o += (size_t)l;
            continue;
        }
        if ((!xtext_is_qchar(c) && c < 0x80) || o + 1 >= size)
            return -1;
        dst[o++] = (char)c;
        i++;
    }
    if (size == 0 || o == 0)
        return -1;
    dst[o] = '\0';
    return intl_utf8_ok(dst, o) ? 0 : -1;
}

int xtext_utf8_encode(const char *addr, int unitext, char *dst, size_t size)
{
    const uint8_t *p = (const uint8_t *)addr, *end = p + strlen(addr);
    size_t o = 0;
    if (u8_check(p, (size_t)(end - p)) != NULL || size == 0)
        return -1;
    while (p < end) {
        ucs4_t uc;
        int l = u8_mbtouc(&uc, p, (size_t)(end - p));
        char tmp[16];
        if (uc < 0x80 && xtext_is_qchar((unsigned char)uc)) {
            tmp[0] = (char)uc;
            tmp[1] = '\0';
        } else if (uc >= 0x80 && unitext) {
            memcpy(tmp, p, (size_t)l);
            tmp[l] = '\0';
        } else {
            str_fmt(tmp, sizeof tmp, "\\x{%X}", (unsigned)uc);
        }
        size_t tl = strlen(tmp);
        if (o + tl >= size)
            return -1;
        memcpy(dst + o, tmp, tl);
        o += tl;
        p += l;
    }
    dst[o] = '\0';
    return 0;
}
