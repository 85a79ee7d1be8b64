/*
 * dsn_parse: reads a delivery status notification that arrives from another
 * host (RFC 3464 inside an RFC 6522 multipart/report; RFC 6533 for
 * message/global-delivery-status), as Postfix, Exim, Sendmail, Exchange,
 * Gmail and postino itself write them: the per-message fields (ENVID,
 * Reporting-MTA), each recipient's fields, and the Message-ID of the
 * returned message or header section, so that the notice can be matched to
 * a message postino sent. Pure: no I/O, allocation only through lib/alloc.h
 * (scratch space for a transfer-encoded part), the input is untrusted: every
 * value is unfolded, freed of control characters and bounded; a value that
 * does not fit is left empty (a Diagnostic-Code is cut instead), a
 * recipient without a usable Final-Recipient, Action and Status is left out,
 * and at most DSN_PARSE_RCPTS_MAX recipients are kept.
 */
#ifndef POSTINO_DSN_PARSE_H
#define POSTINO_DSN_PARSE_H
#include <stddef.h>

#define DSN_PARSE_RCPTS_MAX 100

struct dsn_parsed_rcpt {
    char original_rcpt[512];   /* Original-Recipient address (after "type;"), "" if none */
    char final_rcpt[512];      /* Final-Recipient address (after "type;") */
    char action[16];           /* failed|delayed|delivered|relayed|expanded, lower case */
    char status[16];           /* "5.1.1" */
    char remote_mta[256];      /* Remote-MTA value after "dns;", "" if none */
    char diagnostic[1024];     /* Diagnostic-Code value after its type, unfolded, "" if none */
};

struct dsn_parsed {
    char envid[256];           /* Original-Envelope-Id (xtext decoded), "" if none */
    char reporting_mta[256];   /* Reporting-MTA after "dns;" */
    char message_id[256];      /* Message-ID of the returned message or headers (without
                                * them, Gmail's per-message X-Original-Message-ID), "" */
    struct dsn_parsed_rcpt rcpts[DSN_PARSE_RCPTS_MAX];
    size_t n_rcpts;
    int rcpts_truncated;       /* 1: the notice named more recipients; the rest left out */
};

/*
 * 0 if msg[0..len) (a whole message, CRLF or LF) is a multipart/report with
 * report-type=delivery-status (or global-delivery-status, RFC 6533), found at
 * the top or inside multipart/mixed or multipart/signed, whose
 * message/delivery-status (or message/global-delivery-status) part names a
 * Reporting-MTA and at least one recipient; out is filled. -1 otherwise
 * (also for a multipart whose close delimiter never comes); out is then
 * cleared.
 */
int dsn_parse(const char *msg, size_t len, struct dsn_parsed *out);

#endif
