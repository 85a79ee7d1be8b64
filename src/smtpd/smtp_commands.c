/*
 * smtp_commands: the SMTP verbs of a server session (RFC 5321 4.1, 4.3.2
 * for the codes allowed in each state; RFC 1869 EHLO; RFC 3461 DSN; RFC
 * 1870 SIZE; RFC 6152 8BITMIME; RFC 2034/3463 enhanced codes; RFC 3207
 * STARTTLS; RFC 6409 submission policy). Each verb is check (state and
 * syntax) -> act (change the transaction) -> reply. AUTH lives in
 * smtp_auth.c. VRFY answers 252 (we never disclose users); EXPN is refused
 * with 502. An HTTP request or a header line as a command ends the session
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
}

static void smtps_error(struct smtps_session *s, const struct smtp_err *e)
{
    smtps_reply(s, "%d %s %s", e->code, e->esc, e->text);
    s->errors++;
}

static void smtps_bad(struct smtps_session *s, const char *reply)
{
    smtps_reply(s, "%s", reply);
    s->errors++;
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

static void smtps_helo(struct smtps_session *s, const struct smtp_cmd *cmd, int esmtp)
{
    if (!smtps_helo_ok(cmd->arg, cmd->arg_len)) {
        smtps_bad(s, esmtp ? "501 5.5.4 Syntax: EHLO hostname" : "501 5.5.4 Syntax: HELO hostname");
        return;
    }
    size_t n = strcspn(cmd->arg, " ");
    str_ncopy(s->helo, sizeof s->helo, cmd->arg, n);
    smtps_tx_reset(s);
    s->esmtp = esmtp;
    s->state = SMTPS_IDLE;
    const struct conf *c = s->srv->conf;
    if (!esmtp) {
        smtps_reply(s, "250 %s", c->hostname);
        return;
    }
    smtps_reply(s, "250-%s Hello %s [%s]", c->hostname, s->helo, s->client_ip);
    smtps_reply(s, "250-PIPELINING");
    smtps_reply(s, "250-SIZE %llu", (unsigned long long)c->max_message_size);
    smtps_reply(s, "250-8BITMIME");
    smtps_reply(s, "250-ENHANCEDSTATUSCODES");
    if (s->srv->tls_ctx && !s->tls)
        smtps_reply(s, "250-STARTTLS");
    if (smtps_auth_offered(s))
        smtps_reply(s, "250-AUTH PLAIN LOGIN");
    smtps_reply(s, "250 DSN");
}

/* RFC 3207 4: STARTTLS, then the session starts over as if just connected. */
static void smtps_starttls(struct smtps_session *s, const struct smtp_cmd *cmd)
{
    if (cmd->arg_len) {
        smtps_bad(s, "501 5.5.4 Syntax: STARTTLS");
        return;
    }
    if (s->tls) {
        smtps_bad(s, "503 5.5.1 Error: TLS already active");
        return;
    }
    if (!s->srv->tls_ctx) {
        smtps_bad(s, "454 4.7.0 TLS not available");
        return;
    }
    if (s->state == SMTPS_CONNECTED) {
        smtps_bad(s, "503 5.5.1 Error: send EHLO first");
        return;
    }
    if (s->state != SMTPS_IDLE) {
        smtps_bad(s, "503 5.5.1 Error: MAIL transaction in progress");
        return;
    }
    if (smtps_start_tls(s) < 0) {
        smtps_reply(s, "454 4.7.0 TLS not available due to temporary reason");
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
    const struct aliases *a = s->srv->conf->aliases;
    size_t n = 0;
    const char *const *targets = a ? aliases_lookup(a, from->local, from->domain, &n) : NULL;
    for (size_t i = 0; targets && i < n; i++)
        if (str_ieq(targets[i], s->auth_user))
            return 1;
    return 0;
}

/* RFC 6409 4.3: the submission port (and smtps, RFC 8314) takes mail only after AUTH. */
static void smtps_mail(struct smtps_session *s, const struct smtp_cmd *cmd)
{
    struct mail_params mp;
    struct smtp_err err;
    if (s->state == SMTPS_CONNECTED) {
        smtps_bad(s, "503 5.5.1 Error: send HELO/EHLO first");
        return;
    }
    if (s->state != SMTPS_IDLE) {
        smtps_bad(s, "503 5.5.1 Error: nested MAIL command");
        return;
    }
    if (smtps_is_submission(s) && !s->auth_user[0]) {
        smtps_bad(s, "530 5.7.0 Authentication required");
        return;
    }
    if (smtp_parse_mail(cmd->arg, cmd->arg_len, s->esmtp, &mp, &err) < 0) {
        smtps_error(s, &err);
        return;
    }
    const struct conf *c = s->srv->conf;
    if (mp.has_size && mp.size > c->max_message_size) {
        smtps_bad(s, "552 5.3.4 Message size exceeds fixed maximum message size");
        return;
    }
    char sender[ADDR_LOCAL_MAX + ADDR_DOMAIN_MAX + 3];
    addr_format(&mp.from, sender, sizeof sender);
    if (s->auth_user[0] && !smtps_sender_owned(s, &mp.from, sender)) {
        log_info("smtp: %s: reject MAIL <%s>: not owned by %s", s->client_ip, sender, s->auth_user);
        smtps_bad(s, "553 5.7.1 Sender address rejected: not owned by user");
        return;
    }
    struct envelope *e = &s->tx.env;
    e->sender = xstrdup(sender);
    e->ret = mp.ret;
    e->body = mp.body;
    e->envid = mp.has_envid ? xstrdup(mp.envid) : NULL;
    s->state = SMTPS_MAIL;
    smtps_reply(s, "250 2.1.0 Ok");
}

/* The policy reply for a syntactically valid recipient, or NULL to accept. */
static const char *smtps_rcpt_policy(struct smtps_session *s, const char *addr)
{
    char mailbox[ADDR_LOCAL_MAX + 1];
    switch (route_classify(s->srv->conf, addr, mailbox, sizeof mailbox)) {
    case ROUTE_LOCAL:
    case ROUTE_ALIAS:
    case ROUTE_ALIAS_LOOP: /* not from route_classify */
    case ROUTE_RELAY_DOMAIN:
        return NULL;
    case ROUTE_REMOTE: /* relay_networks, or any authenticated user (RFC 6409 4.3) */
        return s->relay_ok || s->auth_user[0] ? NULL : "554 5.7.1 Relay access denied";
    case ROUTE_UNKNOWN_USER:
        return "550 5.1.1 User unknown in local recipient table";
    case ROUTE_BAD_MAILBOX:
        break;
    }
    return "553 5.1.3 Mailbox name not allowed";
}

static int smtps_rcpt_duplicate(const struct envelope *e, const char *addr)
{
    for (size_t i = 0; i < e->n_rcpts; i++)
        if (str_ieq(e->rcpts[i].addr, addr))
            return 1;
    return 0;
}

static void smtps_rcpt(struct smtps_session *s, const struct smtp_cmd *cmd)
{
    struct rcpt_params rp;
    struct smtp_err err;
    const struct conf *c = s->srv->conf;
    if (s->state != SMTPS_MAIL && s->state != SMTPS_RCPT) {
        smtps_bad(s, "503 5.5.1 Error: need MAIL command");
        return;
    }
    if (smtp_parse_rcpt(cmd->arg, cmd->arg_len, s->esmtp, &rp, &err) < 0) {
        smtps_error(s, &err);
        return;
    }
    if (s->tx.accepted >= c->max_recipients) {
        /* A client may pipeline past the limit (RFC 5321 4.5.3.1.8 asks it to
         * retry the rest later): each gets its 452, and only a client that
         * keeps going far past the limit is counted as erring (as Postfix's
         * recipient overshoot limit does). */
        smtps_reply(s, "452 4.5.3 Error: too many recipients");
        if (++s->tx.overshoot > SMTPS_RCPT_OVERSHOOT)
            s->errors++;
        return;
    }
    char addr[ADDR_LOCAL_MAX + ADDR_DOMAIN_MAX + 3];
    if (rp.to.domain[0] == '\0') /* <Postmaster> (RFC 5321 4.1.1.3) */
        str_fmt(addr, sizeof addr, "postmaster@%s", c->local_domains[0]);
    else
        addr_format(&rp.to, addr, sizeof addr);
    const char *deny = smtps_rcpt_policy(s, addr);
    if (deny) {
        log_info("smtp: %s: reject RCPT <%s>: %s", s->client_ip, addr, deny);
        smtps_bad(s, deny);
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
    smtps_reply(s, "250 2.1.5 Ok");
}

static void smtps_data(struct smtps_session *s, const struct smtp_cmd *cmd)
{
    if (s->state != SMTPS_RCPT) { /* RFC 5321 3.3 allows 503 or 554 when no RCPT was accepted */
        smtps_bad(s, "503 5.5.1 Error: need RCPT command");
        return;
    }
    if (cmd->arg_len) {
        smtps_bad(s, "501 5.5.4 Syntax: DATA");
        return;
    }
    smtps_data_start(s);
}

/* Verbs valid in any state that take no transaction. */
static void smtps_simple(struct smtps_session *s, const struct smtp_cmd *cmd)
{
    switch (cmd->verb) {
    case SMTP_RSET:
        if (cmd->arg_len) {
            smtps_bad(s, "501 5.5.4 Syntax: RSET");
            return;
        }
        smtps_tx_reset(s);
        if (s->state != SMTPS_CONNECTED)
            s->state = SMTPS_IDLE;
        smtps_reply(s, "250 2.0.0 Ok");
        return;
    case SMTP_NOOP:
        smtps_reply(s, "250 2.0.0 Ok");
        return;
    case SMTP_QUIT:
        smtps_reply(s, "221 2.0.0 Bye");
        smtps_close(s);
        return;
    case SMTP_VRFY:
        if (!cmd->arg_len)
            smtps_bad(s, "501 5.5.4 Syntax: VRFY address");
        else
            smtps_reply(s, "252 2.5.0 Cannot VRFY user, but will accept message and attempt delivery");
        return;
    case SMTP_EXPN:
        smtps_bad(s, "502 5.5.1 Error: EXPN not available");
        return;
    case SMTP_HELP:
        smtps_reply(s, "214 2.0.0 Commands: EHLO HELO MAIL RCPT DATA RSET VRFY NOOP HELP QUIT; see RFC 5321");
        return;
    default:
        smtps_bad(s, "502 5.5.1 Error: command not implemented");
        return;
    }
}

/*
 * An HTTP request or a header line where a command belongs: a web client,
 * a proxy abused to reach us, or a client out of step with the dialogue
 * (sending content as commands). Nothing it says next can be trusted, so
 * the session ends at once without reading further pipelined input, as
 * Postfix's "forbidden commands" do. The reply is 421, not Postfix's 221:
 * RFC 5321 3.8 has a server close on its own with 421 (221 answers QUIT).
 */
static void smtps_forbidden(struct smtps_session *s, const struct smtp_cmd *cmd)
{
    int n = cmd->name_len > 64 ? 64 : (int)cmd->name_len; /* letters, digits, '-', ':' only */
    log_warn("smtp: %s: forbidden command %.*s, closing", s->client_ip, n, cmd->name);
    smtps_reply(s, "421 4.7.0 %s Error: not an SMTP command, closing connection",
                s->srv->conf->hostname);
    smtps_close(s);
}

void smtps_command(struct smtps_session *s, const char *line, size_t len)
{
    struct smtp_cmd cmd;
    smtp_parse_command(line, len, &cmd);
    switch (cmd.verb) {
    case SMTP_HELO: smtps_helo(s, &cmd, 0); break;
    case SMTP_EHLO: smtps_helo(s, &cmd, 1); break;
    case SMTP_MAIL: smtps_mail(s, &cmd); break;
    case SMTP_RCPT: smtps_rcpt(s, &cmd); break;
    case SMTP_DATA: smtps_data(s, &cmd); break;
    case SMTP_STARTTLS: smtps_starttls(s, &cmd); break;
    case SMTP_AUTH: smtps_auth_command(s, &cmd); break;
    case SMTP_UNKNOWN: smtps_bad(s, "500 5.5.2 Error: command not recognized"); break;
    case SMTP_FORBIDDEN: smtps_forbidden(s, &cmd); break;
    default: smtps_simple(s, &cmd); break;
    }
    if (s->errors >= SMTPS_MAX_ERRORS && s->state != SMTPS_CLOSING) {
        smtps_reply(s, "421 4.7.0 %s Error: too many errors", s->srv->conf->hostname);
        smtps_close(s);
    }
}
