/*
 * mime: reading the structure of MIME messages (RFC 2045, RFC 2046) as they
 * arrive from other hosts: an entity's header and body, its Content-Type
 * (media type, parameters quoted or not, in any order, folded, with
 * comments), its Content-Transfer-Encoding and the decoding of quoted-
 * printable and base64 bodies, and the body parts of a multipart entity
 * between its boundary delimiter lines. Pure: no I/O; input is untrusted,
 * every scan stays within the given length, every copy is bounded. Header
 * fields are found with proto/rfc5322 (the one header scanner); base64 is
 * proto/sasl's decoder. Lines may end in CRLF or LF.
 */
#ifndef POSTINO_MIME_H
#define POSTINO_MIME_H
#include <stddef.h>
#include "lib/buf.h"

/* RFC 2046 5.1.1: a boundary is 1 to 70 characters. */
#define MIME_BOUNDARY_MAX 70
/* "type/subtype" in lower case, NUL included; longer types are not ones we read. */
#define MIME_TYPE_MAX 128

/* An entity (a message or a body part) split at the end of its header section. */
struct mime_entity {
    const char *head;
    size_t head_len;   /* through the empty line that ends it, if any */
    const char *body;
    size_t body_len;
};

void mime_entity_split(const char *p, size_t len, struct mime_entity *e);

/*
 * The media type of e's Content-Type as "type/subtype" in lower case
 * (parameters and comments left out). Without a Content-Type field, or with
 * one that cannot be read, "text/plain" (RFC 2045 5.2). 0, or -1 if the
 * type does not fit in size (out is then "").
 */
int mime_content_type(const struct mime_entity *e, char *out, size_t size);

/*
 * The value of the Content-Type parameter named name (case-insensitive) of e,
 * unquoted, into out. 0, or -1 if there is no such parameter, it is empty or
 * it does not fit in size.
 */
int mime_content_param(const struct mime_entity *e, const char *name, char *out, size_t size);

enum mime_encoding {
    MIME_ENC_IDENTITY = 0,   /* none, 7bit, 8bit, binary */
    MIME_ENC_QUOTED_PRINTABLE,
    MIME_ENC_BASE64,
    MIME_ENC_UNKNOWN,        /* a token we cannot undo (x-uuencode...) */
};

/* e's Content-Transfer-Encoding (RFC 2045 6.1; absent: identity). */
enum mime_encoding mime_transfer_encoding(const struct mime_entity *e);

/*
 * Appends body p[0..n) decoded from enc to out. Quoted-printable is read
 * leniently (a stray '=' stays as it is, soft line breaks go); base64 must be
 * valid apart from line breaks and white space. 0, or -1 on malformed base64,
 * an unknown encoding or out's limit.
 */
int mime_decode(enum mime_encoding enc, const char *p, size_t n, struct buf *out);

enum mime_parts_state {
    MIME_PARTS_PREAMBLE = 0,   /* before the first delimiter line */
    MIME_PARTS_IN_PART,        /* after a delimiter line: a part follows */
    MIME_PARTS_CLOSED,         /* the close delimiter was read */
    MIME_PARTS_BROKEN,         /* no delimiter, or the body ended before the close delimiter */
};

/* The walk over the body parts of one multipart body. */
struct mime_parts {
    const char *body;
    size_t len;
    size_t pos;                /* start of the next line to read */
    char boundary[MIME_BOUNDARY_MAX + 1];
    size_t blen;
    enum mime_parts_state state;
};

/* Starts a walk of body[0..len) with boundary (the Content-Type parameter). -1 if the
 * boundary is empty or longer than MIME_BOUNDARY_MAX (the walk is then broken). */
int mime_parts_init(struct mime_parts *m, const char *body, size_t len, const char *boundary);

/*
 * The next body part: 1 with *part, *part_len set (the line break before the
 * next delimiter line is not part of it); 0 after the last part (the close
 * delimiter); -1 if the multipart is malformed: no delimiter line at all, or
 * the body ends before the close delimiter (a part is given only when a
 * delimiter line follows it).
 */
int mime_parts_next(struct mime_parts *m, const char **part, size_t *part_len);

#endif
