/*
 * pop3_server: POP3 sessions (RFC 1939) with CAPA (RFC 2449), STLS
 * (RFC 2595), AUTH PLAIN (RFC 5034, RFC 4616) and pop3s (RFC 8314).
 * States: AUTHORIZATION -> TRANSACTION -> UPDATE (at QUIT only: a dropped
 * connection or an autologout deletes nothing). Logins are "local@domain"
 * from the users file, accepted in the clear only from loopback; the
 * password check and the mailbox snapshot run on a disk worker, a failure
 * is answered -ERR [AUTH] after a delay doubling from 1 s (at most 8 s).
 * One session per mailbox: a second gets -ERR [IN-USE]. RETR/TOP stream
 * the file through pop3_stuff (RETR marks it seen, TOP does not) under a write watermark; commands are read
 * only when the previous answer is queued, so pipelining (RFC 2449) works.
 * Idle for timeout_pop3 -> closed (RFC 1939 3 autologout); a command line
 * must also be complete within timeout_pop3 of its first octet. Past
 * NETCONN_OUT_HIGH unsent octets no command is read until the client reads.
 * max_connections and max_connections_per_ip count POP3 sessions together
 * with SMTP ones (net/connlimit.c).
 */
#include "pop3d/pop3_server.h"
#include "lib/dur.h"
#include "lib/alloc.h"
#include "lib/log.h"
#include "lib/str.h"
#include "mail/auth.h"
#include "mail/mailbox.h"
#include "mail/maildir.h"
#include "net/connlimit.h"
#include "net/netconn.h"
#include "net/tls.h"
#include "proto/pop3_parse.h"
#include "proto/sasl.h"
#include <arpa/inet.h>
#include <errno.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/listener.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#define POP3S_OUT_HIGH (256 * 1024)
#define POP3S_CHUNK 16384
#define POP3S_MAX_DELAY_S 8
#define POP3S_MAX_FAILURES 5

enum pop3s_state {
    POP3S_AUTHORIZATION,
    POP3S_SASL,          /* AUTH PLAIN sent "+ ", waiting for the response line */
    POP3S_AUTH_WAIT,     /* password check and snapshot on a worker */
    POP3S_AUTH_DELAY,    /* after a failure */
    POP3S_TRANSACTION,
    POP3S_SENDING,       /* RETR/TOP streaming */
    POP3S_CLOSING,
};

struct pop3_session {
    struct pop3_server *srv;
    struct pop3_session *prev, *next;
    struct bufferevent *bev;
    enum pop3s_state state;
    char client_ip[64];
    int loopback, tls, dead;
    int counted;                      /* counted in srv->limits */
    struct netconn_guard guard;
    char user[SASL_USER_MAX + 1];
    char pass[SASL_PASS_MAX + 1];
    char login[SASL_USER_MAX + 1];    /* canonical, once logged in */
    int auth_ok, failures;
    struct event *delay;
    struct diskq_job job;
    struct mailbox mb;
    int send_fd;
    struct pop3_stuff stuff;
};

struct pop3_listener {
    struct pop3_server *srv;
    enum listen_kind kind;
    struct netconn_listener *l;
};

struct pop3_server {
    struct event_base *base;
    const struct conf *conf;
    struct diskq *dq;
    SSL_CTX *tls_ctx;
    struct connlimit *limits;         /* shared with the SMTP server */
    struct pop3_listener *listeners;
    size_t n_listeners;
    struct pop3_session *sessions;
};

static void pop3s_process(struct pop3_session *s);

static void pop3s_reply(struct pop3_session *s, const char *fmt, ...)
{
    if (!s->bev)
        return;
    struct evbuffer *out = bufferevent_get_output(s->bev);
    va_list ap;
    va_start(ap, fmt);
    evbuffer_add_vprintf(out, fmt, ap);
    va_end(ap);
    evbuffer_add(out, "\r\n", 2);
}

static void pop3s_wipe(struct pop3_session *s)
{
    explicit_bzero(s->user, sizeof s->user);
    explicit_bzero(s->pass, sizeof s->pass);
}

/* The last reply is queued, or the session is gone: it stops counting. */
static void pop3s_uncount(struct pop3_session *s)
{
    if (s->counted)
        connlimit_leave(s->srv->limits, s->client_ip);
    s->counted = 0;
}

