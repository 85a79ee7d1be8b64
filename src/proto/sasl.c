/*
 * sasl: base64 (RFC 4648 4) and the PLAIN (RFC 4616) and LOGIN client
 * messages of SMTP AUTH (RFC 4954). See sasl.h.
 *
 * Owns: strict base64 decoding (no white space, padding required, unused
 * bits zero, as RFC 4648 3.5 permits a decoder to demand), the PLAIN
 * message split, the LOGIN step decoding. Every decoded byte lands in a
 * caller-sized buffer; a too-long input fails before anything is written
 * past it. Never logs (the input holds passwords). No I/O.
 */
#include "proto/sasl.h"
#include "lib/str.h"
#include <string.h>

static const char sasl_b64_alphabet[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/* The 6-bit value of c, or -1 if c is not in the alphabet ('=' included). */
static int sasl_b64_value(unsigned char c)
{
    if (c >= 'A' && c <= 'Z')
        return c - 'A';
    if (c >= 'a' && c <= 'z')
        return c - 'a' + 26;
    if (c >= '0' && c <= '9')
        return c - '0' + 52;
    if (c == '+')
        return 62;
    if (c == '/')
        return 63;
    return -1;
}

/* Decodes one 4-character group into out; returns the bytes it holds (1..3) or -1. */
static int sasl_b64_group(const unsigned char *g, int last, unsigned char *out)
{
    int pad = (g[3] == '=') + (g[2] == '=' && g[3] == '=');
    if (pad && !last)
        return -1;
    int v[4] = {0, 0, 0, 0};
    for (int i = 0; i < 4 - pad; i++)
        if ((v[i] = sasl_b64_value(g[i])) < 0)
            return -1;
    if ((pad == 1 && (v[2] & 0x03)) || (pad == 2 && (v[1] & 0x0f)))
        return -1; /* unused bits must be zero */
    unsigned long bits = (unsigned long)v[0] << 18 | (unsigned long)v[1] << 12 |
                         (unsigned long)v[2] << 6 | (unsigned long)v[3];
    out[0] = (unsigned char)(bits >> 16);
    out[1] = (unsigned char)(bits >> 8);
    out[2] = (unsigned char)bits;
    return 3 - pad;
}

int sasl_base64_decode(const char *in, size_t len, unsigned char *out, size_t cap, size_t *out_len)
{
    const unsigned char *p = (const unsigned char *)in;
    size_t n = 0;
    *out_len = 0;
    if (len % 4 != 0)
        return -1;
    for (size_t i = 0; i < len; i += 4) {
        unsigned char tmp[3];
        int k = sasl_b64_group(p + i, i + 4 == len, tmp);
        if (k < 0 || n + (size_t)k > cap)
            return -1;
        memcpy(out + n, tmp, (size_t)k);
        n += (size_t)k;
    }
    *out_len = n;
    return 0;
}

int sasl_base64_encode(const void *in, size_t len, char *out, size_t size)
{
    const unsigned char *p = in;
    if (size == 0 || (len + 2) / 3 > (size - 1) / 4)
        return -1;
    size_t o = 0;
    for (size_t i = 0; i < len; i += 3) {
        unsigned long bits = (unsigned long)p[i] << 16;
        if (i + 1 < len)
            bits |= (unsigned long)p[i + 1] << 8;
        if (i + 2 < len)
            bits |= p[i + 2];
        out[o++] = sasl_b64_alphabet[(bits >> 18) & 63];
        out[o++] = sasl_b64_alphabet[(bits >> 12) & 63];
        out[o++] = i + 1 < len ? sasl_b64_alphabet[(bits >> 6) & 63] : '=';
        out[o++] = i + 2 < len ? sasl_b64_alphabet[bits & 63] : '=';
    }
    out[o] = '\0';
    return 0;
}

enum sasl_result sasl_decode_response(const char *line, size_t len, unsigned char *out,
                                      size_t cap, size_t *out_len)
{
    *out_len = 0;
    if (len == 1 && line[0] == '*')
        return SASL_CANCEL;
    if (len == 0 || (len == 1 && line[0] == '='))
        return SASL_OK;
    return sasl_base64_decode(line, len, out, cap, out_len) == 0 ? SASL_OK : SASL_BAD_BASE64;
}

/* Copies the field [p, p+n) into out (size bytes with NUL); -1 if it does not fit. */
static int sasl_field(const unsigned char *p, size_t n, char *out, size_t size)
{
    if (n >= size)
        return -1;
    memcpy(out, p, n);
    out[n] = '\0';
    return 0;
}

/* Splits a decoded PLAIN message at its two NULs into out. */
static enum sasl_result sasl_plain_split(const unsigned char *m, size_t n, struct sasl_plain *out)
{
    const unsigned char *nul1 = memchr(m, '\0', n);
    if (!nul1)
        return SASL_BAD_MESSAGE;
    size_t rest = n - (size_t)(nul1 + 1 - m);
    const unsigned char *nul2 = memchr(nul1 + 1, '\0', rest);
    if (!nul2)
        return SASL_BAD_MESSAGE;
    const unsigned char *pw = nul2 + 1;
    size_t pw_len = n - (size_t)(pw - m);
    size_t cid_len = (size_t)(nul2 - nul1 - 1);
    if (cid_len == 0 || pw_len == 0 || memchr(pw, '\0', pw_len))
        return SASL_BAD_MESSAGE;
    if (sasl_field(m, (size_t)(nul1 - m), out->authzid, sizeof out->authzid) < 0 ||
        sasl_field(nul1 + 1, cid_len, out->authcid, sizeof out->authcid) < 0 ||
        sasl_field(pw, pw_len, out->passwd, sizeof out->passwd) < 0)
        return SASL_BAD_MESSAGE;
    return SASL_OK;
}

enum sasl_result sasl_plain_decode(const char *line, size_t len, struct sasl_plain *out)
{
    unsigned char msg[SASL_PLAIN_MAX];
    size_t n;
    enum sasl_result r = sasl_decode_response(line, len, msg, sizeof msg, &n);
    if (r == SASL_OK)
        r = sasl_plain_split(msg, n, out);
    explicit_bzero(msg, sizeof msg);
    if (r != SASL_OK)
        explicit_bzero(out, sizeof *out);
    return r;
}

enum sasl_result sasl_login_decode(const char *line, size_t len, char *out, size_t size)
{
    unsigned char msg[SASL_PASS_MAX + 1];
    size_t n;
    if (size == 0)
        return SASL_BAD_MESSAGE;
    size_t cap = size - 1 < sizeof msg ? size - 1 : sizeof msg;
    enum sasl_result r = sasl_decode_response(line, len, msg, cap, &n);
    if (r == SASL_OK && (n == 0 || memchr(msg, '\0', n)))
        r = SASL_BAD_MESSAGE;
    if (r == SASL_OK) {
        memcpy(out, msg, n);
        out[n] = '\0';
    } else {
        explicit_bzero(out, size);
    }
    explicit_bzero(msg, sizeof msg);
    return r;
}

int sasl_plain_proxy(const struct sasl_plain *m)
{
    return m->authzid[0] && !str_ieq(m->authzid, m->authcid);
}
