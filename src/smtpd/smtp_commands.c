/*
 * smtp_commands: the SMTP verbs of a server session (RFC 5321 4.1, 4.3.2
 * for the codes allowed in each state; RFC 1869 EHLO; RFC 3461 DSN; RFC
 * 1870 SIZE; RFC 6152 8BITMIME; RFC 3030 BDAT (smtp_chunk.c), BINARYMIME;
 * RFC 2034/3463 enhanced codes; RFC 3207
 * STARTTLS; RFC 6409 submission policy). Commands are dispatched through
 * the verb table smtps_verb_rows (proto/smtp_verbs.h), which decides the
 * 500, 502 and 503 replies; each handler is check (syntax, policy) -> act
 * (change the transaction) -> reply. Enhanced codes come from proto/esc.h;
 * the EHLO keywords from proto/smtp_verbs. AUTH lives in smtp_auth.c.
 * VRFY answers 252 (we never disclose users); EXPN is refused with 502.
 * An HTTP request or a header line as a command ends the session
 * (421 4.7.0), as Postfix's "forbidden commands".
 */
#include "smtpd/smtp_session.h"
#include "smtpd/smtp_server.h"
#include "lib/alloc.h"
#include "lib/log.h"
#include "lib/str.h"
#include "mail/alias.h"
#include "mail/route.h"
#include "proto/smtp_parse.h"
#include <ctype.h>
#include <string.h>

void smtps_tx_reset(struct smtps_session *s)
{
    smtps_tx_abort_writer(s);
    envelope_free(&s->tx.env);
    memset(&s->tx, 0, sizeof s->tx);
    envelope_init(&s->tx.env);
    s->bdat_failed = 0;
}

/* A refusal with its reply, counted as an error. */
static void smtps_bad(struct smtps_session *s, int code, enum esc_code esc, const char *text)
{
    struct smtp_err e = {code, esc, text};
    smtps_refuse(s, &e);
}

/* The verb table's refusals (500, 502, 503). */
static void smtps_table_refuse(void *session, const struct smtp_err *e)
{
    smtps_refuse(session, e);
}

/* HELO/EHLO argument: a domain or address literal; we only require something printable. */
static int smtps_helo_ok(const char *arg, size_t len)
{
    if (len == 0 || len > 255)
        return 0;
    for (size_t i = 0; i < len; i++)
        if (!isgraph((unsigned char)arg[i]))
            return i > 0 && arg[i] == ' '; /* tolerate trailing words: RFC says ignore */
    return 1;
}

/* The EHLO reply: the greeting line, then proto/smtp_verbs' keyword list. */
static void smtps_ehlo_reply(struct smtps_session *s)
{
    const struct conf *c = s->conf;
    char greeting[512];
    struct buf reply;
    unsigned options = (s->tls_ctx && !s->tls ? SMTP_EHLO_STARTTLS : 0) |
                       (smtps_auth_offered(s) ? SMTP_EHLO_AUTH : 0) | SMTP_EHLO_CHUNKING;
    str_fmt(greeting, sizeof greeting, "%s Hello %s [%s]", c->hostname, s->helo, s->client_ip);
    buf_init(&reply, 4096);
    smtp_ehlo_reply(&reply, greeting, c->max_message_size, options);
    smtps_reply(s, "%s", buf_cstr(&reply));
    buf_free(&reply);
}

/* HELO and EHLO (esmtp). */
static void smtps_helo(void *session, const struct smtp_cmd *cmd)
{
    struct smtps_session *s = session;
    int esmtp = cmd->verb == SMTP_EHLO;
    if (!smtps_helo_ok(cmd->arg, cmd->arg_len)) {
        smtps_bad(s, 501, ESC_INVALID_ARGUMENTS,
                  esmtp ? "Syntax: EHLO hostname" : "Syntax: HELO hostname");
        return;
    }
    size_t n = strcspn(cmd->arg, " ");
    str_ncopy(s->helo, sizeof s->helo, cmd->arg, n);
    smtps_tx_reset(s);
    s->esmtp = esmtp;
    s->state = SMTPS_IDLE;
    if (esmtp)
        smtps_ehlo_reply(s);
    else
        smtps_reply(s, "250 %s", s->conf->hostname);
}

/*
 * RFC 3207 4: STARTTLS, then the session starts over as if just connected.
 * Its row allows every phase: the syntax and TLS checks come before the
 * sequence check, so its 503s are decided here.
 */
