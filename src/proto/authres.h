/*
 * authres: the Authentication-Results header field (RFC 8601), pure, no I/O.
 * Formats the field postino adds after its inbound checks (one resinfo per
 * method on its own folded line; property values written as a token when
 * they are one, else as a quoted-string, so no value taken from a message
 * or an SMTP command can break the field), and reads the authserv-id of an
 * existing field (RFC 8601 2.2, leading CFWS and comments allowed) for the
 * forgery check: only postino may claim its own hostname.
 */
#ifndef POSTINO_AUTHRES_H
#define POSTINO_AUTHRES_H
#include <stddef.h>
#include "lib/buf.h"

/* Result values of RFC 8601 2.7 (spf: 2.7.2, dkim: 2.7.1, dmarc: RFC 7489 11.2). */
enum authres_result {
    AUTHRES_NONE,
    AUTHRES_PASS,
    AUTHRES_FAIL,
    AUTHRES_SOFTFAIL,
    AUTHRES_NEUTRAL,
    AUTHRES_TEMPERROR,
    AUTHRES_PERMERROR,
    AUTHRES_POLICY,
};

/* One resinfo: "method=result (comment) ptype.prop=value ...". */
struct authres_entry {
    const char *method;         /* "spf", "dkim", "dmarc" */
    enum authres_result result;
    const char *comment;        /* postino's own words, or NULL; parentheses dropped */
    const char *props[3][2];    /* {"smtp.mailfrom", "example.org"}...; NULL name ends */
};

#define AUTHRES_ID_MAX 256      /* an authserv-id kept by authres_authserv_id */

/* "pass", "fail", ... */
const char *authres_result_name(enum authres_result r);
/*
 * Appends "Authentication-Results: ID;\r\n\tspf=pass ...;\r\n\tdkim=...\r\n"
 * (RFC 8601 2.2) to out. With n == 0 the field says "ID; none". 0, or -1 if
 * out is full (it may then hold a part of the field).
 */
int authres_format(struct buf *out, const char *authserv_id, const struct authres_entry *e,
                   size_t n);
/*
 * If field[0..n) (a whole header field, name and folded lines included) is
 * an Authentication-Results field, copies its authserv-id (a token or the
 * content of a quoted-string) into id and returns 0; -1 if it is another
 * field or its value does not start with an authserv-id.
 */
int authres_authserv_id(const char *field, size_t n, char *id, size_t size);

#endif
