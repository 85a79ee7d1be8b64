/*
 * dsn_parse: the RFC 3464 reader (dsn_parse.h). Interface only for now:
 * nothing is read as a notice.
 */
#include "proto/dsn_parse.h"
#include <string.h>

int dsn_parse(const char *msg, size_t len, struct dsn_parsed *out)
{
    (void)msg, (void)len;
    memset(out, 0, sizeof *out);
    return -1;
}