static void smtps_starttls(void *session, const struct smtp_cmd *cmd)
{
    struct smtps_session *s = session;
    if (cmd->arg_len) {
        smtps_bad(s, 501, ESC_INVALID_ARGUMENTS, "Syntax: STARTTLS");
        return;
    }
    if (s->tls) {
        smtps_bad(s, 503, ESC_INVALID_COMMAND, "Error: TLS already active");
        return;
    }
    if (!s->tls_ctx) {
        smtps_bad(s, 454, ESC_OTHER_SECURITY, "TLS not available");
        return;
    }
    if (s->state == SMTPS_CONNECTED) {
        smtps_bad(s, 503, ESC_INVALID_COMMAND, "Error: send EHLO first");
        return;
    }
    if (s->state != SMTPS_IDLE) {
        smtps_bad(s, 503, ESC_INVALID_COMMAND, "Error: MAIL transaction in progress");
        return;
    }
    if (smtps_start_tls(s) < 0) {
        smtps_reply_esc(s, 454, ESC_OTHER_SECURITY, "TLS not available due to temporary reason");
        return;
    }
    /* RFC 3207 4.2: forget everything the client said in the clear. */
    smtps_tx_reset(s);
    s->state = SMTPS_CONNECTED;
    s->esmtp = 0;
    s->helo[0] = '\0';
    s->auth_user[0] = '\0';
}

/*
 * Who may use which envelope sender after AUTH (RFC 6409 4.3, 6.1): the
 * login's own address (compared without regard to case), or an alias
 * whose targets include the login (a user may send as the lists and role
 * addresses that reach them), or the null sender <> (notifications a user
 * agent sends, RFC 3798, RFC 3834). Anything else: 553 5.7.1.
 */
static int smtps_sender_owned(const struct smtps_session *s, const struct addr *from,
                              const char *sender)
{
    if (from->is_null || str_ieq(sender, s->auth_user))
        return 1;
    const struct aliases *a = s->conf->aliases;
    size_t n = 0;
    const char *const *targets = a ? aliases_lookup(a, from->local, from->domain, &n) : NULL;
    for (size_t i = 0; targets && i < n; i++)
        if (str_ieq(targets[i], s->auth_user))
            return 1;
    return 0;
}

/* RFC 6409 4.3: the submission port (and smtps, RFC 8314) takes mail only after AUTH. */
static void smtps_mail(void *session, const struct smtp_cmd *cmd)
{
    struct smtps_session *s = session;
    struct mail_params mp;
    struct smtp_err err;
    if (smtps_is_submission(s) && !s->auth_user[0]) {
        smtps_bad(s, 530, ESC_OTHER_SECURITY, "Authentication required");
        return;
    }
    if (smtp_parse_mail(cmd->arg, cmd->arg_len, s->esmtp, &mp, &err) < 0) {
        smtps_refuse(s, &err);
        return;
    }
    const struct conf *c = s->conf;
    if (mp.has_size && mp.size > c->max_message_size) {
        smtps_bad(s, 552, ESC_MESSAGE_TOO_BIG, "Message size exceeds fixed maximum message size");
        return;
    }
    char sender[ADDR_LOCAL_MAX + ADDR_DOMAIN_MAX + 3];
    addr_format(&mp.from, sender, sizeof sender);
    if (s->auth_user[0] && !smtps_sender_owned(s, &mp.from, sender)) {
        log_event(LOG_INFO, &(struct log_fields){.event = "reject", .client = s->client_ip},
                  "smtp: %s: reject MAIL <%s>: not owned by %s", s->client_ip, sender,
                  s->auth_user);
        smtps_bad(s, 553, ESC_DELIVERY_NOT_AUTHORIZED,
                  "Sender address rejected: not owned by user");
        return;
    }
    struct envelope *e = &s->tx.env;
    e->sender = xstrdup(sender);
    e->ret = mp.ret;
    e->body = mp.body;
    e->envid = mp.has_envid ? xstrdup(mp.envid) : NULL;
    s->bdat_failed = 0;
    e->smtputf8 = mp.smtputf8;
    s->state = SMTPS_MAIL;
    smtps_reply_esc(s, 250, ESC_OTHER_ADDRESS, "Ok");
}

/* 0 to accept a syntactically valid recipient, or -1 with the policy reply in *deny. */
static int smtps_rcpt_policy(struct smtps_session *s, const char *addr, struct smtp_err *deny)
{
    char mailbox[ADDR_LOCAL_MAX + 1];
    switch (route_classify(s->conf, addr, mailbox, sizeof mailbox)) {
    case ROUTE_LOCAL:
    case ROUTE_ALIAS:
    case ROUTE_ALIAS_LOOP: /* not from route_classify */
    case ROUTE_RELAY_DOMAIN:
        return 0;
    case ROUTE_REMOTE: /* relay_networks, or any authenticated user (RFC 6409 4.3) */
        if (s->relay_ok || s->auth_user[0])
            return 0;
        *deny = (struct smtp_err){554, ESC_DELIVERY_NOT_AUTHORIZED, "Relay access denied"};
        return -1;
    case ROUTE_UNKNOWN_USER:
        *deny = (struct smtp_err){550, ESC_BAD_DESTINATION_MAILBOX,
                                  "User unknown in local recipient table"};
        return -1;
    case ROUTE_BAD_MAILBOX:
        break;
    }
    *deny = (struct smtp_err){553, ESC_BAD_DESTINATION_SYNTAX, "Mailbox name not allowed"};
    return -1;
}

