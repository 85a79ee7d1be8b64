/*
 * smtp_auth: the AUTH verb of a server session (RFC 4954) with the PLAIN
 * (RFC 4616) and LOGIN mechanisms; decoding is proto/sasl's.
 *
 * Offered only on submission and smtps listeners (RFC 6409, RFC 8314), and
 * only over TLS or to a loopback client: a password never crosses a
 * network in the clear (RFC 4954 4, 14). The check (users_check_password,
 * crypt(3): tens of milliseconds on purpose) runs on a disk worker; the
 * session reads no input meanwhile (state SMTPS_AUTH_WAIT), like a commit.
 * A failure is answered 535 5.7.8 after a delay that doubles with each
 * failure of the session (1 s, 2 s, 4 s, 8 s, 8 s ...; state
 * SMTPS_AUTH_DELAY); the fifth failure ends the session with 421 4.7.0.
 * Logs every success and failure with the login, never the password; the
 * password is wiped from memory as soon as it was checked.
 */
#include "smtpd/smtp_session.h"
#include "lib/log.h"
#include "lib/str.h"
#include "mail/auth.h"
#include <event2/event.h>
#include <string.h>
#include <strings.h>

#define SMTPS_AUTH_MAX_FAILURES 5
#define SMTPS_AUTH_MAX_DELAY_S 8

int smtps_auth_offered(const struct smtps_session *s)
{
    return (s->kind == LISTEN_SUBMISSION || s->kind == LISTEN_SMTPS) && (s->tls || s->loopback);
}

/* The login as it may appear in a log line: printable ASCII, the rest as '?'. */
static void smtps_auth_log_name(const char *in, char *out, size_t size)
{
    size_t j = 0;
    for (; *in && j + 1 < size; in++)
        out[j++] = (*in > ' ' && *in < 0x7f) ? *in : '?';
    out[j] = '\0';
}

static void smtps_auth_wipe(struct smtps_session *s)
{
    explicit_bzero(s->auth.user, sizeof s->auth.user);
    explicit_bzero(s->auth.pass, sizeof s->auth.pass);
}

void smtps_auth_free(struct smtps_session *s)
{
    if (s->auth.delay) {
        event_free(s->auth.delay);
        s->auth.delay = NULL;
    }
    smtps_auth_wipe(s);
}

/* Ends the exchange without a verdict; the session takes commands again. */
static void smtps_auth_abort(struct smtps_session *s, int code, enum esc_code esc, const char *text)
{
    struct smtp_err e = {code, esc, text};
    smtps_auth_wipe(s);
    s->state = SMTPS_IDLE;
    smtps_refuse(s, &e);
}

/* The reply for a response that could not be decoded (and the end of the exchange). */
static void smtps_auth_bad(struct smtps_session *s, enum sasl_result r)
{
    switch (r) {
    case SASL_CANCEL:
        smtps_auth_abort(s, 501, ESC_OTHER_STATUS, "Authentication cancelled");
        return;
    case SASL_BAD_BASE64:
        smtps_auth_abort(s, 501, ESC_SYNTAX_ERROR, "Cannot decode response");
        return;
    default:
        smtps_auth_abort(s, 501, ESC_SYNTAX_ERROR, "Malformed authentication message");
        return;
    }
}

/* Worker thread: the slow part. Touches only the session's auth fields, which the loop leaves alone. */
static void smtps_auth_check(struct diskq_job *j)
{
    struct smtps_session *s = j->ctx;
    const struct users *u = s->conf->users;
    s->auth.ok = u && users_check_password(u, s->auth.user, s->auth.pass);
}

static void smtps_auth_done(struct diskq_job *j);

/* Hands user/pass (already in s->auth) to a worker; input waits. */
static void smtps_auth_submit(struct smtps_session *s)
{
    s->state = SMTPS_AUTH_WAIT;
    s->auth.ok = 0;
    memset(&s->commit_job, 0, sizeof s->commit_job);
    s->commit_job.write = smtps_auth_check;
    s->commit_job.done = smtps_auth_done;
    s->commit_job.ctx = s;
    smtps_pause(s);
    diskq_submit(s->srv->dq, &s->commit_job, DISKQ_URGENT);
}