static void pop3s_free(struct pop3_session *s)
{
    pop3s_wipe(s);
    pop3s_uncount(s);
    netconn_guard_fini(&s->guard);
    if (s->delay)
        event_free(s->delay);
    if (s->bev)
        bufferevent_free(s->bev);
    if (s->send_fd >= 0)
        close(s->send_fd);
    mailbox_close(&s->mb);
    if (s->prev)
        s->prev->next = s->next;
    else
        s->srv->sessions = s->next;
    if (s->next)
        s->next->prev = s->prev;
    free(s);
}

/* Frees now, or marks dead while the worker job holds the session. */
static void pop3s_drop(struct pop3_session *s)
{
    if (s->state == POP3S_AUTH_WAIT) {
        s->dead = 1;
        pop3s_uncount(s);
        netconn_guard_unwatch(&s->guard);
        if (s->bev) {
            bufferevent_free(s->bev);
            s->bev = NULL;
        }
        return;
    }
    pop3s_free(s);
}

static void pop3s_on_closed_write(struct bufferevent *bev, void *arg)
{
    (void)bev;
    if (netconn_unsent(((struct pop3_session *)arg)->bev) == 0)
        pop3s_drop(arg);
}

static void pop3s_on_lower_drained(struct evbuffer *buf, const struct evbuffer_cb_info *info,
                                   void *arg)
{
    (void)info;
    struct pop3_session *s = arg;
    if (evbuffer_get_length(buf) == 0 && s->state == POP3S_CLOSING && s->delay) {
        struct timeval now = {0, 0};
        event_add(s->delay, &now); /* free outside the TLS layer's callback */
    }
}

static void pop3s_on_close_event(struct bufferevent *bev, short what, void *arg)
{
    (void)bev;
    (void)what;
    pop3s_drop(arg);
}

static void pop3s_on_timer(evutil_socket_t fd, short what, void *arg);

/* Closes once the pending replies are out. */
static void pop3s_close(struct pop3_session *s)
{
    if (s->state == POP3S_CLOSING)
        return;
    s->state = POP3S_CLOSING;
    pop3s_uncount(s);
    netconn_guard_line(&s->guard, 0, 0);
    bufferevent_disable(s->bev, EV_READ);
    bufferevent_setcb(s->bev, NULL, pop3s_on_closed_write, pop3s_on_close_event, s);
    bufferevent_setwatermark(s->bev, EV_WRITE, 0, 0);
    struct bufferevent *lower = bufferevent_get_underlying(s->bev);
    if (lower)
        evbuffer_add_cb(bufferevent_get_output(lower), pop3s_on_lower_drained, s);
    /* the timer frees the session: at once if nothing waits, else after timeout_pop3 */
    struct timeval tv = dur_timeval(netconn_unsent(s->bev) ? s->srv->conf->timeout_pop3_ms : 0);
    evtimer_del(s->delay);
    event_add(s->delay, &tv);
}

static int pop3s_clear_ok(const struct pop3_session *s)
{
    return s->tls || s->loopback;
}

static void pop3s_capa(struct pop3_session *s)
{
    pop3s_reply(s, "+OK Capability list follows");
    if (pop3s_clear_ok(s) && s->state != POP3S_TRANSACTION) {
        pop3s_reply(s, "USER");
        pop3s_reply(s, "SASL PLAIN");
    }
    if (s->srv->tls_ctx && !s->tls && s->state != POP3S_TRANSACTION)
        pop3s_reply(s, "STLS");
    pop3s_reply(s, "TOP\r\nUIDL\r\nPIPELINING\r\nRESP-CODES\r\nAUTH-RESP-CODE");
    pop3s_reply(s, "IMPLEMENTATION postino\r\n.");
}

/* --- authorization --- */

