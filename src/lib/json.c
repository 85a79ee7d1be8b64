/*
 * json: string escaping for JSON output (see json.h). Whatever the bytes,
 * the output is valid JSON: quotes, backslashes and control bytes are
 * escaped, well-formed UTF-8 passes through, and any other byte (8-bit text
 * from the network that is not UTF-8) becomes U+FFFD.
 */
#include "lib/json.h"

/* Length of the well-formed UTF-8 sequence at p (RFC 3629), 0 if it is not one. */
static size_t json_utf8_len(const unsigned char *p)
{
    size_t n;
    unsigned min;
    unsigned cp;
    if (p[0] >= 0xc2 && p[0] <= 0xdf)
        n = 2, min = 0x80, cp = p[0] & 0x1f;
    else if (p[0] >= 0xe0 && p[0] <= 0xef)
        n = 3, min = 0x800, cp = p[0] & 0x0f;
    else if (p[0] >= 0xf0 && p[0] <= 0xf4)
        n = 4, min = 0x10000, cp = p[0] & 0x07;
    else
        return 0;
    for (size_t i = 1; i < n; i++) {
        if ((p[i] & 0xc0) != 0x80) /* also stops at the NUL */
            return 0;
        cp = (cp << 6) | (p[i] & 0x3f);
    }
    if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
        return 0;
    return n;
}

int json_str(struct buf *b, const char *s)
{
    if (!s)
        return buf_appends(b, "null");
    int r = buf_putc(b, '"');
    for (const unsigned char *p = (const unsigned char *)s; *p && r == 0; p++) {
        size_t n;
        if (*p == '"' || *p == '\\')
            r = buf_printf(b, "\\%c", *p);
        else if (*p < 0x20 || *p == 0x7f)
            r = buf_printf(b, "\\u%04x", *p);
        else if (*p < 0x80)
            r = buf_putc(b, (char)*p);
        else if ((n = json_utf8_len(p)) > 0) {
            r = buf_append(b, p, n);
            p += n - 1;
        } else
            r = buf_appends(b, "\\ufffd");
    }
    return r ? -1 : buf_putc(b, '"');
}
