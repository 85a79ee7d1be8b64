/*
 * envelope: what postino knows about a queued message besides its content:
 * sender, recipients with their DSN parameters and delivery state, RET,
 * ENVID, arrival time, client. Also the versioned text format in which the
 * envelope is stored in the queue file (docs/queue-format.md), as pure
 * format/parse functions over buffers: no I/O here.
 *
 * Every value is %-escaped on write (any byte outside '!'..'~', and '%'),
 * so no value, however hostile, can inject a line into the queue file.
 */
#ifndef POSTINO_ENVELOPE_H
#define POSTINO_ENVELOPE_H
#include <stddef.h>
#include <stdint.h>
#include "lib/buf.h"
#include "proto/smtp_parse.h"

#define QUEUE_ID_MAX 24
#define ENVELOPE_MAGIC "postino-queue 1\n"
/* Width of the size field, patched in place when DATA ends. */
#define ENVELOPE_SIZE_WIDTH 20

enum rcpt_status {
    RCPT_PENDING = 0,   /* not tried yet */
    RCPT_DEFERRED,      /* tried, temporary failure, will retry */
    RCPT_DELIVERED,     /* final delivery done (local mailbox) */
    RCPT_RELAYED,       /* handed to the next hop */
    RCPT_FAILED,        /* permanent failure */
    RCPT_EXPANDED,      /* an alias: its targets follow as their own recipients */
};

struct env_rcpt {
    char *addr;             /* "local@domain" as received (or alias target) */
    unsigned notify;        /* NOTIFY_* bits, 0 = not given */
    char *orcpt;            /* "type;address" decoded, or NULL */
    int parent;             /* index of the alias this came from, -1 if none */
    enum rcpt_status status;
    unsigned attempts;
    int64_t next_attempt;   /* ms since the epoch; 0 = as soon as possible */
    unsigned dsn_sent;      /* notices already sent for it (NOTIFY_* bits) */
    char *last_reply;       /* last delivery reply/diagnostic, or NULL */
    char *remote_mta;       /* the next-hop host that gave last_reply, or NULL */
    char *tls;              /* TLS of that attempt: "TLSv1.3/CIPHER/verified" (or
                             * "unverified"), "none" in the clear; NULL if never sent */
};

struct envelope {
    char id[QUEUE_ID_MAX + 1];
    int64_t arrival;        /* ms since the epoch */
    char *sender;           /* "" for the null sender <> */
    enum dsn_ret ret;
    char *envid;            /* decoded, or NULL */
    enum body_type body;
    char *helo;             /* client's HELO/EHLO name, or NULL */
    char *client;           /* client IP address text, or NULL */
    char *auth;             /* authenticated login, or NULL */
    int hold;               /* frozen by the operator */
    uint64_t size;          /* content octets */
    uint64_t content_offset;/* where the content starts in the queue file */
    struct env_rcpt *rcpts;
    size_t n_rcpts, cap_rcpts;
    int smtputf8;           /* received with SMTPUTF8 (RFC 6531): needs it to be passed on */
};

void envelope_init(struct envelope *e);
void envelope_free(struct envelope *e);
/* Appends a recipient (copies strings) and returns its index. */
size_t envelope_add_rcpt(struct envelope *e, const char *addr, unsigned notify,
                         const char *orcpt, int parent, enum rcpt_status status);
/* 1 if no recipient is still waiting for delivery (pending or deferred). */
int envelope_done(const struct envelope *e);

/*
 * Writes the queue file head: magic, fields, recipients, the size field
 * (zeros, ENVELOPE_SIZE_WIDTH wide; its offset into *size_offset), then
 * "data\n". The content follows it in the file, then "end\n".
 */
int envelope_format_head(const struct envelope *e, struct buf *out, size_t *size_offset);
/* The state record appended when recipient i changes. */
int envelope_format_state(const struct envelope *e, size_t i, struct buf *out);
/* The record appended for hold / release. */
int envelope_format_hold(int hold, struct buf *out);
/* The record appended for a recipient added after queueing (alias expansion). */
int envelope_format_rcpt(const struct envelope *e, size_t i, struct buf *out);

/*
 * Parses a queue file head from buf (at least up to "data\n"): fills e and
 * e->content_offset. 0 ok, 1 need more bytes, -1 corrupt.
 */
int envelope_parse_head(const char *buf, size_t len, struct envelope *e);
/*
 * Applies the records that follow the content: buf starts with "end\n"
 * (-1 if not: a truncated file). A last line without its newline is a torn
 * append and is ignored. -1 if corrupt.
 */
int envelope_parse_tail(const char *buf, size_t len, struct envelope *e);

/*
 * The ENVID sent to a next hop: the sender's own, else the queue id for mail
 * postino's own users sent (authenticated submission, or `postino sendmail`:
 * no client address), so that notices from later hops can be matched to it
 * (track/track_notice.c); NULL for other mail and for notices (null sender).
 */
const char *envelope_envid_to_send(const struct envelope *e);

const char *rcpt_status_name(enum rcpt_status s);
const char *dsn_ret_name(enum dsn_ret r);     /* "FULL", "HDRS", "" */
const char *body_type_name(enum body_type b); /* "7BIT", "8BITMIME", "BINARYMIME", "" */

#endif