static void pop3s_check(struct diskq_job *j)
{
    struct pop3_session *s = j->ctx;
    const struct conf *c = s->srv->conf;
    s->auth_ok = 0;
    if (!c->users || !users_check_password(c->users, s->user, s->pass))
        return;
    char local[SASL_USER_MAX + 1], domain[SASL_USER_MAX + 1];
    const char *at = strrchr(s->user, '@');
    if (!at || str_ncopy(local, sizeof local, s->user, (size_t)(at - s->user)) < 0 ||
        str_copy(domain, sizeof domain, at + 1) < 0)
        return;
    const char *canon = users_lookup(c->users, local, domain);
    if (!canon || str_copy(s->login, sizeof s->login, canon) < 0)
        return;
    at = strrchr(s->login, '@');
    str_ncopy(local, sizeof local, s->login, (size_t)(at - s->login));
    str_copy(domain, sizeof domain, at + 1);
    str_lower(domain);
    if (!maildir_component_ok(local) || !maildir_component_ok(domain))
        return;
    s->auth_ok = mailbox_open(&s->mb, c->data_dir, domain, local) == 0 ? 1 : -1;
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

static void pop3s_on_timer(evutil_socket_t fd, short what, void *arg)
{
    struct pop3_session *s = arg;
    (void)fd;
    (void)what;
    if (s->state == POP3S_CLOSING) {
        pop3s_drop(s);
        return;
    }
    if (s->state != POP3S_AUTH_DELAY)
        return;
    s->state = POP3S_AUTHORIZATION;
    pop3s_reply(s, "-ERR [AUTH] Authentication failed");
    if (s->failures >= POP3S_MAX_FAILURES) {
        pop3s_close(s);
        return;
    }
    bufferevent_enable(s->bev, EV_READ);
    pop3s_process(s);
}

static void pop3s_sasl_plain(struct pop3_session *s, const char *resp, size_t len)
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

static int pop3s_start_tls(struct pop3_session *s);

static void pop3s_authorization(struct pop3_session *s, const struct pop3_cmd *c)
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
        if (!s->srv->tls_ctx || s->tls)
            pop3s_reply(s, "-ERR STLS not available");
        else if (pop3s_start_tls(s) < 0)
            pop3s_reply(s, "-ERR [SYS/TEMP] TLS not available");
        return;
    default:
        pop3s_reply(s, "-ERR Not logged in");
        return;
    }
}

/* --- transaction --- */

/* The message numbered n (1-based) if it exists and is not deleted, else NULL (after -ERR). */
static struct mailbox_msg *pop3s_msg(struct pop3_session *s, unsigned long n)
{
    if (n == 0 || n > s->mb.n || s->mb.msgs[n - 1].deleted) {
        pop3s_reply(s, "-ERR No such message");
        return NULL;
    }
    return &s->mb.msgs[n - 1];
}

/* Queues more of the message being sent; ends it with ".". */
static void pop3s_feed(struct pop3_session *s)
{
    struct evbuffer *out = bufferevent_get_output(s->bev);
    char in[POP3S_CHUNK], wire[2 * POP3S_CHUNK + 1];
    while (evbuffer_get_length(out) < POP3S_OUT_HIGH) {
        ssize_t r = s->stuff.done ? 0 : read(s->send_fd, in, sizeof in);
        if (r <= 0) {
            if (r < 0)
                log_err("pop3: %s: read: %s", s->client_ip, strerror(errno));
            if (s->stuff.mid_line)
                evbuffer_add(out, "\r\n", 2);
            evbuffer_add(out, ".\r\n", 3);
            close(s->send_fd);
            s->send_fd = -1;
            s->state = POP3S_TRANSACTION;
            bufferevent_setwatermark(s->bev, EV_WRITE, 0, 0);
            bufferevent_enable(s->bev, EV_READ);
            return;
        }
        size_t used;
        size_t n = pop3_stuff(&s->stuff, in, (size_t)r, wire, &used);
        evbuffer_add(out, wire, n);
    }
}

/*
 * RETR n (lines < 0) or TOP n lines: opens the file, starts streaming. Only
 * RETR marks the message seen (as Dovecot does): TOP is a peek, used by
 * fetchmail's keep mode, and leaves the message in new/ without the S flag.
 */
static void pop3s_send(struct pop3_session *s, unsigned long n, long lines)
{
    struct mailbox_msg *m = pop3s_msg(s, n);
    if (!m)
        return;
    char path[PATH_MAX];
    if (lines < 0 && mailbox_mark_seen(&s->mb, n - 1) < 0)
        log_warn("pop3: %s: cannot mark %s seen: %s", s->login, m->name, strerror(errno));
    if (mailbox_path(&s->mb, n - 1, path, sizeof path) < 0 ||
        (s->send_fd = open(path, O_RDONLY | O_CLOEXEC)) < 0) {
        s->send_fd = -1;
        pop3s_reply(s, "-ERR [SYS/TEMP] Cannot read message");
        return;
    }
    pop3s_reply(s, "+OK %llu octets", (unsigned long long)m->size);
    pop3_stuff_init(&s->stuff, lines);
    s->state = POP3S_SENDING;
    bufferevent_disable(s->bev, EV_READ);
    bufferevent_setwatermark(s->bev, EV_WRITE, POP3S_OUT_HIGH / 2, 0);
    pop3s_feed(s);
}

