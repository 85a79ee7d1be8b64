/*
 * serve_reload: re-reading the config of a running server (see
 * serve_reload.h). Owns the settings in force, the reload job (loading on
 * a disk worker) and the waiters of the control socket.
 */
#include "cmd/serve_reload.h"
#include "lib/alloc.h"
#include "lib/buf.h"
#include "lib/log.h"
#include "lib/str.h"
#include "mail/alias.h"
#include "mail/auth.h"
#include "msgauth/dkim_sign.h"
#include "track/track.h"
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define RELOAD_ERR_MAX 4096

/* An asker waiting for the outcome of run number `run`. */
struct reload_waiter {
    control_reload_reply_fn reply;
    void *arg;
    unsigned long run;
    struct reload_waiter *next;
};

/* One run: what the worker loaded, or why it could not. */
struct reload_job {
    struct diskq_job job;
    struct serve_reload *r;
    char *path;                 /* NULL: the built-in defaults */
    struct conf *conf;          /* loaded (one reference), or NULL */
    SSL_CTX *tls;               /* the new certificate and key, or NULL */
    SSL_CTX *tls_client;        /* the new client context (tls_ca_file), or NULL */
    struct buf err;
};

struct serve_reload {
    struct diskq *dq;
    const struct conf *conf;    /* in force (held) */
    struct serve_services svc;
    struct reload_waiter *waiters;
    unsigned long runs;         /* runs started */
    int running;                /* a run is in flight */
    int again;                  /* asked for during the run: one more after it */
    int stopping;
};

/* write stage (a disk worker): loads the file and the files it names. */
static void reload_load(struct diskq_job *j)
{
    struct reload_job *rj = j->ctx;
    rj->conf = conf_new(rj->path, &rj->err);
    if (!rj->conf)
        return;
    if (dkim_sign_check_keys(rj->conf, &rj->err) < 0) {
        conf_release(rj->conf);
        rj->conf = NULL;
        return;
    }
    if (!(rj->tls_client = tls_client_ctx(rj->conf->tls_ca_file))) {
        buf_printf(&rj->err, "%s: tls_ca_file %s: cannot be loaded (the log says why)",
                   rj->path ? rj->path : "built-in defaults",
                   rj->conf->tls_ca_file ? rj->conf->tls_ca_file : "(the system store)");
        conf_release(rj->conf);
        rj->conf = NULL;
        return;
    }
    if (!rj->conf->tls_cert)
        return;
    if (!(rj->tls = tls_server_ctx(rj->conf))) {
        buf_printf(&rj->err, "%s: tls_cert %s / tls_key %s: cannot be loaded (the log says why)",
                   rj->path ? rj->path : "built-in defaults", rj->conf->tls_cert,
                   rj->conf->tls_key);
        conf_release(rj->conf);
        rj->conf = NULL;
    }
}

static void reload_start(struct serve_reload *r);

/* Answers the waiters of run `run` and forgets them. */
static void reload_answer(struct serve_reload *r, unsigned long run, int ok, const char *text)
{
    struct reload_waiter **p = &r->waiters;
    while (*p) {
        struct reload_waiter *w = *p;
        if (w->run != run) {
            p = &w->next;
            continue;
        }
        *p = w->next;
        control_reload_reply_fn reply = w->reply;
        void *arg = w->arg;
        free(w);
        reply(arg, ok, text); /* may call serve_reload_forget: w is out of the list */
    }
}

/* Keys only a restart changes keep their running values; says which ones changed. */
static void reload_keep_restart_keys(const struct conf *running, struct conf *c)
{
    char changed[256];
    conf_keep_restart_keys(c, running, changed, sizeof changed);
    if (changed[0])
        log_warn("reload: %s changed in %s: not applied, a restart is needed (running with "
                 "the old value)", changed, c->path ? c->path : "built-in defaults");
}

/* Hands c and tls to every service; c is in force from now on. */
static void reload_apply(struct serve_reload *r, struct conf *c, SSL_CTX *tls,
                         SSL_CTX *tls_client)
{
    const struct serve_services *s = &r->svc;
    reload_keep_restart_keys(r->conf, c);
    smtp_server_set_conf(s->smtp, c, tls);
    pop3_server_set_conf(s->pop3, c, tls);
    web_load_set_conf(s->web, c, tls);
    sched_set_conf(s->sched, c);
    smtpc_set_conf(s->smtpc, c);
    smtpc_set_tls(s->smtpc, tls_client);
    if (s->pickup)
        pickup_set_conf(s->pickup, c);
    mx_resolver_set_hostname(s->mx, c->hostname);
    track_set_retention(track_feed(), c->track_retention_ms);
    connlimit_set_per_ip(s->limits, c->max_connections_per_ip);
    enum log_format lf = LOG_FORMAT_TEXT;
    log_format_parse(c->log_format, &lf); /* the config accepted only text or json */
    log_set_format(lf);
    conf_release(r->conf);
    r->conf = c; /* the job's reference */
}