/* Timer: the failure delay is over; say so, and end the session after too many. */
static void smtps_auth_on_delay(evutil_socket_t fd, short what, void *arg)
{
    struct smtps_session *s = arg;
    (void)fd;
    (void)what;
    if (s->state != SMTPS_AUTH_DELAY)
        return;
    smtps_reply_esc(s, 535, ESC_AUTH_CREDENTIALS_INVALID, "Authentication credentials invalid");
    if (s->auth.failures >= SMTPS_AUTH_MAX_FAILURES) {
        log_warn("smtp: %s: too many authentication failures", s->client_ip);
        smtps_reply_esc(s, 421, ESC_OTHER_SECURITY, "%s Error: too many authentication failures",
                        s->conf->hostname);
        smtps_close(s);
        return;
    }
    s->state = SMTPS_IDLE;
    smtps_resume(s);
}

/* 1 s after the first failure, doubling, at most SMTPS_AUTH_MAX_DELAY_S. */
static void smtps_auth_fail(struct smtps_session *s)
{
    unsigned n = ++s->auth.failures;
    long secs = n >= 4 ? SMTPS_AUTH_MAX_DELAY_S : 1L << (n - 1);
    if (!s->auth.delay)
        s->auth.delay = evtimer_new(s->srv->base, smtps_auth_on_delay, s);
    struct timeval tv = {secs, 0};
    s->state = SMTPS_AUTH_DELAY;
    smtps_pause(s);
    evtimer_add(s->auth.delay, &tv);
}

/* Stores the login as the users file spells it. */
static void smtps_auth_success(struct smtps_session *s)
{
    const struct users *u = s->conf->users;
    const char *at = strrchr(s->auth.user, '@');
    const char *canon = NULL;
    if (at) {
        char local[SASL_USER_MAX + 1];
        str_ncopy(local, sizeof local, s->auth.user, (size_t)(at - s->auth.user));
        canon = users_lookup(u, local, at + 1);
    }
    str_copy(s->auth_user, sizeof s->auth_user, canon ? canon : s->auth.user);
}

static void smtps_auth_done(struct diskq_job *j)
{
    struct smtps_session *s = j->ctx;
    char name[SASL_USER_MAX + 1];
    diskq_job_release(j);
    s->state = SMTPS_IDLE;
    smtps_auth_log_name(s->auth.user, name, sizeof name);
    int ok = s->auth.ok && !j->failed;
    if (ok)
        smtps_auth_success(s);
    smtps_auth_wipe(s);
    log_info("smtp: %s: AUTH %s user=%s %s", s->client_ip, s->auth.mech, name,
             ok ? "succeeded" : j->failed ? "not checked" : "failed");
    if (s->dead) {
        smtps_close(s);
        return;
    }
    if (s->srv->shutting_down) {
        smtps_reply_esc(s, 421, ESC_NOT_ACCEPTING, "%s Service shutting down",
                        s->conf->hostname);
        smtps_close(s);
        return;
    }
    if (j->failed) {
        smtps_reply_esc(s, 454, ESC_OTHER_SECURITY, "Temporary authentication failure");
        smtps_resume(s);
    } else if (ok) {
        smtps_reply_esc(s, 235, ESC_OTHER_SECURITY, "Authentication successful");
        smtps_resume(s);
    } else {
        smtps_auth_fail(s);
    }
}

/* PLAIN's one message (initial response, or the answer to "334 "). */
static void smtps_auth_plain(struct smtps_session *s, const char *line, size_t len)
{
    struct sasl_plain m;
    enum sasl_result r = sasl_plain_decode(line, len, &m);
    if (r != SASL_OK) {
        smtps_auth_bad(s, r);
        return;
    }
    str_copy(s->auth.user, sizeof s->auth.user, m.authcid);
    str_copy(s->auth.pass, sizeof s->auth.pass, m.passwd);
    int proxy = sasl_plain_proxy(&m);
    explicit_bzero(&m, sizeof m);
    if (proxy) {
        char name[SASL_USER_MAX + 1];
        smtps_auth_log_name(s->auth.user, name, sizeof name);
        log_info("smtp: %s: AUTH PLAIN user=%s failed: authorization identity refused",
                 s->client_ip, name);
        smtps_auth_wipe(s);
        smtps_auth_fail(s);
        return;
    }
    smtps_auth_submit(s);
}