static void pop3s_listing(struct pop3_session *s, const struct pop3_cmd *c, int uidl)
{
    if (c->n_nums == 1) {
        struct mailbox_msg *m = pop3s_msg(s, c->num[0]);
        if (m && uidl)
            pop3s_reply(s, "+OK %lu %s", c->num[0], m->uid);
        else if (m)
            pop3s_reply(s, "+OK %lu %llu", c->num[0], (unsigned long long)m->size);
        return;
    }
    pop3s_reply(s, "+OK");
    for (size_t i = 0; i < s->mb.n; i++) {
        const struct mailbox_msg *m = &s->mb.msgs[i];
        if (m->deleted)
            continue;
        if (uidl)
            pop3s_reply(s, "%zu %s", i + 1, m->uid);
        else
            pop3s_reply(s, "%zu %llu", i + 1, (unsigned long long)m->size);
    }
    pop3s_reply(s, ".");
}

static void pop3s_transaction(struct pop3_session *s, const struct pop3_cmd *c)
{
    size_t count = 0;
    unsigned long long octets = 0;
    struct mailbox_msg *m;
    switch (c->verb) {
    case POP3_STAT:
        for (size_t i = 0; i < s->mb.n; i++)
            if (!s->mb.msgs[i].deleted) {
                count++;
                octets += s->mb.msgs[i].size;
            }
        pop3s_reply(s, "+OK %zu %llu", count, octets);
        return;
    case POP3_LIST:
    case POP3_UIDL:
        pop3s_listing(s, c, c->verb == POP3_UIDL);
        return;
    case POP3_RETR:
        pop3s_send(s, c->num[0], -1);
        return;
    case POP3_TOP:
        pop3s_send(s, c->num[0], c->num[1] > 100000000UL ? 100000000L : (long)c->num[1]);
        return;
    case POP3_DELE:
        if ((m = pop3s_msg(s, c->num[0])) != NULL) {
            m->deleted = 1;
            pop3s_reply(s, "+OK Marked to be deleted");
        }
        return;
    case POP3_NOOP:
        pop3s_reply(s, "+OK");
        return;
    case POP3_RSET:
        for (size_t i = 0; i < s->mb.n; i++)
            s->mb.msgs[i].deleted = 0;
        pop3s_reply(s, "+OK");
        return;
    default:
        pop3s_reply(s, "-ERR Not in this state");
        return;
    }
}

/* QUIT: in TRANSACTION, the UPDATE state (RFC 1939 6). */
static void pop3s_quit(struct pop3_session *s)
{
    if (s->state == POP3S_TRANSACTION) {
        size_t failed = mailbox_commit(&s->mb);
        if (failed) {
            pop3s_reply(s, "-ERR [SYS/TEMP] %zu messages not deleted", failed);
            pop3s_close(s);
            return;
        }
    }
    pop3s_reply(s, "+OK Bye");
    pop3s_close(s);
}

static void pop3s_command(struct pop3_session *s, const char *line, size_t len)
{
    struct pop3_cmd c;
    enum pop3_parse_result r = pop3_parse_line(line, len, &c);
    if (r == POP3_PARSE_UNKNOWN) {
        pop3s_reply(s, "-ERR Unknown command");
        return;
    }
    if (r != POP3_PARSE_OK) {
        pop3s_reply(s, "-ERR Bad arguments");
        return;
    }
    if (c.verb == POP3_QUIT)
        pop3s_quit(s);
    else if (c.verb == POP3_CAPA)
        pop3s_capa(s);
    else if (s->state == POP3S_TRANSACTION)
        pop3s_transaction(s, &c);
    else
        pop3s_authorization(s, &c);
}

/* 1 in the states that read command lines. */
static int pop3s_reading(const struct pop3_session *s)
{
    return s->bev && (s->state == POP3S_AUTHORIZATION || s->state == POP3S_SASL ||
                      s->state == POP3S_TRANSACTION);
}

