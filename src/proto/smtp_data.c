/*
 * smtp_data: DATA stream decoder (see smtp_data.h). Emits runs of plain
 * bytes in one call for speed; the per-byte work is a switch on the state.
 */
#include "proto/smtp_data.h"
#include <string.h>
#include <strings.h>

void smtp_data_init(struct smtp_data *d)
{
    memset(d, 0, sizeof *d);
    d->state = SD_LINE_START;
    d->in_headers = 1;
}

/* Header watch: called for each decoded byte of a line while in headers. */
static void smtp_data_header_byte(struct smtp_data *d, char c)
{
    if (d->hname_len >= sizeof d->hname - 1)
        return; /* name too long, continuation line, or already matched */
    d->hname[d->hname_len++] = c;
    if (c != ':')
        return;
    d->hname[d->hname_len] = '\0';
    if (strcasecmp(d->hname, "received:") == 0)
        d->received++;
    else if (strcasecmp(d->hname, "date:") == 0)
        d->has_date = 1;
    else if (strcasecmp(d->hname, "message-id:") == 0)
        d->has_message_id = 1;
    else if (strcasecmp(d->hname, "from:") == 0)
        d->has_from = 1;
    d->hname_len = sizeof d->hname - 1; /* stop matching this line */
}

/* A real CRLF line end: an empty line ends the header section. */
static void smtp_data_line_end(struct smtp_data *d)
{
    if (d->in_headers && d->line_bytes == 0)
        d->in_headers = 0;
    d->line_bytes = 0;
    d->hname_len = 0;
}

static void smtp_data_byte(struct smtp_data *d, unsigned char c)
{
    if (c >= 0x80)
        d->eight_bit = 1;
    if (d->in_headers) {
        if (d->line_bytes == 0 && (c == ' ' || c == '\t'))
            d->hname_len = sizeof d->hname - 1; /* continuation line */
        smtp_data_header_byte(d, (char)c);
    }
    if (d->line_bytes < 1000000)
        d->line_bytes++;
}

size_t smtp_data_feed(struct smtp_data *d, const char *in, size_t len,
                      void (*emit)(void *ctx, const char *p, size_t n), void *ctx)
{
    static const char crlf[2] = {'\r', '\n'};
    size_t i = 0, run = 0; /* run: start of pending plain bytes to emit */
#define FLUSH()                                                  \
    do {                                                         \
        if (i > run) {                                           \
            emit(ctx, in + run, i - run);                        \
            d->octets += i - run;                                \
        }                                                        \
    } while (0)
#define EMIT(p, n)                                               \
    do {                                                         \
        emit(ctx, (p), (n));                                     \
        d->octets += (n);                                        \
    } while (0)
    while (i < len && d->state != SD_DONE) {
        unsigned char c = (unsigned char)in[i];
        switch (d->state) {
        case SD_LINE_START:
            if (c == '.' && !d->raw) {
                FLUSH();
                d->state = SD_DOT;
                run = ++i;
                continue;
            }
            d->state = SD_MID;
            continue; /* reprocess as MID */
        case SD_MID:
            if (c == '\r') {
                FLUSH();
                d->state = SD_CR;
                run = ++i;
                continue;
            }
            if (c == '\n')
                d->bare_newline = 1; /* stays SD_MID: never a line start */
            else
                smtp_data_byte(d, c);
            i++;
            continue;
        case SD_CR:
            if (c == '\n') {
                if (d->in_headers && d->line_bytes == 0 && d->on_header_end)
                    d->on_header_end(ctx);
                EMIT(crlf, 2);
                smtp_data_line_end(d);
                d->state = SD_LINE_START;
                run = ++i;
                continue;
            }
            d->bare_newline = 1;
            EMIT(crlf, 1);
            d->state = SD_MID;
            continue;
        case SD_DOT:
            if (c == '\r') {
                d->state = SD_DOT_CR;
                run = ++i;
                continue;
            }
            d->state = SD_MID; /* the stuffed dot is dropped */
            continue;
        case SD_DOT_CR:
            if (c == '\n') {
                if (d->in_headers && d->on_header_end)
                    d->on_header_end(ctx); /* a message without a body */
                d->in_headers = 0;
                d->state = SD_DONE;
                return i + 1;
            }
            d->bare_newline = 1;
            EMIT(crlf, 1);
            d->state = SD_MID;
            continue;
        case SD_DONE:
            break;
        }
    }
    FLUSH();
    return i;
#undef FLUSH
#undef EMIT
}

void smtp_data_finish(struct smtp_data *d, void (*emit)(void *ctx, const char *p, size_t n),
                      void *ctx)
{
    if (d->state == SD_CR) {
        d->bare_newline = 1;
        emit(ctx, "\r", 1);
        d->octets++;
        d->state = SD_MID;
    }
    if (d->in_headers && d->state == SD_LINE_START && d->on_header_end)
        d->on_header_end(ctx);
    d->in_headers = 0;
    d->state = SD_DONE;
}
