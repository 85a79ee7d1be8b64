/*
 * smtp_dotstuff: the sending side of RFC 5321 4.5.2 transparency, pure, no
 * I/O. Adds a '.' before every line that starts with one and ends the
 * content with CRLF "." CRLF (a CRLF first when the content does not end
 * with one). Streaming: the content may come in pieces of any size, so a
 * message is never held in memory. The receiving side is proto/smtp_data.
 */
#ifndef POSTINO_SMTP_DOTSTUFF_H
#define POSTINO_SMTP_DOTSTUFF_H
#include <stddef.h>

typedef void (*smtp_dotstuff_emit)(void *ctx, const char *p, size_t n);

struct smtp_dotstuff {
    int line_start;   /* the next byte starts a line (after LF, or at the start) */
};

void smtp_dotstuff_init(struct smtp_dotstuff *s);
/* Passes len bytes of content to emit, in pieces, with the dots added. */
void smtp_dotstuff_feed(struct smtp_dotstuff *s, const char *in, size_t len,
                        smtp_dotstuff_emit emit, void *ctx);
/* Emits the end of data: CRLF if the content did not end a line, then ".\r\n". */
void smtp_dotstuff_end(const struct smtp_dotstuff *s, smtp_dotstuff_emit emit, void *ctx);

#endif
