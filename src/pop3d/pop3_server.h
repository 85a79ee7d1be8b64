/*
 * pop3_server: the POP3 listeners (RFC 1939; RFC 2449 CAPA, RFC 2595 STLS,
 * RFC 5034 AUTH PLAIN, RFC 8314 implicit TLS on pop3s) on the event loop.
 * Serves the Maildirs of mail/mailbox. Owns the pop3/pop3s listening
 * sockets, its TLS context and the live sessions (one per mailbox).
 */
#ifndef POSTINO_POP3_SERVER_H
#define POSTINO_POP3_SERVER_H
#include <event2/event.h>
#include "mail/conf.h"
#include "net/connlimit.h"
#include "net/diskq.h"
#include "net/tls.h"

struct pop3_server;

/*
 * Binds every pop3/pop3s listener. c is held (a reference of its own);
 * tls_ctx (NULL: no TLS) gets a reference of its own. limits: the
 * connection counts, shared with the SMTP server (not owned). NULL on failure (logged).
 */
struct pop3_server *pop3_server_new(struct event_base *base, const struct conf *c,
                                    SSL_CTX *tls_ctx, struct diskq *dq,
                                    struct connlimit *limits);
/* A reload: new sessions start under c and tls_ctx; open ones keep theirs. */
void pop3_server_set_conf(struct pop3_server *srv, const struct conf *c, SSL_CTX *tls_ctx);
/* Closes every session (no UPDATE: nothing is deleted) and the listeners. */
void pop3_server_free(struct pop3_server *srv);

#endif
