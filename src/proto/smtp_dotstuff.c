/*
 * smtp_dotstuff: dot-stuffing of outgoing content (RFC 5321 4.5.2); see
 * smtp_dotstuff.h. A line starts after any LF, as the SMTP client has always
 * stuffed the stored content, which ends its lines with CRLF.
 */
#include "proto/smtp_dotstuff.h"

void smtp_dotstuff_init(struct smtp_dotstuff *s)
{
    s->line_start = 1;
}

void smtp_dotstuff_feed(struct smtp_dotstuff *s, const char *in, size_t len,
                        smtp_dotstuff_emit emit, void *ctx)
{
    size_t start = 0;
    for (size_t i = 0; i < len; i++) {
        if (s->line_start && in[i] == '.') {
            emit(ctx, in + start, i - start);
            emit(ctx, ".", 1);
            start = i; /* the content's own dot goes out with the next piece */
        }
        s->line_start = in[i] == '\n';
    }
    if (len > start)
        emit(ctx, in + start, len - start);
}

void smtp_dotstuff_end(const struct smtp_dotstuff *s, smtp_dotstuff_emit emit, void *ctx)
{
    if (!s->line_start)
        emit(ctx, "\r\n", 2);
    emit(ctx, ".\r\n", 3);
}
