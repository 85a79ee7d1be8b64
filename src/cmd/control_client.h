/*
 * control_client: the commands' side of the server's local sockets
 * (qmgr/control.h): connect to DATA_DIR/control or DATA_DIR/showq, send one
 * request line, read the answer. Used by `postino queue` and `postino reload`.
 */
#ifndef POSTINO_CONTROL_CLIENT_H
#define POSTINO_CONTROL_CLIENT_H
#include <stddef.h>
#include <time.h>
#include "mail/conf.h"

/* Connects to the running server's socket DATA_DIR/name; reads wait at most
 * timeout_s seconds. The descriptor, or -1 if none answers (errno: ENOENT or
 * ECONNREFUSED no server, EACCES not this user's socket). */
int control_client_connect(const struct conf *c, const char *name, time_t timeout_s);
/* Sends req (one line, with its LF) on the control socket and reads the one-line
 * answer into reply, without its LF ("" if the server said nothing before timeout_s).
 * 0, or -1 (errno) if no server answers. */
int control_client_request(const struct conf *c, const char *req, char *reply, size_t size,
                           time_t timeout_s);

#endif