static int smtps_rcpt_duplicate(const struct envelope *e, const char *addr)
{
    for (size_t i = 0; i < e->n_rcpts; i++)
        if (str_ieq(e->rcpts[i].addr, addr))
            return 1;
    return 0;
}

static void smtps_rcpt(void *session, const struct smtp_cmd *cmd)
{
    struct smtps_session *s = session;
    struct rcpt_params rp;
    struct smtp_err err;
    const struct conf *c = s->conf;
    if (s->tx.bdat) { /* the envelope is in the queue file already */
        smtps_bad(s, 503, ESC_INVALID_COMMAND, "Error: RCPT not allowed after BDAT");
        return;
    }
    if (smtp_parse_rcpt_utf8(cmd->arg, cmd->arg_len, s->esmtp, s->tx.env.smtputf8, &rp,
                             &err) < 0) {
        smtps_refuse(s, &err);
        return;
    }
    if (s->tx.accepted >= c->max_recipients) {
        /* A client may pipeline past the limit (RFC 5321 4.5.3.1.8 asks it to
         * retry the rest later): each gets its 452, and only a client that
         * keeps going far past the limit is counted as erring (as Postfix's
         * recipient overshoot limit does). */
        smtps_reply_esc(s, 452, ESC_TOO_MANY_RECIPIENTS, "Error: too many recipients");
        if (++s->tx.overshoot > SMTPS_RCPT_OVERSHOOT)
            s->errors++;
        return;
    }
    char addr[ADDR_LOCAL_MAX + ADDR_DOMAIN_MAX + 3];
    if (rp.to.domain[0] == '\0') /* <Postmaster> (RFC 5321 4.1.1.3) */
        str_fmt(addr, sizeof addr, "postmaster@%s", c->local_domains[0]);
    else
        addr_format(&rp.to, addr, sizeof addr);
    if (smtps_rcpt_policy(s, addr, &err) < 0) {
        char reply[600];
        str_fmt(reply, sizeof reply, "%s%s", esc_reply_prefix(err.code, err.esc).s, err.text);
        log_event(LOG_INFO, &(struct log_fields){.event = "reject", .client = s->client_ip,
                  .reply = reply}, "smtp: %s: reject RCPT <%s>: %s", s->client_ip,
                  addr, reply);
        smtps_refuse(s, &err);
        return;
    }
    if (!smtps_rcpt_duplicate(&s->tx.env, addr)) {
        char orcpt[DSN_ORCPT_MAX + 40];
        if (rp.has_orcpt)
            str_fmt(orcpt, sizeof orcpt, "%s;%s", rp.orcpt_type, rp.orcpt);
        envelope_add_rcpt(&s->tx.env, addr, rp.notify, rp.has_orcpt ? orcpt : NULL, -1,
                          RCPT_PENDING);
    }
    s->tx.accepted++;
    s->state = SMTPS_RCPT;
    smtps_reply_esc(s, 250, ESC_DESTINATION_VALID, "Ok");
}

/* RFC 3030 2, 3: no DATA in a BDAT or BINARYMIME transaction; the transaction stays. */
static void smtps_data(void *session, const struct smtp_cmd *cmd)
{
    struct smtps_session *s = session;
    if (cmd->arg_len) {
        smtps_bad(s, 501, ESC_INVALID_ARGUMENTS, "Syntax: DATA");
        return;
    }
    if (s->tx.bdat) {
        smtps_bad(s, 503, ESC_INVALID_COMMAND, "Error: DATA not allowed after BDAT");
        return;
    }
    if (s->tx.env.body == BODY_BINARYMIME) {
        smtps_bad(s, 503, ESC_INVALID_COMMAND, "Error: BODY=BINARYMIME needs BDAT, not DATA");
        return;
    }
    smtps_data_start(s);
}

static void smtps_rset(void *session, const struct smtp_cmd *cmd)
{
    struct smtps_session *s = session;
    if (cmd->arg_len) {
        smtps_bad(s, 501, ESC_INVALID_ARGUMENTS, "Syntax: RSET");
        return;
    }
    smtps_tx_reset(s);
    if (s->state != SMTPS_CONNECTED)
        s->state = SMTPS_IDLE;
    smtps_reply_esc(s, 250, ESC_OTHER_STATUS, "Ok");
}

