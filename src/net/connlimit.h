/*
 * connlimit: the connection counts behind max_connections and
 * max_connections_per_ip, shared by every server listener (SMTP,
 * submission, smtps, POP3, pop3s), so the limits bound the process's
 * descriptors as a whole. Counts by client address text in a small hash
 * table; no sockets, no protocol knowledge. A session is counted from
 * accept until it ends or says goodbye (221 / +OK Bye), whichever is first.
 */
#ifndef POSTINO_CONNLIMIT_H
#define POSTINO_CONNLIMIT_H
#include <stddef.h>

struct connlimit;

struct connlimit *connlimit_new(unsigned max_total, unsigned max_per_ip);
/* A reload's max_connections_per_ip: for new connections (open ones stay counted). */
void connlimit_set_per_ip(struct connlimit *cl, unsigned max_per_ip);
/*
 * Counts a new connection from ip. 0, or -1 (nothing counted) when
 * max_total is reached, or max_per_ip for ip unless exempt (a client of
 * relay_networks, as Postfix exempts mynetworks).
 */
int connlimit_admit(struct connlimit *cl, const char *ip, int exempt);
/* Stops counting one connection of ip (admitted before). */
void connlimit_leave(struct connlimit *cl, const char *ip);
/* Connections counted now: all of them, or those of ip. */
unsigned connlimit_total(const struct connlimit *cl);
unsigned connlimit_of(struct connlimit *cl, const char *ip);
void connlimit_free(struct connlimit *cl);

#endif
