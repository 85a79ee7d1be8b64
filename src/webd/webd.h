/*
 * webd: the Web reader (INTERFACE.md "Web"), served by `postino serve` on
 * its event loop through libevent's evhttp on the `listen web` (HTTP) and
 * `listen webs` (HTTPS: bufferevent_openssl with tls_cert/tls_key)
 * listeners. A user logs in with a users-file address and password and
 * reads the Maildir that POP3 and Dovecot read, writes mail that is queued
 * as an authenticated submission, and follows each sent message's delivery
 * story (the queue and the tracking store). Pages are server-rendered HTML
 * without scripts. Everything that blocks (password hashes, Maildir reads,
 * MIME parsing, the tracking store) runs on web worker threads.
 */
#ifndef POSTINO_WEBD_H
#define POSTINO_WEBD_H
#include <event2/event.h>
#include <openssl/ssl.h>
#include "mail/conf.h"
#include "mail/queue.h"

struct webd;
struct diskq;
struct connlimit;
struct sched;

/* What the reader works with (none owned). */
struct webd_deps {
    struct queue *q;            /* the queue (compose writes into it) */
    struct diskq *dq;           /* the disk workers (durable commits of composed mail) */
    struct sched *sched;        /* queued mail: handed over, and its state read */
    struct connlimit *limits;   /* max_connections, shared with SMTP and POP3 */
};

/* Binds every web/webs listener of c (none: an idle object); NULL (logged) if one
 * cannot be bound. tls_ctx (may be NULL without webs) gets a reference. */
struct webd *webd_new(struct event_base *base, const struct conf *c, SSL_CTX *tls_ctx,
                      const struct webd_deps *deps);
/* A reload: new settings (users, timeout_web, ...) and TLS context for new requests. */
void webd_set_conf(struct webd *w, const struct conf *c, SSL_CTX *tls_ctx);
/* Sessions logged in now (tests, metrics). */
size_t webd_sessions(const struct webd *w);
void webd_free(struct webd *w);

#endif