static void smtps_noop(void *session, const struct smtp_cmd *cmd)
{
    smtps_reply_esc(session, 250, ESC_OTHER_STATUS, "Ok");
}

static void smtps_quit(void *session, const struct smtp_cmd *cmd)
{
    smtps_reply_esc(session, 221, ESC_OTHER_STATUS, "Bye");
    smtps_close(session);
}

/* We never disclose whether a user exists. */
static void smtps_vrfy(void *session, const struct smtp_cmd *cmd)
{
    if (!cmd->arg_len)
        smtps_bad(session, 501, ESC_INVALID_ARGUMENTS, "Syntax: VRFY address");
    else
        smtps_reply_esc(session, 252, ESC_OTHER_PROTOCOL,
                        "Cannot VRFY user, but will accept message and attempt delivery");
}

static void smtps_expn(void *session, const struct smtp_cmd *cmd)
{
    smtps_bad(session, 502, ESC_INVALID_COMMAND, "Error: EXPN not available");
}

static void smtps_help(void *session, const struct smtp_cmd *cmd)
{
    smtps_reply_esc(session, 214, ESC_OTHER_STATUS, "Commands: EHLO HELO MAIL RCPT DATA BDAT "
                    "RSET VRFY NOOP HELP QUIT; see RFC 5321");
}

/*
 * An HTTP request or a header line where a command belongs: a web client,
 * a proxy abused to reach us, or a client out of step with the dialogue
 * (sending content as commands). Nothing it says next can be trusted, so
 * the session ends at once without reading further pipelined input, as
 * Postfix's "forbidden commands" do. The reply is 421, not Postfix's 221:
 * RFC 5321 3.8 has a server close on its own with 421 (221 answers QUIT).
 */
static void smtps_forbidden(void *session, const struct smtp_cmd *cmd)
{
    struct smtps_session *s = session;
    int n = cmd->name_len > 64 ? 64 : (int)cmd->name_len; /* letters, digits, '-', ':' only */
    log_warn("smtp: %s: forbidden command %.*s, closing", s->client_ip, n, cmd->name);
    smtps_reply_esc(s, 421, ESC_OTHER_SECURITY, "%s " SMTP_FORBIDDEN_TEXT, s->conf->hostname);
    smtps_close(s);
}

/* AUTH's row allows every phase: smtp_auth.c checks the listener and TLS before the sequence. */
static void smtps_auth_verb(void *session, const struct smtp_cmd *cmd)
{
    smtps_auth_command(session, cmd);
}

/* BDAT's row allows every phase: a refused chunk's octets must still be read (smtp_chunk.c). */
static void smtps_bdat(void *session, const struct smtp_cmd *cmd)
{
    smtps_bdat_command(session, cmd);
}

/* The server's verbs. */
static const struct smtp_verb_row smtps_verb_rows[] = {
    SMTP_ROW_ANY(SMTP_HELO, smtps_helo),
    SMTP_ROW_ANY(SMTP_EHLO, smtps_helo),
    SMTP_ROW_MAIL(smtps_mail),
    SMTP_ROW_RCPT(smtps_rcpt),
    {SMTP_DATA, SMTP_IN(SMTP_PHASE_RCPT), smtps_data, /* RFC 5321 3.3 allows 503 or 554 */
     "Error: need RCPT command", "Error: need RCPT command"},
    SMTP_ROW_ANY(SMTP_RSET, smtps_rset),
    SMTP_ROW_ANY(SMTP_NOOP, smtps_noop),
    SMTP_ROW_ANY(SMTP_QUIT, smtps_quit),
    SMTP_ROW_ANY(SMTP_VRFY, smtps_vrfy),
    SMTP_ROW_ANY(SMTP_EXPN, smtps_expn),
    SMTP_ROW_ANY(SMTP_HELP, smtps_help),
    SMTP_ROW_ANY(SMTP_STARTTLS, smtps_starttls),
    SMTP_ROW_ANY(SMTP_AUTH, smtps_auth_verb),
    SMTP_ROW_ANY(SMTP_FORBIDDEN, smtps_forbidden),
    SMTP_ROW_ANY(SMTP_BDAT, smtps_bdat),
};

static const struct smtp_verbs smtps_verbs = SMTP_VERBS(smtps_verb_rows, smtps_table_refuse);

void smtps_command(struct smtps_session *s, const char *line, size_t len)
{
    /* smtp_server.c hands over lines only in the command phases (CONNECTED .. RCPT) */
    smtp_verbs_line(&smtps_verbs, s, (enum smtp_phase)s->state, line, len);
    if (s->errors >= SMTPS_MAX_ERRORS && s->state != SMTPS_CLOSING) {
        smtps_reply_esc(s, 421, ESC_OTHER_SECURITY, "%s Error: too many errors",
                        s->conf->hostname);
        smtps_close(s);
    }
}
