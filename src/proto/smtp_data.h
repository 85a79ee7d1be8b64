/*
 * smtp_data: the DATA stream decoder (RFC 5321 4.1.1.4, 4.5.2), pure, no I/O.
 * A byte-level state machine, so text lines of any length pass with bounded
 * memory. It removes dot-stuffing, finds the end of data, and watches the
 * header section (Received count for loop detection, Date / Message-ID).
 *
 * End of data is CRLF "." CRLF only. A bare CR or bare LF anywhere marks the
 * message as bad (the server rejects it with 550 5.5.2) and never starts a
 * line, so "\n.\n", "\n.\r\n" and "\r.\r" cannot end a message: this closes
 * the SMTP smuggling hole (CVE-2023-51764 class).
 *
 * BDAT content (RFC 3030) goes through the same decoder in raw mode: no
 * dot-stuffing and no end of data (the caller counts the chunk's octets and
 * calls smtp_data_finish after the LAST one), so CRLF "." CRLF is content.
 * Bare CR and LF are still found and flagged the same way: the server keeps
 * one rule for both (RFC 5321 2.3.8), except for BODY=BINARYMIME content.
 */
#ifndef POSTINO_SMTP_DATA_H
#define POSTINO_SMTP_DATA_H
#include <stddef.h>
#include <stdint.h>

enum smtp_data_state {
    SD_LINE_START,  /* after CRLF (or at the start): dot-stuffing applies */
    SD_MID,         /* inside a line */
    SD_CR,          /* saw CR inside a line */
    SD_DOT,         /* saw "." at a line start */
    SD_DOT_CR,      /* saw "." CR at a line start */
    SD_DONE,        /* saw CRLF.CRLF */
};

struct smtp_data {
    enum smtp_data_state state;
    int bare_newline;        /* a bare CR or LF was seen */
    int eight_bit;           /* a byte >= 0x80 was seen */
    uint64_t octets;         /* decoded octets produced so far */
    /* header watch */
    int in_headers;          /* still in the header section */
    unsigned received;       /* Received: header fields seen */
    int has_date, has_message_id, has_from;
    char hname[16];          /* the first bytes of the current header line */
    size_t hname_len;
    int line_bytes;          /* bytes in the current line so far (capped) */
    /* Optional: called when the header section ends, before the empty line (or the
     * end of data) is emitted, so the caller can append header fields (RFC 6409 8). */
    void (*on_header_end)(void *ctx);
    int raw;                 /* BDAT content: set after smtp_data_init, before the first feed */
};

void smtp_data_init(struct smtp_data *d);
/*
 * Decodes up to len bytes of in. Decoded output goes to emit(ctx, p, n) in
 * pieces. Returns the number of input bytes consumed: all of them, or fewer
 * when the end of data was reached (d->state == SD_DONE; the rest belongs to
 * the next command).
 */
size_t smtp_data_feed(struct smtp_data *d, const char *in, size_t len,
                      void (*emit)(void *ctx, const char *p, size_t n), void *ctx);

/*
 * Raw mode only, after the last octet: emits a CR held back at the very end
 * (a bare CR: flagged), and calls on_header_end if the content ended inside
 * the header section at a line start (a message without a body).
 */
void smtp_data_finish(struct smtp_data *d, void (*emit)(void *ctx, const char *p, size_t n),
                      void *ctx);

#endif
