/*
 * serve_reload: the reload of a running `postino serve` (SIGHUP, or RELOAD
 * on the control socket from `postino reload`). The config file the server
 * started with is read again, with its users and aliases files and its TLS
 * certificate and key, on a disk worker (the event loop never reads files).
 * If all of it is valid, new sessions, connections and deliveries run
 * under the new settings while the work already under way keeps the ones
 * it started with (each holds a reference: conf_hold). If not, the error
 * (FILE:LINE) is logged and answered, and the running settings stay.
 * Settings only a restart can change (listeners, data_dir, run_as,
 * log_file, max_connections, dns_servers) are logged as such and keep
 * their running values. Reloads asked for while one runs are served by
 * one more run after it, so every asker sees the file as it was when it
 * asked. Loop thread only.
 */
#ifndef POSTINO_SERVE_RELOAD_H
#define POSTINO_SERVE_RELOAD_H
#include "mail/conf.h"
#include "net/connlimit.h"
#include "net/diskq.h"
#include "net/tls.h"
#include "pop3d/pop3_server.h"
#include "qmgr/control.h"
#include "qmgr/pickup.h"
#include "qmgr/sched.h"
#include "smtpc/mx.h"
#include "smtpc/smtp_client.h"
#include "smtpd/smtp_server.h"
#include "cmd/web_load.h"

/* The services a reload hands the new settings to (none owned). */
struct serve_services {
    struct smtp_server *smtp;
    struct pop3_server *pop3;
    struct web_module *web;
    struct sched *sched;
    struct smtpc *smtpc;
    struct mx_resolver *mx;
    struct pickup *pickup;      /* may be NULL until it exists */
    struct connlimit *limits;
};

struct serve_reload;

/* running: the conf the services were started with (held here from now on). */
struct serve_reload *serve_reload_new(struct diskq *dq, const struct conf *running,
                                      const struct serve_services *services);
/* Sets the pickup service once it exists. */
void serve_reload_set_pickup(struct serve_reload *r, struct pickup *p);
/* The settings in force now (for the server's own log lines). */
const struct conf *serve_reload_conf(const struct serve_reload *r);
/*
 * Asks for a reload (a control_reload_hook's ask; arg is the serve_reload).
 * reply(reply_arg, ok, text) runs once it is done; reply NULL: a signal,
 * nobody to answer.
 */
void serve_reload_ask(void *arg, control_reload_reply_fn reply, void *reply_arg);
/* A waiter that is gone (a control_reload_hook's forget). */
void serve_reload_forget(void *arg, void *reply_arg);
/* The hook for control_new. */
struct control_reload_hook serve_reload_hook(struct serve_reload *r);
/* At shutdown, before the services are freed: a run still in flight applies nothing. */
void serve_reload_stop(struct serve_reload *r);
/* After diskq_free (a reload job in flight has ended by then). */
void serve_reload_free(struct serve_reload *r);

#endif
