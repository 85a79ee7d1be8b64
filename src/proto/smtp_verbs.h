/*
 * smtp_verbs: the command table of every SMTP front end, the server
 * (smtpd/smtp_commands.c) and `sendmail -bs` (cmd/sendmail_bs.c), as
 * OpenSMTPD's commands table: one row {verb, states, handler} per verb a
 * front end implements. The table, not the handlers, decides the replies
 * to an unknown verb (500 5.5.2), a verb the front end lacks (502 5.5.1)
 * and a verb out of sequence (503 5.5.1, RFC 5321 4.1.4, with the row's
 * text). Also the one list of EHLO keywords (RFC 5321 4.1.1.1; RFC 2920,
 * 1870, 6152, 3461, 2034, 3207, 4954, 3030), so both front ends offer the same
 * extensions in the same order. Pure, no I/O: replies go through the
 * front end's callback.
 */
#ifndef POSTINO_SMTP_VERBS_H
#define POSTINO_SMTP_VERBS_H
#include <stddef.h>
#include <stdint.h>
#include "lib/buf.h"
#include "proto/smtp_parse.h"

/* Where a session stands in the command sequence; a front end's state enum starts with these. */
enum smtp_phase {
    SMTP_PHASE_GREETED = 0, /* greeting sent, no HELO/EHLO yet */
    SMTP_PHASE_READY = 1,   /* HELO/EHLO done, no transaction */
    SMTP_PHASE_MAIL = 2,    /* MAIL accepted */
    SMTP_PHASE_RCPT = 3,    /* at least one RCPT accepted */
};

#define SMTP_IN(phase) (1u << (phase))
#define SMTP_IN_ANY (SMTP_IN(SMTP_PHASE_GREETED) | SMTP_IN(SMTP_PHASE_READY) | \
                     SMTP_IN(SMTP_PHASE_MAIL) | SMTP_IN(SMTP_PHASE_RCPT))

typedef void smtp_verb_fn(void *session, const struct smtp_cmd *cmd);

struct smtp_verb_row {
    enum smtp_verb verb;
    unsigned phases;            /* SMTP_IN() bits: where the verb may come */
    smtp_verb_fn *handler;
    const char *before_helo;    /* the 503 text in SMTP_PHASE_GREETED when not allowed there */
    const char *out_of_turn;    /* the 503 text in the other phases not allowed */
};

/* The rows both front ends share: MAIL only between transactions, RCPT only inside one. */
#define SMTP_ROW_MAIL(fn) \
    {SMTP_MAIL, SMTP_IN(SMTP_PHASE_READY), fn, "Error: send HELO/EHLO first", \
     "Error: nested MAIL command"}
#define SMTP_ROW_RCPT(fn) \
    {SMTP_RCPT, SMTP_IN(SMTP_PHASE_MAIL) | SMTP_IN(SMTP_PHASE_RCPT), fn, \
     "Error: need MAIL command", "Error: need MAIL command"}
/* A verb valid in every phase: it checks what it needs itself. */
#define SMTP_ROW_ANY(verb, fn) {verb, SMTP_IN_ANY, fn, NULL, NULL}

struct smtp_verbs {
    const struct smtp_verb_row *rows;
    size_t n_rows;
    /* Sends a refusal the table decided (500, 502 or 503). */
    void (*refuse)(void *session, const struct smtp_err *reply);
};
/* static const struct smtp_verbs v = SMTP_VERBS(rows, refuse); */
#define SMTP_VERBS(rows, refuse) {(rows), sizeof(rows) / sizeof((rows)[0]), (refuse)}

/* The text of the 421 that ends a session on an HTTP request or a header line. */
#define SMTP_FORBIDDEN_TEXT "Error: not an SMTP command, closing connection"
/* The reply to a command line over smtp_line_limit (the session goes on). */
extern const struct smtp_err smtp_reply_line_too_long;

/* Runs the handler of cmd's row if phase allows it, else refuses through t->refuse. */
void smtp_verbs_dispatch(const struct smtp_verbs *t, void *session, enum smtp_phase phase,
                         const struct smtp_cmd *cmd);
/* Parses a command line (without CRLF, smtp_parse_command) and dispatches it. */
void smtp_verbs_line(const struct smtp_verbs *t, void *session, enum smtp_phase phase,
                     const char *line, size_t len);

/* Extensions only some sessions are offered. */
enum smtp_ehlo_option {
    SMTP_EHLO_STARTTLS = 1u, /* RFC 3207: TLS is configured and not on yet */
    SMTP_EHLO_AUTH = 2u,     /* RFC 4954: PLAIN and LOGIN */
    SMTP_EHLO_CHUNKING = 4u, /* RFC 3030: CHUNKING and BINARYMIME (the server; not -bs) */
};

/*
 * Appends the EHLO reply to out: "250-greeting", then a line per keyword,
 * the last one "250 ", lines joined by CRLF without a final one. max_size:
 * the SIZE value (RFC 1870); options: smtp_ehlo_option bits.
 */
void smtp_ehlo_reply(struct buf *out, const char *greeting, uint64_t max_size, unsigned options);

#endif
