/*
 * sendmail_bs: `postino sendmail -bs`, an SMTP dialogue on stdin/stdout
 * (RFC 5321, with PIPELINING, 8BITMIME, DSN, SIZE, ENHANCEDSTATUSCODES, SMTPUTF8),
 * as programs that speak SMTP to a local sendmail expect. Each accepted
 * message goes into the drop directory like any other sendmail message;
 * "250 queued" comes only after it is durably stored there. Command lines
 * follow the server's rules: 512 octets, MAIL 612, RCPT 1012 (RFC 3461 4);
 * an HTTP request or a header line as a command ends the dialogue (421).
 * Commands go through the verb table of proto/smtp_verbs, as the server's
 * do: the same sequence rules for MAIL and RCPT, the same 500/502/503
 * replies, the same EHLO keyword list (without STARTTLS and AUTH).
 */
#include "cmd/sendmail.h"
#include "lib/alloc.h"
#include "lib/buf.h"
#include "lib/str.h"
#include "proto/esc.h"
#include "proto/smtp_parse.h"
#include "proto/smtp_verbs.h"
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sysexits.h>

/* Read cap for a command line: the longest smtp_line_limit allows (data lines may be longer). */
#define BS_LINE_MAX SMTP_RCPT_LINE_MAX

/* The command phases of proto/smtp_verbs (-bs has no RCPT phase), then the end. */
enum bs_state {
    BS_GREETED = SMTP_PHASE_GREETED,
    BS_READY = SMTP_PHASE_READY,
    BS_MAIL = SMTP_PHASE_MAIL,
    BS_QUIT = SMTP_PHASE_RCPT + 1,
};

struct bs {
    const struct conf *conf;
    enum bs_state state;
    int esmtp;
    struct sm_drop drop;
    int has_drop;
    int write_failed;
};

/* Writes one reply: prefix (may be NULL), the formatted text, CRLF; then flushes. */
static void bs_vreply(struct bs *b, const char *prefix, const char *fmt, va_list ap)
{
    if (prefix)
        fputs(prefix, stdout);
    vfprintf(stdout, fmt, ap);
    if (fputs("\r\n", stdout) == EOF || fflush(stdout) == EOF)
        b->write_failed = 1;
}

