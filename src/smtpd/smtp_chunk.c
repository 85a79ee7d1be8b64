/*
 * smtp_chunk: BDAT of a server session (RFC 3030 CHUNKING and BINARYMIME).
 * Owns the BDAT verb and the reading of a chunk's octets: exactly the
 * announced count is taken from the input, however it arrives (split in
 * any way, or pipelined with the next command), and none of it is ever
 * read as a command; whatever follows the count is the next command line.
 * The content goes through the DATA decoder in raw mode (proto/smtp_data:
 * no dot-stuffing, no end-of-data sequence; header watch and the bare CR /
 * LF rule as for DATA, except for BODY=BINARYMIME) into the queue file
 * that smtp_receive.c opens, and the LAST chunk ends the message through
 * smtp_receive.c's commit path, so its 250 waits for the same fsyncs.
 * A chunk that is refused (no transaction, a failed earlier BDAT, a queue
 * file error, a malformed argument with a readable size) is still read
 * and thrown away, then answered, so the session stays in step; only a
 * BDAT whose size cannot be read ends the session (421). Any refused
 * BDAT ends the transaction: the client must start over (RSET, MAIL).
 * Limits: max_message_size (552 5.3.4, told after the chunk is read).
 */
#include "smtpd/smtp_session.h"
#include "lib/log.h"
#include "lib/str.h"
#include "proto/esc.h"
#include <event2/buffer.h>
#include <string.h>

/* Reads size octets and throws them away, then sends reply; a transaction ends. */
static void smtps_bdat_discard(struct smtps_session *s, uint64_t size, const char *reply)
{
    str_copy(s->chunk.reply, sizeof s->chunk.reply, reply);
    s->chunk.size = s->chunk.left = size;
    s->chunk.last = 0;
    s->chunk.discard = 1;
    s->chunk.resume = s->state;
    if (s->state == SMTPS_MAIL || s->state == SMTPS_RCPT) {
        smtps_tx_reset(s);
        s->bdat_failed = 1;
        s->chunk.resume = SMTPS_IDLE;
    }
    s->state = SMTPS_BDAT;
}

/* The same with a reply from the table of codes. */
static void smtps_bdat_refuse(struct smtps_session *s, uint64_t size, int code,
                              enum esc_code esc, const char *text)
{
    char reply[160];
    esc_reply(reply, sizeof reply, code, esc, text);
    smtps_bdat_discard(s, size, reply);
}

/* The sequence check: NULL if a chunk may come now, else the 503 text. */
static const char *smtps_bdat_out_of_turn(const struct smtps_session *s)
{
    if (s->state == SMTPS_CONNECTED)
        return "Error: send HELO/EHLO first";
    if (s->state == SMTPS_IDLE && s->bdat_failed)
        return "Error: BDAT failed, send RSET";
    if (s->state != SMTPS_RCPT)
        return "Error: need RCPT command";
    return NULL;
}

/* The first chunk of a transaction opens the queue file; 0, or -1 (chunk refused). */
static int smtps_bdat_begin(struct smtps_session *s, uint64_t size)
{
    if (s->tx.bdat)
        return 0;
    int err = smtps_tx_open(s);
    if (err) {
        smtps_bdat_discard(s, size, queue_error_reply(err));
        return -1;
    }
    s->tx.bdat = 1;
    s->tx.data.raw = 1;
    return 0;
}

/* The chunk's bad argument: skip it if its size is known, else end the session. */
static void smtps_bdat_malformed(struct smtps_session *s, const struct bdat_params *bp,
                                 const struct smtp_err *err)
{
    if (bp->has_size) {
        smtps_bdat_refuse(s, bp->size, err->code, err->esc, err->text);
        return;
    }
    smtps_refuse(s, err);
    log_info("smtp: %s: BDAT without a readable size, closing", s->client_ip);
    smtps_reply_esc(s, 421, ESC_OTHER_PROTOCOL, "%s Error: cannot find the end of the BDAT chunk",
                    s->conf->hostname);
    smtps_close(s);
}

void smtps_bdat_command(struct smtps_session *s, const struct smtp_cmd *cmd)
{
    struct bdat_params bp;
    struct smtp_err err;
    if (smtp_parse_bdat(cmd->arg, cmd->arg_len, &bp, &err) < 0) {
        smtps_bdat_malformed(s, &bp, &err);
        return;
    }
    const char *turn = smtps_bdat_out_of_turn(s);
    if (turn) {
        smtps_bdat_refuse(s, bp.size, 503, ESC_INVALID_COMMAND, turn);
        return;
    }
    if (smtps_bdat_begin(s, bp.size) < 0)
        return;
    uint64_t max = s->conf->max_message_size;
    if (bp.size > max || s->tx.data.octets > max - bp.size)
        s->tx.too_big = 1; /* refused once the chunk is read (RFC 3030 2) */
    s->chunk.size = s->chunk.left = bp.size;
    s->chunk.last = bp.last;
    s->chunk.discard = 0;
    s->state = SMTPS_BDAT;
}

/* The chunk's octets are all read: answer it, and end the message after LAST. */
static void smtps_bdat_chunk_end(struct smtps_session *s)
{
    if (s->chunk.discard) {
        s->state = s->chunk.resume;
        smtps_reply(s, "%s", s->chunk.reply);
        s->errors++;
        return;
    }
    s->state = SMTPS_RCPT;
    if (!s->chunk.last && !s->tx.too_big) {
        smtps_reply_esc(s, 250, ESC_OTHER_STATUS, "Ok: %llu octets received",
                        (unsigned long long)s->chunk.size);
        return;
    }
    smtp_data_finish(&s->tx.data, smtps_emit, s);
    smtps_data_end(s); /* too big, bare CR/LF, hops: refused there, as for DATA */
    if (s->state == SMTPS_IDLE)
        s->bdat_failed = 1;
}

int smtps_bdat_input(struct smtps_session *s)
{
    struct evbuffer *in = bufferevent_get_input(s->bev);
    while (s->chunk.left > 0) {
        struct evbuffer_iovec vec[8];
        int n = evbuffer_peek(in, -1, NULL, vec, 8);
        if (n <= 0)
            return 1;
        size_t used = 0;
        for (int i = 0; i < n && i < 8 && s->chunk.left > 0; i++) {
            size_t take = vec[i].iov_len;
            if ((uint64_t)take > s->chunk.left)
                take = (size_t)s->chunk.left;
            if (!s->chunk.discard && !s->tx.too_big)
                smtp_data_feed(&s->tx.data, vec[i].iov_base, take, smtps_emit, s);
            s->chunk.left -= take;
            used += take;
        }
        evbuffer_drain(in, used);
    }
    smtps_bdat_chunk_end(s);
    return 0;
}