/* done (the loop thread): applies the loaded settings, or keeps the running ones. */
static void reload_done(struct diskq_job *j)
{
    struct reload_job *rj = j->ctx;
    struct serve_reload *r = rj->r;
    unsigned long run = r->runs;
    char text[CONTROL_ANSWER_MAX - 8];
    int ok = 0;
    r->running = 0;
    if (j->failed || r->stopping) {
        str_copy(text, sizeof text, "busy: the server is shutting down");
    } else if (!rj->conf) {
        str_copy(text, sizeof text, buf_cstr(&rj->err));
        log_err("reload: %s; still running with the settings it had", text);
    } else {
        ok = 1;
        str_fmt(text, sizeof text, "reloaded %s: %zu users, %zu aliases",
                rj->conf->path ? rj->conf->path : "built-in defaults",
                rj->conf->users ? users_count(rj->conf->users) : 0,
                rj->conf->aliases ? aliases_count(rj->conf->aliases) : 0);
        reload_apply(r, rj->conf, rj->tls, rj->tls_client);
        rj->conf = NULL;
        log_info("reload: %s; new sessions use them", text);
    }
    conf_release(rj->conf);
    SSL_CTX_free(rj->tls);
    SSL_CTX_free(rj->tls_client);
    buf_free(&rj->err);
    free(rj->path);
    diskq_job_release(&rj->job);
    free(rj);
    reload_answer(r, run, ok, text);
    if (r->again && !r->stopping) {
        r->again = 0;
        reload_start(r);
    }
}

static void reload_start(struct serve_reload *r)
{
    struct reload_job *rj = xcalloc(1, sizeof *rj);
    rj->r = r;
    rj->path = r->conf->path ? xstrdup(r->conf->path) : NULL;
    buf_init(&rj->err, RELOAD_ERR_MAX);
    rj->job.write = reload_load;
    rj->job.done = reload_done;
    rj->job.ctx = rj;
    r->running = 1;
    r->runs++;
    log_info("reload: reading %s", rj->path ? rj->path : "the built-in defaults");
    diskq_submit(r->dq, &rj->job, DISKQ_NORMAL);
}

void serve_reload_ask(void *arg, control_reload_reply_fn reply, void *reply_arg)
{
    struct serve_reload *r = arg;
    if (r->stopping) {
        if (reply)
            reply(reply_arg, 0, "busy: the server is shutting down");
        return;
    }
    if (reply) {
        struct reload_waiter *w = xcalloc(1, sizeof *w);
        w->reply = reply;
        w->arg = reply_arg;
        w->run = r->runs + 1; /* the next run, which reads the file as it is now */
        w->next = r->waiters;
        r->waiters = w;
    }
    if (r->running)
        r->again = 1;
    else
        reload_start(r);
}

void serve_reload_forget(void *arg, void *reply_arg)
{
    struct serve_reload *r = arg;
    for (struct reload_waiter **p = &r->waiters; *p; p = &(*p)->next)
        if ((*p)->arg == reply_arg) {
            struct reload_waiter *w = *p;
            *p = w->next;
            free(w);
            return;
        }
}

struct control_reload_hook serve_reload_hook(struct serve_reload *r)
{
    return (struct control_reload_hook){.ask = serve_reload_ask, .forget = serve_reload_forget,
                                        .arg = r};
}

struct serve_reload *serve_reload_new(struct diskq *dq, const struct conf *running,
                                      const struct serve_services *services)
{
    struct serve_reload *r = xcalloc(1, sizeof *r);
    r->dq = dq;
    r->conf = conf_hold(running);
    r->svc = *services;
    return r;
}

void serve_reload_set_pickup(struct serve_reload *r, struct pickup *p)
{
    r->svc.pickup = p;
}

const struct conf *serve_reload_conf(const struct serve_reload *r)
{
    return r->conf;
}

void serve_reload_stop(struct serve_reload *r)
{
    if (r)
        r->stopping = 1;
}

void serve_reload_free(struct serve_reload *r)
{
    if (!r)
        return;
    while (r->waiters) {
        struct reload_waiter *w = r->waiters;
        r->waiters = w->next;
        free(w);
    }
    conf_release(r->conf);
    free(r);
}
