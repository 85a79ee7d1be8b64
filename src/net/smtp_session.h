/*
 * smtp_session: one SMTP server session, internal to net/smtp_*.c.
 * Per-connection state (struct smtps_session) is kept apart from the
 * per-transaction state (struct smtps_tx), as OpenSMTPD does; the session's
 * phase is the explicit enum smtps_state.
 */
#ifndef POSTINO_SMTP_SESSION_H
#define POSTINO_SMTP_SESSION_H
#include <event2/bufferevent.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include "mail/conf.h"
#include "mail/envelope.h"
#include "mail/queue.h"
#include "net/diskq.h"
#include "net/sched.h"
#include "proto/smtp_data.h"

#define SMTPS_LINE_MAX 512          /* RFC 5321 4.5.3.1.4, CRLF included */
#define SMTPS_MAX_ERRORS 50         /* then 421 and close */

enum smtps_state {
    SMTPS_CONNECTED,   /* greeting sent, no HELO/EHLO yet */
    SMTPS_IDLE,        /* HELO/EHLO done, no transaction */
    SMTPS_MAIL,        /* MAIL accepted */
    SMTPS_RCPT,        /* at least one RCPT accepted */
    SMTPS_DATA,        /* receiving message content */
    SMTPS_COMMIT,      /* content complete, waiting for the durable commit */
    SMTPS_CLOSING,     /* last reply being flushed */
};

struct smtps_tx {
    struct envelope env;        /* sender, recipients, DSN parameters */
    struct queue_writer writer;
    int writer_open;
    struct smtp_data data;      /* DATA decoder */
    int too_big;                /* content passed max_message_size */
    unsigned accepted;          /* RCPTs accepted (before alias expansion) */
};

struct smtp_server {
    struct event_base *base;
    const struct conf *conf;
    struct queue *queue;
    struct diskq *dq;
    struct sched *sched;
    struct evconnlistener **listeners;
    void **listener_ctx;
    size_t n_listeners;
    struct smtps_session *sessions;
    unsigned n_sessions;
    int shutting_down;
};

struct smtps_session {
    struct smtp_server *srv;
    struct smtps_session *prev, *next;
    struct bufferevent *bev;
    enum listen_kind kind;
    enum smtps_state state;
    int esmtp;
    int relay_ok;               /* client may relay (relay_networks) */
    int overlong;               /* discarding the rest of a too-long line */
    int dead;                   /* connection gone while a commit was in flight */
    unsigned errors;
    char helo[256];
    char client_ip[INET6_ADDRSTRLEN + 8];
    struct sockaddr_storage sa;
    struct smtps_tx tx;
    struct diskq_job commit_job;
};

/* smtp_server.c */
void smtps_reply(struct smtps_session *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void smtps_close(struct smtps_session *s);     /* after the pending replies are sent */
void smtps_process_input(struct smtps_session *s);
/* smtp_commands.c */
void smtps_command(struct smtps_session *s, const char *line, size_t len);
void smtps_tx_reset(struct smtps_session *s);
/* smtp_receive.c */
void smtps_data_start(struct smtps_session *s);
/* Feeds buffered input to the DATA decoder; returns 1 if the session must stop reading. */
int smtps_data_input(struct smtps_session *s);
void smtps_tx_abort_writer(struct smtps_session *s);

#endif
