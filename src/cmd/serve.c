/*
 * serve: "postino serve" runs the mail system in the foreground: binds the
 * listeners, drops root for run_as (privilege.h), loads the queue, and runs the event
 * loop until SIGTERM/SIGINT. Shutdown stops accepting, lets sessions that
 * are committing a message get their reply, and exits 0 without losing
 * queued mail (everything acknowledged is already on disk). SIGHUP reopens
 * log_file (after a rotation) and reloads the config (serve_reload.h); the
 * server keeps serving. Under systemd
 * (Type=notify) it says READY=1 once the listeners are bound and the queue
 * is loaded, RELOADING=1/READY=1 around a SIGHUP, STOPPING=1 at shutdown.
 */
#include "cmd/cmd.h"
#include "cmd/privilege.h"
#include "cmd/serve_reload.h"
#include "lib/fsio.h"
#include "lib/log.h"
#include "mail/queue.h"
#include "metricsd/metricsd.h"
#include "net/connlimit.h"
#include "qmgr/control.h"
#include "net/diskq.h"
#include "smtpc/mx.h"
#include "qmgr/pickup.h"
#include "smtpc/smtp_client.h"
#include "net/service_notify.h"
#include "net/tls.h"
#include "qmgr/sched.h"
#include "pop3d/pop3_server.h"
#include "smtpd/smtp_server.h"
#include "track/track.h"
#include "cmd/web_load.h"
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/time.h>
#include <unistd.h>

#define SERVE_WORKERS 2
/* Threads for the checks at the end of DATA: they wait on DNS, not on the CPU. */
#define SERVE_CHECK_WORKERS 4
#define SERVE_DRAIN_MS 5000
/* Descriptors beyond max_connections: outbound SMTP (200), queue and Maildir
 * files of the disk workers, DNS, listeners, the log, inotify, the control socket. */
#define SERVE_FDS_RESERVED 320

struct serve {
    struct serve_reload *reload; /* holds the settings in force */
    struct event_base *base;
    struct smtp_server *smtp;
    struct pop3_server *pop3;
    struct event *drain;
    struct timeval drain_deadline;
};

static void serve_on_drain(evutil_socket_t fd, short what, void *arg)
{
    struct serve *sv = arg;
    struct timeval now;
    (void)fd;
    (void)what;
    gettimeofday(&now, NULL);
    if (smtp_server_sessions(sv->smtp) == 0 || timercmp(&now, &sv->drain_deadline, >))
        event_base_loopbreak(sv->base);
}

static void serve_on_signal(evutil_socket_t sig, short what, void *arg)
{
    struct serve *sv = arg;
    (void)what;
    if (sv->drain)
        return;
    log_info("signal %d: shutting down", (int)sig);
    service_notify_stopping();
    smtp_server_shutdown(sv->smtp);
    struct timeval now, d = {SERVE_DRAIN_MS / 1000, 0}, tick = {0, 20000};
    gettimeofday(&now, NULL);
    timeradd(&now, &d, &sv->drain_deadline);
    sv->drain = event_new(sv->base, -1, EV_PERSIST, serve_on_drain, sv);
    event_add(sv->drain, &tick);
}

/* The end of a reload a signal asked for: the service manager sees READY=1 again. */
static void serve_on_reloaded(void *arg, int ok, const char *text)
{
    (void)arg;
    (void)text; /* logged by serve_reload */
    service_notify_ready(ok ? "reloaded" : "reload failed, running with the old settings");
}

/* SIGHUP (logrotate's postrotate, systemctl reload): reopen log_file, re-read
 * the config, keep serving; the service manager sees RELOADING=1 then READY=1. */
static void serve_on_hangup(evutil_socket_t sig, short what, void *arg)
{
    struct serve *sv = arg;
    const struct conf *c = serve_reload_conf(sv->reload);
    (void)what;
    service_notify_reloading();
    int r = log_reopen();
    if (r > 0)
        log_info("signal %d: reopened log file %s", (int)sig, c->log_file);
    else if (r == 0)
        log_info("signal %d: logging to %s, nothing to reopen", (int)sig,
                 c->log_file ? c->log_file : "stderr");
    else
        log_err("signal %d: cannot reopen log file %s: %s (still writing to the old one)",
                (int)sig, c->log_file, strerror(errno));
    serve_reload_ask(sv->reload, serve_on_reloaded, sv);
}

/*
 * Raises the descriptor limit to its hard limit and checks that
 * max_connections fits in it, with room for the outbound connections and
 * the files of the queue and the mailboxes. -1 (said on stderr) if not.
 */
