/*
 * pop3_session: one POP3 server session, internal to pop3d/pop3_*.c.
 * pop3_server.c owns the listeners, the session's life (accept, STLS,
 * close, free) and its input loop; pop3_auth.c the AUTHORIZATION state
 * (USER/PASS, AUTH PLAIN, the password check on a disk worker and the
 * failure delay); pop3_commands.c the command dispatch, CAPA, QUIT and the
 * TRANSACTION state (the listings, RETR/TOP streaming, DELE). The phase is
 * the explicit enum pop3s_state.
 */
#ifndef POSTINO_POP3_SESSION_H
#define POSTINO_POP3_SESSION_H
#include <event2/bufferevent.h>
#include <stddef.h>
#include "mail/conf.h"
#include "mail/mailbox.h"
#include "net/connlimit.h"
#include "net/diskq.h"
#include "net/netconn.h"
#include "net/tls.h"
#include "proto/pop3_parse.h"
#include "proto/sasl.h"

enum pop3s_state {
    POP3S_AUTHORIZATION,
    POP3S_SASL,          /* AUTH PLAIN sent "+ ", waiting for the response line */
    POP3S_AUTH_WAIT,     /* password check and snapshot on a worker */
    POP3S_AUTH_DELAY,    /* after a failure */
    POP3S_TRANSACTION,
    POP3S_SENDING,       /* RETR/TOP streaming */
    POP3S_CLOSING,       /* last replies being flushed; the delay timer ends the session */
};

struct pop3_session {
    struct pop3_server *srv;
    /* The settings the session started under (held: a reload changes new sessions only). */
    const struct conf *conf;
    SSL_CTX *tls_ctx;                 /* its own reference; NULL without TLS */
    struct pop3_session *prev, *next;
    struct bufferevent *bev;
    enum pop3s_state state;
    char client_ip[64];
    int loopback, tls, dead;
    enum listen_kind kind;            /* its listener's (metrics) */
    int counted;                      /* counted in srv->limits */
    struct netconn_guard guard;
    char user[SASL_USER_MAX + 1];
    char pass[SASL_PASS_MAX + 1];
    char login[SASL_USER_MAX + 1];    /* canonical, once logged in */
    int auth_ok, failures;
    struct event *delay;              /* the failure delay, then the close (pop3s_on_timer) */
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
    const struct conf *conf;          /* held; replaced by a reload (pop3_server_set_conf) */
    struct diskq *dq;
    SSL_CTX *tls_ctx;
    struct connlimit *limits;         /* shared with the SMTP server */
    struct pop3_listener *listeners;
    size_t n_listeners;
    struct pop3_session *sessions;
};

/* pop3_server.c */
void pop3s_reply(struct pop3_session *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Closes once the pending replies are out (or after timeout_pop3). */
void pop3s_close(struct pop3_session *s);
void pop3s_free(struct pop3_session *s);
/* Handles the input that waits, as far as the state allows. */
void pop3s_process(struct pop3_session *s);
/* STLS accepted: go-ahead, then TLS. -1 if no TLS session could be made (nothing sent). */
int pop3s_start_tls(struct pop3_session *s);
/* pop3_auth.c */
/* 1 if a login may be sent: over TLS, or from loopback. */
int pop3s_clear_ok(const struct pop3_session *s);
void pop3s_wipe(struct pop3_session *s);
void pop3s_authorization(struct pop3_session *s, const struct pop3_cmd *c);
/* The line after "AUTH PLAIN" answered "+ " (state POP3S_SASL). */
void pop3s_sasl_plain(struct pop3_session *s, const char *resp, size_t len);
/* The delay after a failed login is over: -ERR [AUTH], and maybe the end. */
void pop3s_auth_delay_over(struct pop3_session *s);
/* pop3_commands.c */
void pop3s_command(struct pop3_session *s, const char *line, size_t len);
/* Queues more of the message being sent (state POP3S_SENDING). */
void pop3s_feed(struct pop3_session *s);

#endif
