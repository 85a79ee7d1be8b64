/*
 * xtext: RFC 3461 section 4 "xtext" decoding and encoding for the DSN
 * parameters ENVID and ORCPT (and the AUTH= mailbox of RFC 4954 5).
 * Owns: the byte-level grammar only; what a value means is the caller's.
 * Decoding is strict: a raw byte outside '!'..'~', a raw '=', or a '+' not
 * followed by two hex digits is refused, and so is any decoded byte that is
 * not printable US-ASCII or space (RFC 3461 4.2 and 4.4 require printable
 * US-ASCII): a decoded CR, LF or NUL must never reach a header or the queue.
 * On failure the output buffer is left exactly as it was.
 * Never does I/O; never reads past the given length.
 */
#include "proto/xtext.h"

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

/* Decodes the item at in[*i], advancing *i past it; the byte, or -1. */
static int xtext_decode_one(const char *in, size_t len, size_t *i)
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
    return xtext_decoded_ok(v) ? v : -1;
}

int xtext_decode(const char *in, size_t len, struct buf *out)
{
    size_t mark = out->len;
    size_t i = 0;
    while (i < len) {
        int c = xtext_decode_one(in, len, &i);
        if (c < 0 || buf_putc(out, (char)c) < 0) {
            out->len = mark;
            return -1;
        }
    }
    return 0;
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
