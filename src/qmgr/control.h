/*
 * control: the server's local sockets for the queue commands.
 *
 * DATA_DIR/control (AF_UNIX, mode 0600, so only the mail system's user can
 * use it): `postino queue` changes the queue of a running server through it;
 * when no server answers they work on the queue files directly. One request
 * line per connection, one reply line:
 *   FLUSH [ID]   ->  OK <messages made due now> | ERR no such message
 *   HOLD ID, RELEASE ID, DELETE ID  ->  OK 1 | ERR <reason>
 *   RELOAD       ->  once the server has re-read its config (cmd/serve):
 *                    OK <what was applied> | ERR FILE:LINE: <what is wrong>
 * Anything else  ->  ERR <reason>
 *
 * DATA_DIR/showq (mode 0666: any local user, as Postfix's showq): the
 * listing only, for users who cannot read the 0700 queue directory
 * (mailq, `sendmail -bp`, `queue list`). One request line, then the answer
 * until the server closes:
 *   LIST | LIST --json  ->  "OK\n" and the listing (mail/queue_list, formatted
 *                           from the queue files on a disk worker) | ERR <reason>
 *                           The listing is sent as it is made, a chunk at a time;
 *                           the server closes at its end (an error after "OK" can
 *                           only cut it short: it is logged).
 *   SUMMARY | SUMMARY --json  ->  the same with the table by domain and age
 *                           (mail/queue_summary, `queue summary`)
 * Anything else  ->  ERR <reason>. At most CONTROL_SHOWQ_CONNS connections and
 * CONTROL_SHOWQ_JOBS listings at a time (then ERR busy).
 */
#ifndef POSTINO_CONTROL_H
#define POSTINO_CONTROL_H
#include <event2/event.h>
#include "mail/conf.h"
#include "net/diskq.h"
#include "qmgr/sched.h"

#define CONTROL_SOCKET "control"
#define CONTROL_SHOWQ_SOCKET "showq"
#define CONTROL_SHOWQ_OK "OK\n"
#define CONTROL_SHOWQ_CONNS 32
#define CONTROL_SHOWQ_JOBS 4

#define CONTROL_RELOAD_WAITERS 8
#define CONTROL_ANSWER_MAX 1024     /* one reply line, without its LF */

struct control;

/* How a reload's outcome comes back: ok, and one line of text (the waiter is arg). */
typedef void (*control_reload_reply_fn)(void *arg, int ok, const char *text);

/* What RELOAD asks of the server: ask starts (or joins) a reload and calls
 * reply(reply_arg, ...) once it is done; forget drops a waiter that is gone
 * before its answer. */
struct control_reload_hook {
    void (*ask)(void *arg, control_reload_reply_fn reply, void *reply_arg);
    void (*forget)(void *arg, void *reply_arg);
    void *arg;
};

/* Binds DATA_DIR/control and DATA_DIR/showq (replacing stale sockets). NULL on failure
 * (logged). reload may be NULL (RELOAD is then refused). */
struct control *control_new(struct event_base *base, const struct conf *c, struct sched *s,
                            struct diskq *dq, const struct control_reload_hook *reload);
void control_free(struct control *ctl);

#endif
