/*
 * control: the server's local control socket, DATA_DIR/control (AF_UNIX,
 * mode 0600, so only the mail system's user can use it). The queue
 * commands of `postino queue` talk to a running server through it; when no
 * server answers they work on the queue files directly. One request line
 * per connection, one reply line:
 *   FLUSH [ID]   ->  OK <messages made due now> | ERR no such message
 *   HOLD ID, RELEASE ID, DELETE ID  ->  OK 1 | ERR <reason>
 * Anything else  ->  ERR <reason>
 */
#ifndef POSTINO_CONTROL_H
#define POSTINO_CONTROL_H
#include <event2/event.h>
#include "mail/conf.h"
#include "net/sched.h"

#define CONTROL_SOCKET "control"

struct control;

/* Binds DATA_DIR/control (replacing a stale socket). NULL on failure (logged). */
struct control *control_new(struct event_base *base, const struct conf *c, struct sched *s);
void control_free(struct control *ctl);

#endif