/* LOGIN: the user name, then the password, each after its 334 challenge. */
static void smtps_auth_login(struct smtps_session *s, const char *line, size_t len)
{
    enum sasl_result r;
    if (s->auth.step == SMTPS_AUTH_LOGIN_USER) {
        r = sasl_login_decode(line, len, s->auth.user, sizeof s->auth.user);
        if (r != SASL_OK) {
            smtps_auth_bad(s, r);
            return;
        }
        s->auth.step = SMTPS_AUTH_LOGIN_PASS;
        s->state = SMTPS_AUTH;
        smtps_reply(s, "334 " SASL_LOGIN_PASS_CHALLENGE);
        return;
    }
    r = sasl_login_decode(line, len, s->auth.pass, sizeof s->auth.pass);
    if (r != SASL_OK) {
        smtps_auth_bad(s, r);
        return;
    }
    smtps_auth_submit(s);
}

void smtps_auth_response(struct smtps_session *s, const char *line, size_t len)
{
    if (len == SIZE_MAX) {
        smtps_auth_abort(s, 500, ESC_AUTH_LINE_TOO_LONG,
                         "Authentication exchange line is too long");
        return;
    }
    if (s->auth.step == SMTPS_AUTH_PLAIN)
        smtps_auth_plain(s, line, len);
    else
        smtps_auth_login(s, line, len);
}

static const struct smtp_err smtps_auth_not_enabled = {503, ESC_INVALID_COMMAND,
                                                       "Error: authentication not enabled"};
static const struct smtp_err smtps_auth_needs_tls = {
    538, ESC_ENCRYPTION_REQUIRED, "Encryption required for requested authentication mechanism"};
static const struct smtp_err smtps_auth_needs_ehlo = {503, ESC_INVALID_COMMAND,
                                                      "Error: send EHLO first"};
static const struct smtp_err smtps_auth_again = {503, ESC_INVALID_COMMAND,
                                                 "Error: already authenticated"};
static const struct smtp_err smtps_auth_in_tx = {503, ESC_INVALID_COMMAND,
                                                 "Error: MAIL transaction in progress"};

/*
 * The reply refusing AUTH in this session's state, or NULL if it may start.
 * The listener and TLS come first (RFC 4954 4), then the command sequence.
 */
static const struct smtp_err *smtps_auth_refusal(const struct smtps_session *s)
{
    if (s->kind != LISTEN_SUBMISSION && s->kind != LISTEN_SMTPS)
        return &smtps_auth_not_enabled;
    if (!smtps_auth_offered(s))
        return &smtps_auth_needs_tls;
    if (s->state == SMTPS_CONNECTED || !s->esmtp)
        return &smtps_auth_needs_ehlo;
    if (s->auth_user[0])
        return &smtps_auth_again;
    if (s->state != SMTPS_IDLE)
        return &smtps_auth_in_tx;
    return NULL;
}

/* "AUTH mechanism [initial-response]" (RFC 4954 4). */
void smtps_auth_command(struct smtps_session *s, const struct smtp_cmd *cmd)
{
    const struct smtp_err *deny = smtps_auth_refusal(s);
    if (deny) {
        smtps_refuse(s, deny);
        return;
    }
    size_t mlen = strcspn(cmd->arg, " ");
    const char *resp = cmd->arg + mlen;
    if (*resp == ' ')
        resp++;
    size_t rlen = cmd->arg_len - (size_t)(resp - cmd->arg);
    int has_resp = rlen > 0;
    if (mlen == 5 && strncasecmp(cmd->arg, "PLAIN", 5) == 0) {
        s->auth.mech = "PLAIN";
        s->auth.step = SMTPS_AUTH_PLAIN;
    } else if (mlen == 5 && strncasecmp(cmd->arg, "LOGIN", 5) == 0) {
        s->auth.mech = "LOGIN";
        s->auth.step = SMTPS_AUTH_LOGIN_USER;
    } else {
        struct smtp_err e = {mlen ? 504 : 501, ESC_INVALID_ARGUMENTS,
                             mlen ? "Unrecognized authentication type"
                                  : "Syntax: AUTH mechanism [initial-response]"};
        smtps_refuse(s, &e);
        return;
    }
    s->state = SMTPS_AUTH;
    if (has_resp) /* PLAIN's message, or LOGIN's user name, sent along (RFC 4954 4) */
        smtps_auth_response(s, resp, rlen);
    else
        smtps_reply(s, "334 %s", s->auth.step == SMTPS_AUTH_PLAIN ? "" : SASL_LOGIN_USER_CHALLENGE);
}