static void bs_reply(struct bs *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void bs_reply(struct bs *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    bs_vreply(b, NULL, fmt, ap);
    va_end(ap);
}

/* "code class.subject.detail text", the class taken from code (proto/esc.h). */
static void bs_reply_esc(struct bs *b, int code, enum esc_code esc, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static void bs_reply_esc(struct bs *b, int code, enum esc_code esc, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    bs_vreply(b, esc_reply_prefix(code, esc).s, fmt, ap);
    va_end(ap);
}

static void bs_refuse(void *session, const struct smtp_err *e)
{
    bs_reply_esc(session, e->code, e->esc, "%s", e->text);
}

/*
 * Reads one line without its line end into line (at most max octets; a
 * longer line is returned in pieces with *partial set). 0 at the end of input.
 */
static int bs_read_line(struct buf *line, size_t max, int *partial)
{
    buf_reset(line);
    *partial = 0;
    int c;
    while ((c = getchar()) != EOF) {
        if (c == '\n') {
            if (line->len && line->data[line->len - 1] == '\r')
                line->len--;
            return 1;
        }
        buf_putc(line, (char)c);
        if (line->len >= max) {
            *partial = 1;
            return 1;
        }
    }
    return line->len > 0;
}

static void bs_reset(struct bs *b)
{
    if (b->has_drop)
        sm_drop_free(&b->drop);
    b->has_drop = 0;
    if (b->state == BS_MAIL)
        b->state = BS_READY;
}

/* HELO and EHLO (esmtp). */
static void bs_ehlo(void *session, const struct smtp_cmd *cmd)
{
    struct bs *b = session;
    int esmtp = cmd->verb == SMTP_EHLO;
    bs_reset(b);
    if (!cmd->arg_len) {
        bs_reply_esc(b, 501, ESC_INVALID_ARGUMENTS, "Syntax: %s hostname", esmtp ? "EHLO" : "HELO");
        return;
    }
    b->esmtp = esmtp;
    b->state = BS_READY;
    if (!esmtp) {
        bs_reply(b, "250 %s", b->conf->hostname);
        return;
    }
    struct buf reply;
    buf_init(&reply, 4096);
    smtp_ehlo_reply(&reply, b->conf->hostname, b->conf->max_message_size, 0);
    bs_reply(b, "%s", buf_cstr(&reply));
    buf_free(&reply);
}

static void bs_mail(void *session, const struct smtp_cmd *cmd)
{
    struct bs *b = session;
    struct mail_params mp;
    struct smtp_err err;
    char sender[600];
    if (smtp_parse_mail(cmd->arg, cmd->arg_len, b->esmtp, &mp, &err) < 0) {
        bs_refuse(b, &err);
        return;
    }
    if (mp.body == BODY_BINARYMIME) { /* RFC 3030 3: only with CHUNKING, which -bs lacks */
        bs_reply_esc(b, 555, ESC_INVALID_ARGUMENTS, "Error: BODY=BINARYMIME needs CHUNKING");
        return;
    }
    if (mp.has_size && mp.size > b->conf->max_message_size) {
        bs_reply_esc(b, 552, ESC_MESSAGE_TOO_BIG,
                     "Error: message size exceeds fixed maximum message size");
        return;
    }
    if (addr_format(&mp.from, sender, sizeof sender) < 0 || (!mp.from.is_null && !mp.from.domain[0])) {
        bs_reply_esc(b, 501, ESC_BAD_SENDER_SYNTAX, "Error: bad sender address");
        return;
    }
    sm_drop_init(&b->drop, b->conf, sender, NULL);
    b->has_drop = 1;
    b->drop.env.ret = mp.ret;
    b->drop.env.envid = mp.has_envid ? xstrdup(mp.envid) : NULL;
    b->drop.env.smtputf8 = mp.smtputf8;
    b->state = BS_MAIL;
    bs_reply_esc(b, 250, ESC_OTHER_ADDRESS, "Ok");
}

static void bs_rcpt(void *session, const struct smtp_cmd *cmd)
{
    struct bs *b = session;
    struct rcpt_params rp;
    struct smtp_err err;
    char addr[600], orcpt[DSN_ORCPT_MAX + 64];
    if (smtp_parse_rcpt_utf8(cmd->arg, cmd->arg_len, b->esmtp, b->has_drop && b->drop.env.smtputf8,
                             &rp, &err) < 0) {
        bs_refuse(b, &err);
        return;
    }
    if (!rp.to.domain[0]) /* <Postmaster>: the local one */
        str_copy(rp.to.domain, sizeof rp.to.domain, sm_default_domain(b->conf));
    if (rp.has_orcpt)
        str_fmt(orcpt, sizeof orcpt, "%s;%s", rp.orcpt_type, rp.orcpt);
    if (b->drop.env.n_rcpts >= b->conf->max_recipients ||
        addr_format(&rp.to, addr, sizeof addr) < 0 ||
        sm_drop_rcpt(&b->drop, addr, rp.notify, rp.has_orcpt ? orcpt : NULL) < 0) {
        bs_reply_esc(b, 452, ESC_TOO_MANY_RECIPIENTS, "Error: too many recipients");
        return;
    }
    bs_reply_esc(b, 250, ESC_DESTINATION_VALID, "Ok");
}

/* Feeds one data line (dot-unstuffed) to the filter; pieces of an overlong line go on without a line end. */
static void bs_data_line(struct submit *s, struct buf *line, int at_start, int partial)
{
    const char *p = line->data;
    size_t n = line->len;
    if (at_start && n && p[0] == '.')
        p++, n--;
    submit_feed(s, p, n);
    if (!partial)
        submit_feed(s, "\n", 1);
}

/* Reads the message to the "." line. 0, or -1 at the end of input (no message). */
static int bs_read_data(struct submit *s)
{
    struct buf line;
    int partial = 0, at_start = 1, r = -1;
    buf_init(&line, BUF_UNLIMITED);
    while (bs_read_line(&line, 65536, &partial)) {
        if (at_start && !partial && line.len == 1 && line.data[0] == '.') {
            r = 0;
            break;
        }
        bs_data_line(s, &line, at_start, partial);
        at_start = !partial;
    }
    buf_free(&line);
    return r;
}

static void bs_data(void *session, const struct smtp_cmd *cmd)
{
    struct bs *b = session;
    struct submit s;
    struct submit_opts o;
    if (b->drop.env.n_rcpts == 0) {
        bs_reply_esc(b, 554, ESC_INVALID_COMMAND, "Error: no valid recipients");
        return;
    }
    bs_reply(b, "354 End data with <CR><LF>.<CR><LF>");
    sm_drop_submit_opts(&b->drop, &o, 0, 0);
    submit_init(&s, &o);
    if (bs_read_data(&s) < 0) {
        b->state = BS_QUIT; /* the input ended inside DATA: nothing was accepted */
    } else if (submit_finish(&s) < 0) {
        int too_big = s.err == SUBMIT_TOO_BIG;
        bs_reply_esc(b, too_big ? 552 : 554, too_big ? ESC_MESSAGE_TOO_BIG : ESC_OTHER_MEDIA, "%s",
                     s.why);
    } else if (sm_drop_commit(&b->drop) < 0) {
        int err = errno; /* the reply code and enhanced code: 452 4.3.1 when storage ran out */
        bs_reply(b, "%.9s Error: cannot store the message: %s", queue_error_reply(err),
                 strerror(err));
    } else {
        bs_reply_esc(b, 250, ESC_OTHER_STATUS, "Ok: queued as %s", b->drop.env.id);
    }
    submit_free(&s);
    bs_reset(b);
}

static void bs_rset(void *session, const struct smtp_cmd *cmd)
{
    bs_reset(session);
    bs_reply_esc(session, 250, ESC_OTHER_STATUS, "Ok");
}

static void bs_noop(void *session, const struct smtp_cmd *cmd)
{
    bs_reply_esc(session, 250, ESC_OTHER_STATUS, "Ok");
}

static void bs_vrfy(void *session, const struct smtp_cmd *cmd)
{
    bs_reply_esc(session, 252, ESC_OTHER_STATUS, "Send some mail, I'll try my best");
}

static void bs_quit(void *session, const struct smtp_cmd *cmd)
{
    struct bs *b = session;
    bs_reply_esc(b, 221, ESC_OTHER_STATUS, "Bye");
    b->state = BS_QUIT;
}

/* As the server: 421 (RFC 5321 3.8), nothing more is read. */
static void bs_forbidden(void *session, const struct smtp_cmd *cmd)
{
    struct bs *b = session;
    bs_reply_esc(b, 421, ESC_OTHER_SECURITY, "%s " SMTP_FORBIDDEN_TEXT, b->conf->hostname);
    b->state = BS_QUIT;
}

/* -bs's verbs: no STARTTLS, AUTH, EXPN, HELP or BDAT (502). */
static const struct smtp_verb_row bs_verb_rows[] = {
    SMTP_ROW_ANY(SMTP_HELO, bs_ehlo),
    SMTP_ROW_ANY(SMTP_EHLO, bs_ehlo),
    SMTP_ROW_MAIL(bs_mail),
    SMTP_ROW_RCPT(bs_rcpt),
    {SMTP_DATA, SMTP_IN(SMTP_PHASE_MAIL), bs_data, /* no recipient yet: 554 from bs_data */
     "Error: need MAIL command", "Error: need MAIL command"},
    SMTP_ROW_ANY(SMTP_RSET, bs_rset),
    SMTP_ROW_ANY(SMTP_NOOP, bs_noop),
    SMTP_ROW_ANY(SMTP_VRFY, bs_vrfy),
    SMTP_ROW_ANY(SMTP_QUIT, bs_quit),
    SMTP_ROW_ANY(SMTP_FORBIDDEN, bs_forbidden),
};

static const struct smtp_verbs bs_verbs = SMTP_VERBS(bs_verb_rows, bs_refuse);

int sm_smtp_session(const struct conf *c)
{
    struct bs b = {.conf = c, .state = BS_GREETED};
    struct buf line;
    int partial;
    buf_init(&line, BUF_UNLIMITED);
    bs_reply(&b, "220 %s ESMTP postino", c->hostname);
    while (b.state != BS_QUIT && !b.write_failed && bs_read_line(&line, BS_LINE_MAX, &partial)) {
        if (partial || line.len + 2 > smtp_line_limit(line.data, line.len)) {
            while (partial && bs_read_line(&line, BS_LINE_MAX, &partial))
                ; /* skip the rest of the overlong line */
            bs_refuse(&b, &smtp_reply_line_too_long);
            continue;
        }
        /* BS_QUIT ends the loop: only the command phases get here */
        smtp_verbs_line(&bs_verbs, &b, (enum smtp_phase)b.state, line.data ? line.data : "",
                        line.len);
    }
    bs_reset(&b);
    buf_free(&line);
    return b.write_failed ? EX_IOERR : 0;
}