/* Handles every complete command line in the input, while the state allows. */
static void pop3s_process_lines(struct pop3_session *s)
{
    char line[POP3_ARG_MAX + 1];
    while (pop3s_reading(s) && !netconn_guard_blocked(&s->guard, s->bev)) {
        struct evbuffer *in = bufferevent_get_input(s->bev);
        size_t eol_len = 0;
        struct evbuffer_ptr p = evbuffer_search_eol(in, NULL, &eol_len, EVBUFFER_EOL_CRLF);
        if (p.pos < 0) {
            if (evbuffer_get_length(in) > POP3_ARG_MAX) {
                pop3s_reply(s, "-ERR Line too long");
                pop3s_close(s);
            }
            return;
        }
        size_t n = (size_t)p.pos;
        if (n > POP3_ARG_MAX) {
            evbuffer_drain(in, n + eol_len);
            pop3s_reply(s, "-ERR Line too long");
            continue;
        }
        evbuffer_remove(in, line, n);
        evbuffer_drain(in, eol_len);
        line[n] = '\0';
        if (s->state == POP3S_SASL)
            pop3s_sasl_plain(s, line, n);
        else
            pop3s_command(s, line, n);
        explicit_bzero(line, n);
    }
}

static void pop3s_process(struct pop3_session *s)
{
    pop3s_process_lines(s);
    if (s->state == POP3S_CLOSING || s->dead)
        return;
    int partial = pop3s_reading(s) && !s->guard.blocked &&
                  evbuffer_get_length(bufferevent_get_input(s->bev)) > 0;
    netconn_guard_line(&s->guard, partial, s->srv->conf->timeout_pop3_ms);
}

/* The client read enough of its replies: take its commands again. */
static void pop3s_on_guard_resume(void *arg)
{
    struct pop3_session *s = arg;
    if (!pop3s_reading(s))
        return;
    bufferevent_enable(s->bev, EV_READ);
    pop3s_process(s);
}

/* A command line did not complete within timeout_pop3, however it trickled in. */
static void pop3s_on_line_timeout(void *arg)
{
    struct pop3_session *s = arg;
    if (!pop3s_reading(s))
        return;
    log_info("pop3: %s: command line not complete within the timeout", s->client_ip);
    pop3s_reply(s, "-ERR Autologout; command line not complete in time");
    pop3s_close(s);
}

/* --- I/O --- */

static void pop3s_on_read(struct bufferevent *bev, void *arg)
{
    (void)bev;
    pop3s_process(arg);
}

static void pop3s_on_write(struct bufferevent *bev, void *arg)
{
    struct pop3_session *s = arg;
    (void)bev;
    if (s->state == POP3S_SENDING) {
        pop3s_feed(s);
        if (s->state == POP3S_TRANSACTION)
            pop3s_process(s);
    }
}

static void pop3s_on_event(struct bufferevent *bev, short what, void *arg)
{
    struct pop3_session *s = arg;
    (void)bev;
    if (what & BEV_EVENT_CONNECTED)
        return;
    if ((what & BEV_EVENT_TIMEOUT) && (what & BEV_EVENT_READING) && s->state != POP3S_SENDING) {
        log_info("pop3: %s: autologout", s->client_ip);
        pop3s_reply(s, "-ERR Autologout; idle for too long");
        pop3s_close(s);
        return;
    }
    if (what & BEV_EVENT_TIMEOUT)
        log_info("pop3: %s: client does not read its replies", s->client_ip);
    pop3s_drop(s); /* EOF, error, or a client that stopped reading: no UPDATE */
}

static void pop3s_attach(struct pop3_session *s)
{
    struct timeval tv = dur_timeval(s->srv->conf->timeout_pop3_ms);
    netconn_attach(s->bev, pop3s_on_read, pop3s_on_write, pop3s_on_event, s, 64 * 1024, &tv,
                   s->tls);
}

static int pop3s_start_tls(struct pop3_session *s)
{
    SSL *ssl = tls_server_new(s->srv->tls_ctx);
    if (!ssl)
        return -1;
    pop3s_reply(s, "+OK Begin TLS negotiation");
    size_t junk;
    s->bev = netconn_start_tls(s->srv->base, s->bev, ssl, &junk);
    if (junk)
        log_warn("pop3: %s: discarded %zu octets sent after STLS", s->client_ip, junk);
    s->tls = 1;
    pop3s_attach(s);
    bufferevent_enable(s->bev, EV_READ | EV_WRITE);
    return 0;
}

