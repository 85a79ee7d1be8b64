/*
 * dsn: composes Delivery Status Notifications (RFC 3464 inside an RFC 6522
 * multipart/report, status codes per RFC 3463, RET/ENVID/ORCPT per RFC 3461).
 * What postino must do is summed up in the project's DSN specification (sections 4 and 5).
 *
 * dsn_build is a pure function: inputs -> the complete RFC 5322 / MIME text of
 * one notice, CRLF line ends, every line within 998 octets. No I/O, no clock,
 * no random numbers: the same input gives the same bytes (Message-ID and MIME
 * boundary are derived from the queue id, the time and the content).
 * Every caller-supplied string is treated as hostile: control characters
 * never reach a header line, and the original message is carried only when it
 * can be carried whole and valid (else its header section alone).
 */
#ifndef POSTINO_DSN_H
#define POSTINO_DSN_H
#include <stddef.h>
#include <stdint.h>
#include "lib/buf.h"
#include "proto/rfc5322.h"
#include "proto/smtp_parse.h"

#define DSN_LINE_MAX RFC5322_LINE_MAX   /* 998 octets without the CRLF */
#define DSN_STATUS_MAX 12   /* "5.123.123" and its NUL, with room */
#define DSN_MSGID_MAX RFC5322_MSGID_MAX /* a Message-ID we carry over, with its <> and NUL */

/* In the order a notice lists them: the worst outcome first. */
enum dsn_action {
    DSN_ACTION_FAILED = 0,
    DSN_ACTION_DELAYED,
    DSN_ACTION_DELIVERED,
    DSN_ACTION_RELAYED,
    DSN_ACTION_EXPANDED,
};

struct dsn_rcpt {
    const char *final_rcpt;     /* "bob@example.org" (required) */
    const char *orcpt;          /* ORCPT decoded, "type;addr", or NULL */
    enum dsn_action action;
    const char *status;         /* "5.1.1"; NULL or invalid: taken from diagnostic, else X.0.0 */
    const char *remote_mta;     /* next-hop host that answered, or NULL */
    const char *diagnostic;     /* the remote server's reply, "550 5.1.1 no such user", or NULL */
    int64_t last_attempt_ms;    /* ms since the epoch; <= 0: field omitted */
    int64_t will_retry_until_ms;/* delayed only; <= 0: field omitted */
    const char *reason;         /* postino's own explanation, text part only (a leading reply
                                 * code and RFC 3463 code are not shown), or NULL */
};

struct dsn_input {
    const char *reporting_mta;  /* our host name (required) */
    const char *envid;          /* ENVID decoded, or NULL */
    const char *received_from_mta; /* client's HELO name, or NULL */
    int64_t arrival_ms;         /* <= 0: Arrival-Date omitted */
    const char *to;             /* the original envelope sender (required, not empty) */
    enum dsn_ret ret;
    const char *queue_id;
    int64_t now_ms;             /* the notice's Date */
    const char *original;       /* the original content as queued, or NULL */
    size_t original_len;
    int original_complete;      /* 0: original holds only (a prefix with) the header section */
    int original_too_big;       /* with original_complete 0: because of return_limit */
    size_t return_limit;        /* dsn_return_limit: most octets returned whole; 0 = headers only */
    const char *original_message_id; /* "<id@host>" (see dsn_find_message_id), or NULL */
    const struct dsn_rcpt *rcpts;
    size_t n_rcpts;
    int utf8;                   /* the original was received with SMTPUTF8: an RFC 6533
                                 * notice (global-delivery-status, message/global or
                                 * message/global-headers, utf-8 address types, UTF-8 kept
                                 * in addresses); 0: RFC 3464 exactly as before */
};

/* "failed", "delayed", "delivered", "relayed", "expanded"; "?" if out of range. */
const char *dsn_action_name(enum dsn_action a);

/*
 * Appends the notice to out. The third part is message/rfc822 for a failure
 * notice (RET=FULL or no RET; RFC 3461 4.3: RET governs failure notices only)
 * when the original is complete, within return_limit and every line fits 998
 * octets; otherwise, and in every other notice, text/rfc822-headers. Recipients are
 * listed failed first, then delayed, delivered, relayed, expanded (stable);
 * the Subject follows the worst. 0, or -1 (out unchanged) on invalid input
 * (no reporting_mta, empty to, no recipient, unknown action) or out's limit.
 */
int dsn_build(const struct dsn_input *in, struct buf *out);

/* 1 if p starts with an SMTP reply code: [2-5] digit digit, then space, '-' or the end. */
int dsn_reply_coded(const char *p);

/* 1 if p holds an octet >= 0x80: the notice must then go with BODY=8BITMIME. */
int dsn_has_8bit(const char *p, size_t n);

/*
 * The RFC 3463 status of an SMTP reply text: "550 5.1.1 no such user" ->
 * "5.1.1", "4.4.7 expired" -> "4.4.7". The reply code's class wins over a
 * disagreeing enhanced code ("550 4.7.1" -> "5.7.1"). Without an enhanced code:
 * "C.0.0" with C the reply code's class, else default_class (2, 4 or 5).
 */
void dsn_status_from_reply(const char *reply, int default_class, char out[DSN_STATUS_MAX]);

/*
 * Length of the header section of msg: through its terminating empty line
 * when there is one; else up to the first line that is not part of a header
 * field, or all of len. Lines end with CRLF, LF or a bare CR. NULL gives 0.
 * (rfc5322_header_length under the name the queue manager uses.)
 */
size_t dsn_header_length(const char *msg, size_t len);

/*
 * Copies the first Message-ID of msg's header section, as "<left@right>",
 * into out. 0, or -1 if there is none, it is malformed or it does not fit.
 * (rfc5322_find_message_id under the name the queue manager uses.)
 */
int dsn_find_message_id(const char *msg, size_t len, char *out, size_t size);

#endif