static int serve_fd_limit(const struct conf *c)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) < 0)
        return 0;
    if (rl.rlim_cur != rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        if (setrlimit(RLIMIT_NOFILE, &rl) < 0)
            getrlimit(RLIMIT_NOFILE, &rl);
    }
    rlim_t need = (rlim_t)c->max_connections + SERVE_FDS_RESERVED;
    if (rl.rlim_cur == RLIM_INFINITY || rl.rlim_cur >= need)
        return 0;
    if (c->line_max_connections)
        fprintf(stderr, "%s:%u: ", c->path, c->line_max_connections);
    else
        fprintf(stderr, "%s: ", c->path ? c->path : "postino");
    fprintf(stderr, "max_connections %u needs %llu file descriptors (%d kept for outbound "
            "connections, queue and mailbox files), but the limit is %llu: raise it "
            "(ulimit -n, LimitNOFILE=) or lower max_connections\n",
            c->max_connections, (unsigned long long)need, SERVE_FDS_RESERVED,
            (unsigned long long)rl.rlim_cur);
    return -1;
}

static int serve_usage(int status)
{
    fprintf(status ? stderr : stdout, "usage: postino serve [-c FILE]\n");
    return status;
}

static int serve_args(int argc, char **argv, const char **conf_path)
{
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "-c") == 0 && i + 1 < argc)
            *conf_path = argv[++i];
        else if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0)
            return serve_usage(0) + 1;
        else
            return -1;
    }
    return 0;
}

/* The services, started in order; NULL members after the first that failed. */
struct serve_parts {
    struct queue q;
    struct diskq *dq;
    struct diskq *checkq;       /* the message checks at the end of DATA (DNS-bound) */
    struct sched *sched;
    struct mx_resolver *mx;
    SSL_CTX *tls_client, *tls_server;
    struct smtpc *smtpc;
    struct connlimit *limits;
    struct metricsd *metrics;
    struct web_module *web;     /* the Web reader, loaded when configured */
    struct control *control;
    struct pickup *pickup;
    struct track *track;        /* the tracking store, NULL if it cannot be opened */
};

/* Makes every service and binds the listeners (still root). 0, or -1 (logged). */
static int serve_start(struct serve *sv, struct serve_parts *p, const struct conf *c)
{
    if (!(p->dq = diskq_new(sv->base, SERVE_WORKERS)) ||
        !(p->checkq = diskq_new_pool(sv->base, SERVE_CHECK_WORKERS, 1)) ||
        !(p->sched = sched_new(sv->base, c, &p->q, p->dq)) ||
        !(p->mx = mx_resolver_new(sv->base, c)) ||
        !(p->tls_client = tls_client_ctx(c->tls_ca_file)) ||
        (c->tls_cert && !(p->tls_server = tls_server_ctx(c))) ||
        !(p->smtpc = smtpc_new(sv->base, c, p->mx, p->tls_client)))
        return -1;
    sched_set_client(p->sched, p->smtpc);
    p->limits = connlimit_new(c->max_connections, c->max_connections_per_ip);
    if (!(sv->smtp = smtp_server_new(sv->base, c, p->tls_server, &p->q, p->dq, p->sched,
                                     p->limits)) ||
        !(sv->pop3 = pop3_server_new(sv->base, c, p->tls_server, p->dq, p->limits)) ||
        !(p->metrics = metricsd_new(sv->base, c, sched_metrics_gauges, p->sched)))
        return -1;
    struct webd_deps wd = {.q = &p->q, .dq = p->dq, .sched = p->sched, .limits = p->limits};
    if (!(p->web = web_load(sv->base, c, p->tls_server, &wd)))
        return -1;
    smtp_server_set_filters(sv->smtp, p->checkq, NULL);
    struct serve_services svc = {.smtp = sv->smtp, .pop3 = sv->pop3, .web = p->web,
                                 .sched = p->sched,
                                 .smtpc = p->smtpc, .mx = p->mx, .limits = p->limits};
    sv->reload = serve_reload_new(p->dq, c, &svc);
    return 0;
}

/* On a loader thread before the queue is read: the files are run_as's once the walker ends. */
static int serve_wait_walker(void *arg)
{
    return privilege_walker_wait(*(pid_t *)arg);
}

/* As run_as: the queue, the drop folder, the control sockets, then mail flows. 0 or -1. */
static int serve_open_queue(struct serve *sv, struct serve_parts *p, const struct conf *c)
{
    /* 0711: local users reach the drop directory (mail/maildrop.h), nothing else */
    if (fsio_mkdir_p(c->data_dir, 0711) < 0 || queue_init(&p->q, c->data_dir) < 0) {
        log_err("data_dir %s: %s", c->data_dir, strerror(errno));
        return -1;
    }
    /* as run_as, so that track.db belongs to it; mail flows without it if it cannot open */
    if ((p->track = track_open(c->data_dir, c->track_retention_ms))) {
        track_feed_set(p->track);
        smtp_server_set_filters(sv->smtp, p->checkq, p->track);
    }
    /* before sched_load: a drop file already queued is removed before delivery starts */
    if (!(p->pickup = pickup_new(sv->base, c, &p->q, p->dq, p->sched)))
        return -1;
    serve_reload_set_pickup(sv->reload, p->pickup);
    static pid_t walker;
    walker = privilege_walker();
    if (sched_load(p->sched, walker > 0 ? serve_wait_walker : NULL, &walker) < 0) {
        log_err("queue: scan failed: %s", strerror(errno));
        return -1;
    }
    pickup_start(p->pickup);
    struct control_reload_hook hook = serve_reload_hook(sv->reload);
    return (p->control = control_new(sv->base, c, p->sched, p->dq, &hook)) ? 0 : -1;
}

