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

struct pop3_server;

/* Binds every pop3/pop3s listener. NULL on failure (logged). */
/* limits: the connection counts, shared with the SMTP server (not owned). */
struct pop3_server *pop3_server_new(struct event_base *base, const struct conf *c,
                                    struct diskq *dq, struct connlimit *limits);
/* Closes every session (no UPDATE: nothing is deleted) and the listeners. */
void pop3_server_free(struct pop3_server *srv);

#endif
