/*
 * json: string escaping for JSON output (see json.h).
 */
#include "lib/json.h"

int json_str(struct buf *b, const char *s)
{
    if (!s)
        return buf_appends(b, "null");
    int r = buf_putc(b, '"');
    for (const unsigned char *p = (const unsigned char *)s; *p && r == 0; p++) {
        if (*p == '"' || *p == '\\')
            r = buf_printf(b, "\\%c", *p);
        else if (*p < 0x20 || *p == 0x7f)
            r = buf_printf(b, "\\u%04x", *p);
        else
            r = buf_putc(b, (char)*p);
    }
    return r ? -1 : buf_putc(b, '"');
}