static void pop3s_on_accept(struct evconnlistener *l, evutil_socket_t fd, struct sockaddr *sa,
                            int socklen, void *arg)
{
    struct pop3_listener *pl = arg;
    struct pop3_server *srv = pl->srv;
    (void)l;
    (void)socklen;
    evutil_make_socket_nonblocking(fd);
    SSL *ssl = NULL;
    if (pl->kind == LISTEN_POP3S && !(ssl = tls_server_new(srv->tls_ctx))) {
        evutil_closesocket(fd);
        return;
    }
    struct bufferevent *bev = netconn_bev_new(srv->base, fd, ssl);
    struct pop3_session *s = xcalloc(1, sizeof *s);
    s->srv = srv;
    s->bev = bev;
    s->send_fd = -1;
    s->tls = pl->kind == LISTEN_POP3S;
    s->loopback = netconn_is_loopback(sa);
    netconn_peer(sa, s->client_ip, sizeof s->client_ip);
    s->delay = evtimer_new(srv->base, pop3s_on_timer, s);
    netconn_guard_init(&s->guard, srv->base, pop3s_on_guard_resume, pop3s_on_line_timeout, s);
    s->next = srv->sessions;
    if (srv->sessions)
        srv->sessions->prev = s;
    srv->sessions = s;
    pop3s_attach(s);
    s->counted = connlimit_admit(srv->limits, s->client_ip,
                                 conf_in_relay_networks(srv->conf, sa)) == 0;
    if (!s->counted) {
        log_warn("pop3: %s: connection limit reached", s->client_ip);
        if (s->tls) { /* no handshake for a connection refused anyway */
            pop3s_drop(s);
            return;
        }
        pop3s_reply(s, "-ERR [SYS/TEMP] Too many connections, try again later");
        bufferevent_enable(s->bev, EV_WRITE);
        pop3s_close(s);
        return;
    }
    log_info("pop3: connect from %s%s", s->client_ip, s->tls ? " (pop3s)" : "");
    pop3s_reply(s, "+OK postino POP3 server ready");
    bufferevent_enable(s->bev, EV_READ | EV_WRITE);
}

static int pop3s_listen(struct pop3_server *srv, const struct listen_spec *ls)
{
    if (ls->kind == LISTEN_POP3S && !srv->tls_ctx) {
        log_err("listen pop3s %s:%d: needs tls_cert and tls_key", ls->addr, ls->port);
        return -1;
    }
    struct pop3_listener *pl = &srv->listeners[srv->n_listeners];
    pl->srv = srv;
    pl->kind = ls->kind;
    pl->l = netconn_listen(srv->base, ls, pop3s_on_accept, pl);
    if (!pl->l)
        return -1;
    srv->n_listeners++;
    return 0;
}

struct pop3_server *pop3_server_new(struct event_base *base, const struct conf *c,
                                    struct diskq *dq, struct connlimit *limits)
{
    struct pop3_server *srv = xcalloc(1, sizeof *srv);
    srv->limits = limits;
    srv->base = base;
    srv->conf = c;
    srv->dq = dq;
    srv->listeners = xcalloc(c->n_listens + 1, sizeof *srv->listeners);
    if (c->tls_cert && !(srv->tls_ctx = tls_server_ctx(c))) {
        pop3_server_free(srv);
        return NULL;
    }
    for (size_t i = 0; i < c->n_listens; i++) {
        const struct listen_spec *ls = &c->listens[i];
        if ((ls->kind == LISTEN_POP3 || ls->kind == LISTEN_POP3S) && pop3s_listen(srv, ls) < 0) {
            pop3_server_free(srv);
            return NULL;
        }
    }
    return srv;
}

void pop3_server_free(struct pop3_server *srv)
{
    if (!srv)
        return;
    for (size_t i = 0; i < srv->n_listeners; i++)
        netconn_listener_free(srv->listeners[i].l);
    free(srv->listeners);
    while (srv->sessions) {
        srv->sessions->state = POP3S_AUTHORIZATION; /* the disk workers are gone by now */
        pop3s_free(srv->sessions);
    }
    SSL_CTX_free(srv->tls_ctx);
    free(srv);
}
