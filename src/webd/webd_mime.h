/*
 * webd_mime: one stored message read with GMime for the Web reader (private
 * to src/webd; runs on a web worker only). The file is parsed from a
 * GMimeStreamFs with the parser's persist-stream on, so a part's content stays
 * a range of the file: nothing is loaded whole. The walk sorts the leaves into
 * what the page shows (text/plain parts; the one HTML body, preferred in a
 * multipart/alternative) and the attachments, in a stable order: index N of
 * the list is /msg/ID/part/N, found again by the same walk.
 */
#ifndef POSTINO_WEBD_MIME_H
#define POSTINO_WEBD_MIME_H
#include "lib/buf.h"
#include <gmime/gmime.h>
#include <stdint.h>

#define WEBD_MIME_PARTS_MAX 256
#define WEBD_MIME_DEPTH_MAX 32

enum webd_mime_kind { WEBD_MIME_TEXT, WEBD_MIME_HTML };

struct webd_mime_shown {
    enum webd_mime_kind kind;
    GMimeObject *obj;            /* borrowed from the message */
};

struct webd_mime_att {
    GMimeObject *obj;            /* a GMimePart or a GMimeMessagePart, borrowed */
    char *name;                  /* decoded (RFC 2231/2047), UTF-8, no path separators */
};

struct webd_mime {
    GMimeStream *stream;
    GMimeMessage *msg;
    struct webd_mime_shown shown[WEBD_MIME_PARTS_MAX];
    size_t n_shown;
    struct webd_mime_att atts[WEBD_MIME_PARTS_MAX];
    size_t n_atts;
    GMimeObject *html;           /* the first HTML body, or NULL */
};

/* Parses the message in fd (taken: closed by webd_mime_close). 0, or -1 when
 * it cannot be read as a message at all. */
int webd_mime_open(struct webd_mime *m, int fd);
void webd_mime_close(struct webd_mime *m);
/* A header of the message decoded to UTF-8 (addresses as "Name <addr>", the
 * subject RFC 2047 decoded) into out; "" when absent. */
void webd_mime_header(struct webd_mime *m, const char *name, struct buf *out);
/* The content of a text part: transfer encoding undone, charset converted to
 * UTF-8, invalid bytes replaced; at most max bytes (*cut = 1 when there was
 * more). 0 or -1. */
int webd_mime_text(GMimeObject *obj, size_t max, struct buf *out, int *cut);
/* The content of a part with its transfer encoding undone (and, to_utf8, its
 * charset converted), at most max bytes appended to out (*cut = 1 when there
 * was more). 0 or -1. */
int webd_mime_bytes(GMimeObject *obj, int to_utf8, size_t max, struct buf *out, int *cut);
/* The decoded bytes of an attachment written to fd (NULL fd: only counted).
 * The size, or -1. */
int64_t webd_mime_save(GMimeObject *obj, int fd);

#endif
