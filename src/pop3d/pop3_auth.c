/*
 * pop3_auth: the AUTHORIZATION state of a POP3 session (RFC 1939 4, 7):
 * USER/PASS, AUTH PLAIN (RFC 5034, RFC 4616; no proxy authorization) and
 * STLS (RFC 2595). Logins are "local@domain" from the users file, accepted
 * in the clear only from loopback; the password check and the mailbox
 * snapshot run on a disk worker (never on the loop), the password is wiped
 * once checked. A failure is answered -ERR [AUTH] after a delay doubling
 * from 1 s (at most 8 s); the fifth ends the session. One session per
 * mailbox: a second gets -ERR [IN-USE].
 */
#include "pop3d/pop3_session.h"
#include "lib/log.h"
#include "lib/str.h"
#include "mail/auth.h"
#include "mail/maildir.h"
#include <string.h>
#include <strings.h>

#define POP3S_MAX_DELAY_S 8
#define POP3S_MAX_FAILURES 5

void pop3s_wipe(struct pop3_session *s)
{
    explicit_bzero(s->user, sizeof s->user);
    explicit_bzero(s->pass, sizeof s->pass);
}

int pop3s_clear_ok(const struct pop3_session *s)
{
    return s->tls || s->loopback;
}

/* --- the password check --- */

static void pop3s_check(struct diskq_job *j)
{
    struct pop3_session *s = j->ctx;
    const struct conf *c = s->conf;
    struct auth_box box;
    s->auth_ok = 0;
    if (!auth_mailbox_login(c->users, s->user, s->pass, &box))
        return;
    str_copy(s->login, sizeof s->login, box.addr);
    s->auth_ok = mailbox_open(&s->mb, c->data_dir, box.domain, box.local) == 0 ? 1 : -1;
}

static int pop3s_in_use(const struct pop3_session *s)
{
    for (const struct pop3_session *o = s->srv->sessions; o; o = o->next)
        if (o != s && (o->state == POP3S_TRANSACTION || o->state == POP3S_SENDING) &&
            strcasecmp(o->login, s->login) == 0)
            return 1;
    return 0;
}

static void pop3s_check_done(struct diskq_job *j)
{
    struct pop3_session *s = j->ctx;
    diskq_job_release(j);
    pop3s_wipe(s);
    if (s->dead) {
        s->state = POP3S_AUTHORIZATION;
        pop3s_free(s);
        return;
    }
    if (j->failed || s->auth_ok < 0) {
        mailbox_close(&s->mb);
        s->state = POP3S_AUTHORIZATION;
        pop3s_reply(s, "-ERR [SYS/TEMP] Mailbox unavailable");
    } else if (s->auth_ok == 0) {
        s->failures++;
        int d = 1 << (s->failures - 1 < 3 ? s->failures - 1 : 3);
        log_warn("pop3: %s: authentication failed", s->client_ip);
        s->state = POP3S_AUTH_DELAY;
        struct timeval tv = {d > POP3S_MAX_DELAY_S ? POP3S_MAX_DELAY_S : d, 0};
        event_add(s->delay, &tv);
        return;
    } else if (pop3s_in_use(s)) {
        mailbox_close(&s->mb);
        s->state = POP3S_AUTHORIZATION;
        pop3s_reply(s, "-ERR [IN-USE] Mailbox already locked by another session");
    } else {
        s->state = POP3S_TRANSACTION;
        log_info("pop3: %s: login %s, %zu messages", s->client_ip, s->login, s->mb.n);
        pop3s_reply(s, "+OK Logged in, %zu messages", s->mb.n);
    }
    bufferevent_enable(s->bev, EV_READ);
    pop3s_process(s);
}

static void pop3s_submit_check(struct pop3_session *s)
{
    s->state = POP3S_AUTH_WAIT;
    memset(&s->job, 0, sizeof s->job);
    s->job.write = pop3s_check;
    s->job.done = pop3s_check_done;
    s->job.ctx = s;
    bufferevent_disable(s->bev, EV_READ);
    diskq_submit(s->srv->dq, &s->job, DISKQ_URGENT);
}

/* The delay after a failed login is over. */
void pop3s_auth_delay_over(struct pop3_session *s)
{
    s->state = POP3S_AUTHORIZATION;
    pop3s_reply(s, "-ERR [AUTH] Authentication failed");
    if (s->failures >= POP3S_MAX_FAILURES) {
        pop3s_close(s);
        return;
    }
    bufferevent_enable(s->bev, EV_READ);
    pop3s_process(s);
}

void pop3s_sasl_plain(struct pop3_session *s, const char *resp, size_t len)
{
    struct sasl_plain p;
    enum sasl_result r = sasl_plain_decode(resp, len, &p);
    if (r == SASL_CANCEL) {
        pop3s_reply(s, "-ERR Authentication cancelled");
    } else if (r != SASL_OK || sasl_plain_proxy(&p)) {
        pop3s_reply(s, "-ERR Malformed authentication message");
    } else {
        str_copy(s->user, sizeof s->user, p.authcid);
        str_copy(s->pass, sizeof s->pass, p.passwd);
        explicit_bzero(&p, sizeof p);
        pop3s_submit_check(s);
        return;
    }
    explicit_bzero(&p, sizeof p);
    s->state = POP3S_AUTHORIZATION;
}

void pop3s_authorization(struct pop3_session *s, const struct pop3_cmd *c)
{
    int login = c->verb == POP3_USER || c->verb == POP3_PASS || c->verb == POP3_AUTH;
    if (login && !pop3s_clear_ok(s)) {
        pop3s_reply(s, "-ERR [AUTH] Plaintext authentication disallowed, use STLS");
        return;
    }
    switch (c->verb) {
    case POP3_USER:
        if (str_ncopy(s->user, sizeof s->user, c->arg, c->arg_len) < 0) {
            pop3s_reply(s, "-ERR Login too long");
            return;
        }
        pop3s_reply(s, "+OK");
        return;
    case POP3_PASS:
        if (!s->user[0]) {
            pop3s_reply(s, "-ERR USER first");
            return;
        }
        if (str_ncopy(s->pass, sizeof s->pass, c->arg, c->arg_len) < 0) {
            pop3s_reply(s, "-ERR Password too long");
            return;
        }
        pop3s_submit_check(s);
        return;
    case POP3_AUTH:
        if (!c->arg) {
            pop3s_reply(s, "+OK\r\nPLAIN\r\n.");
        } else if (c->arg_len != 5 || strncasecmp(c->arg, "PLAIN", 5) != 0) {
            pop3s_reply(s, "-ERR Unsupported mechanism");
        } else if (c->arg2) {
            pop3s_sasl_plain(s, c->arg2, c->arg2_len);
        } else {
            s->state = POP3S_SASL;
            pop3s_reply(s, "+ ");
        }
        return;
    case POP3_STLS:
        if (!s->tls_ctx || s->tls)
            pop3s_reply(s, "-ERR STLS not available");
        else if (pop3s_start_tls(s) < 0)
            pop3s_reply(s, "-ERR [SYS/TEMP] TLS not available");
        return;
    default:
        pop3s_reply(s, "-ERR Not logged in");
        return;
    }
}
