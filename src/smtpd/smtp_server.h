/*
 * smtp_server: the SMTP listeners (RFC 5321 server side) on the event loop.
 * Owns the listening sockets of kinds smtp, submission (RFC 6409) and
 * smtps (RFC 8314 implicit TLS), the server's TLS context (tls_cert,
 * tls_key), the connection limits (max_connections, max_connections_per_ip
 * -> 421 4.7.0) and the set of live sessions. The sessions themselves live
 * in smtp_server.c, smtp_commands.c, smtp_auth.c and smtp_receive.c.
 */
#ifndef POSTINO_SMTP_SERVER_H
#define POSTINO_SMTP_SERVER_H
#include <event2/event.h>
#include "mail/conf.h"
#include "mail/queue.h"
#include "net/connlimit.h"
#include "net/diskq.h"
#include "net/tls.h"
#include "qmgr/sched.h"

struct smtp_server;

/*
 * Binds every smtp/submission/smtps listener. c is held (a reference of its
 * own); tls_ctx (NULL: no TLS) gets a reference of its own. limits: the
 * connection counts, shared with the POP3 server (not owned). NULL on failure (logged).
 */
struct smtp_server *smtp_server_new(struct event_base *base, const struct conf *c,
                                    SSL_CTX *tls_ctx, struct queue *q, struct diskq *dq,
                                    struct sched *s, struct connlimit *limits);
/*
 * A reload: new sessions start under c and tls_ctx (both held as in
 * smtp_server_new); sessions already open keep the settings they started
 * with. Listeners are not changed (a restart is needed for those).
 */
void smtp_server_set_conf(struct smtp_server *srv, const struct conf *c, SSL_CTX *tls_ctx);
/* Stops accepting, says 421 to idle sessions; those committing a message finish first. */
void smtp_server_shutdown(struct smtp_server *srv);
/* Sessions still open. */
unsigned smtp_server_sessions(const struct smtp_server *srv);
/* The pool the checks at the end of DATA run on (diskq_new_pool, batch 1) and the
 * tracking store that matches incoming notices (may be NULL); set once after
 * smtp_server_new. Without a pool no check runs. */
struct track;
void smtp_server_set_filters(struct smtp_server *srv, struct diskq *checkq, struct track *t);
void smtp_server_free(struct smtp_server *srv);

#endif