/* Order matters: stop new work, cancel outbound deliveries (their finished
 * outcomes are recorded by urgent disk jobs), then let the disk workers finish. */
static void serve_stop(struct serve *sv, struct serve_parts *p)
{
    control_free(p->control);
    privilege_walker_stop(); /* a walk still running ends (the next start finishes it) */
    serve_reload_stop(sv->reload);
    pickup_stop(p->pickup);
    web_load_free(p->web); /* its workers finish; composed mail in flight is committed */
    p->web = NULL;
    if (p->sched)
        sched_stop(p->sched);
    if (p->smtpc)
        smtpc_stop(p->smtpc);
    mx_resolver_free(p->mx);
    smtpc_free(p->smtpc);
    diskq_free(p->checkq); /* checks in flight end; their completions submit commits */
    diskq_free(p->dq); /* finishes commits and records in flight, runs their completions */
    track_feed_set(NULL);
    track_close(p->track); /* writes what the work above recorded */
    serve_reload_free(sv->reload);
    pickup_free(p->pickup);
    metricsd_free(p->metrics);
    pop3_server_free(sv->pop3);
    smtp_server_free(sv->smtp);
    connlimit_free(p->limits);
    sched_free(p->sched);
    if (p->tls_client)
        SSL_CTX_free(p->tls_client);
    SSL_CTX_free(p->tls_server);
    queue_fini(&p->q);
}

static int serve_run(const struct conf *c)
{
    struct serve sv = {0};
    struct serve_parts p = {0};
    int status = 1;
    /* The changelist folds the enable/disable pairs of each loop turn into one epoll_ctl. */
    struct event_config *cfg = event_config_new();
    event_config_set_flag(cfg, EVENT_BASE_FLAG_EPOLL_USE_CHANGELIST);
    sv.base = event_base_new_with_config(cfg);
    event_config_free(cfg);
    struct event *sigterm = evsignal_new(sv.base, SIGTERM, serve_on_signal, &sv);
    struct event *sigint = evsignal_new(sv.base, SIGINT, serve_on_signal, &sv);
    struct event *sighup = evsignal_new(sv.base, SIGHUP, serve_on_hangup, &sv);
    event_add(sigterm, NULL);
    event_add(sigint, NULL);
    event_add(sighup, NULL);
    if (serve_start(&sv, &p, c) < 0)
        ;
    else if (privilege_drop(c) < 0) /* listeners bound, TLS key read: drop root */
        status = EXIT_CONFIG_ERROR;
    else if (cmd_check_keys(c) < 0) /* as run_as: the signing keys are read on each use */
        status = EXIT_CONFIG_ERROR;
    else if (serve_open_queue(&sv, &p, c) == 0) {
        log_info("postino ready: hostname %s, data_dir %s", c->hostname, c->data_dir);
        service_notify_ready("accepting mail");
        event_base_dispatch(sv.base);
        status = 0;
    }
    serve_stop(&sv, &p);
    if (sv.drain)
        event_free(sv.drain);
    event_free(sigterm);
    event_free(sigint);
    event_free(sighup);
    event_base_free(sv.base);
    log_info("postino stopped");
    return status;
}

int cmd_serve(int argc, char **argv)
{
    const char *path = NULL;
    int a = serve_args(argc, argv, &path);
    if (a > 0)
        return 0;
    if (a < 0)
        return serve_usage(EXIT_CONFIG_ERROR);
    struct conf *c = cmd_new_conf(path);
    if (!c)
        return EXIT_CONFIG_ERROR;
    signal(SIGPIPE, SIG_IGN);
    int status = EXIT_CONFIG_ERROR;
    if (serve_fd_limit(c) < 0)
        ;
    else if (log_open(c->log_file) < 0)
        fprintf(stderr, "postino: log_file %s: %s\n", c->log_file, strerror(errno));
    else {
        enum log_format lf = LOG_FORMAT_TEXT;
        log_format_parse(c->log_format, &lf); /* the config accepted only text or json */
        log_set_format(lf);
        status = serve_run(c);
    }
    conf_release(c);
    return status;
}
