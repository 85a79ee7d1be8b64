/*
 * smtp_verbs: dispatch through a front end's command table and the EHLO
 * keyword list (see smtp_verbs.h).
 */
#include "proto/smtp_verbs.h"
#include "proto/esc.h"

const struct smtp_err smtp_reply_line_too_long = {500, ESC_SYNTAX_ERROR, "Error: line too long"};

static const struct smtp_err smtp_reply_unknown = {500, ESC_SYNTAX_ERROR,
                                                   "Error: command not recognized"};
static const struct smtp_err smtp_reply_not_implemented = {502, ESC_INVALID_COMMAND,
                                                           "Error: command not implemented"};

static const struct smtp_verb_row *smtp_verbs_find(const struct smtp_verbs *t, enum smtp_verb v)
{
    for (size_t i = 0; i < t->n_rows; i++)
        if (t->rows[i].verb == v)
            return &t->rows[i];
    return NULL;
}

void smtp_verbs_dispatch(const struct smtp_verbs *t, void *session, enum smtp_phase phase,
                         const struct smtp_cmd *cmd)
{
    const struct smtp_verb_row *row = smtp_verbs_find(t, cmd->verb);
    if (cmd->verb == SMTP_UNKNOWN) { /* no front end has a row for it */
        t->refuse(session, &smtp_reply_unknown);
    } else if (!row) {
        t->refuse(session, &smtp_reply_not_implemented);
    } else if (!(row->phases & SMTP_IN(phase))) {
        struct smtp_err e = {503, ESC_INVALID_COMMAND,
                             phase == SMTP_PHASE_GREETED ? row->before_helo : row->out_of_turn};
        t->refuse(session, &e);
    } else {
        row->handler(session, cmd);
    }
}

void smtp_verbs_line(const struct smtp_verbs *t, void *session, enum smtp_phase phase,
                     const char *line, size_t len)
{
    struct smtp_cmd cmd;
    smtp_parse_command(line, len, &cmd);
    smtp_verbs_dispatch(t, session, phase, &cmd);
}

/* The keywords in the order they are offered; the last line is the one without '-'. */
static const struct {
    const char *keyword;
    unsigned option;    /* 0: always offered, else the smtp_ehlo_option it needs */
    int sized;          /* followed by the message size limit */
} smtp_ehlo_keywords[] = {
    {"PIPELINING", 0, 0},          /* RFC 2920 */
    {"SIZE", 0, 1},                /* RFC 1870 */
    {"8BITMIME", 0, 0},            /* RFC 6152 */
    {"DSN", 0, 0},                 /* RFC 3461 */
    {"ENHANCEDSTATUSCODES", 0, 0}, /* RFC 2034 */
    {"STARTTLS", SMTP_EHLO_STARTTLS, 0},
    {"AUTH PLAIN LOGIN", SMTP_EHLO_AUTH, 0},
    {"CHUNKING", SMTP_EHLO_CHUNKING, 0},   /* RFC 3030 */
    {"BINARYMIME", SMTP_EHLO_CHUNKING, 0}, /* RFC 3030: needs CHUNKING */
    {"SMTPUTF8", 0, 0},            /* RFC 6531 */
};

void smtp_ehlo_reply(struct buf *out, const char *greeting, uint64_t max_size, unsigned options)
{
    size_t n = sizeof smtp_ehlo_keywords / sizeof smtp_ehlo_keywords[0], last = 0;
    for (size_t i = 0; i < n; i++)
        if (!smtp_ehlo_keywords[i].option || (options & smtp_ehlo_keywords[i].option))
            last = i;
    buf_printf(out, "250-%s", greeting);
    for (size_t i = 0; i <= last; i++) {
        unsigned need = smtp_ehlo_keywords[i].option;
        if (need && !(options & need))
            continue;
        buf_printf(out, "\r\n250%c%s", i == last ? ' ' : '-', smtp_ehlo_keywords[i].keyword);
        if (smtp_ehlo_keywords[i].sized)
            buf_printf(out, " %llu", (unsigned long long)max_size);
    }
}
