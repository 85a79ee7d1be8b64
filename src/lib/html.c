/*
 * html: HTML escaping and URL encoding of page values (see html.h).
 */
#include "lib/html.h"
#include <string.h>

int html_escape(struct buf *b, const char *s, size_t n)
{
    size_t run = 0; /* bytes copied as they are, appended in one go */
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        const char *rep = NULL;
        switch (c) {
        case '&': rep = "&amp;"; break;
        case '<': rep = "&lt;"; break;
        case '>': rep = "&gt;"; break;
        case '"': rep = "&quot;"; break;
        case '\'': rep = "&#39;"; break;
        default:
            if ((c < 0x20 && c != '\t' && c != '\n' && c != '\r') || c == 0x7f)
                rep = "\xef\xbf\xbd";
        }
        if (!rep) {
            run++;
            continue;
        }
        if ((run && buf_append(b, s + i - run, run) < 0) || buf_appends(b, rep) < 0)
            return -1;
        run = 0;
    }
    return run ? buf_append(b, s + n - run, run) : 0;
}

int html_escapes(struct buf *b, const char *s)
{
    return s ? html_escape(b, s, strlen(s)) : 0;
}

int html_urlencode(struct buf *b, const char *s)
{
    static const char hex[] = "0123456789ABCDEF";
    for (; s && *s; s++) {
        unsigned char c = (unsigned char)*s;
        int keep = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
                   c == '-' || c == '.' || c == '_' || c == '~';
        char enc[3] = {'%', hex[c >> 4], hex[c & 15]};
        if (keep ? buf_putc(b, (char)c) < 0 : buf_append(b, enc, 3) < 0)
            return -1;
    }
    return 0;
}
