/*
 * smtp_client: outbound SMTP deliveries (see smtp_client.h). This file owns
 * destinations, connections and the target list; smtp_client_tx.c speaks
 * the protocol of one connection. Never blocks: DNS through smtpc/mx, every
 * socket through a bufferevent with the phase's timeout.
 */
#include "smtpc/smtp_client_conn.h"
#include "proto/esc.h"
#include "lib/alloc.h"
#include "lib/dur.h"
#include "lib/log.h"
#include "lib/str.h"
#include "net/tls.h"
#include <arpa/inet.h>
#include <errno.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <stdlib.h>
#include <string.h>

/* Gives every undecided recipient of d the outcome klass/text (postino's own) and
 * completes d. */
/* A delivery the stopping server gives up: deferred, 4.3.2 (RFC 3463 3.5). */
static void smtpc_finish_shutdown(struct smtpc_delivery *d)
{
    char why[64];
    esc_reason(why, sizeof why, 4, ESC_NOT_ACCEPTING, "shutting down");
    smtpc_finish(d, 4, why);
}

void smtpc_finish(struct smtpc_delivery *d, int klass, const char *text)
{
    for (size_t i = 0; i < d->n; i++)
        if (d->out[i].klass == 0) {
            d->out[i].klass = klass;
            d->out[i].from_server = 0;
            str_copy(d->out[i].reply, sizeof d->out[i].reply, text);
        }
    d->done(d);
}

static void smtpc_conn_free(struct smtpc_conn *c)
{
    struct smtpc *sc = c->sc;
    if (c->bev)
        bufferevent_free(c->bev);
    free(c->targets);
    smtp_reply_free(&c->reply);
    if (c->prev)
        c->prev->next = c->next;
    else
        sc->conns = c->next;
    if (c->next)
        c->next->prev = c->prev;
    c->dest->n_conns--;
    sc->n_conns--;
    conf_release(c->conf);
    free(c);
}

static void smtpc_conn_reap(evutil_socket_t fd, short what, void *arg)
{
    struct smtpc_conn *c = arg;
    struct smtpc *sc = c->sc;
    (void)fd;
    (void)what;
    struct smtpc_dest *dest = c->dest;
    int was_full = sc->n_conns >= SMTPC_TOTAL;
    dest->last_used = dur_now_ms();
    smtpc_conn_free(c);
    smtpc_pump(sc, dest);
    if (was_full) /* the freed slot may serve any destination that waits (a shared limit) */
        for (struct smtpc_dest *d = sc->dests; d && sc->n_conns < SMTPC_TOTAL; d = d->next)
            smtpc_pump(sc, d);
}

/*
 * Closes the connection now and frees it from the loop right after the
 * current callback (so no caller touches freed memory); then starts another
 * connection for the destination if deliveries wait.
 */
void smtpc_conn_close(struct smtpc_conn *c)
{
    if (c->state == SMTPC_CLOSED)
        return;
    c->state = SMTPC_CLOSED;
    if (c->bev) {
        bufferevent_free(c->bev);
        c->bev = NULL;
    }
    struct timeval now = {0, 0};
    event_base_once(c->sc->base, -1, EV_TIMEOUT, smtpc_conn_reap, c, &now);
}

static void smtpc_on_mx(void *arg, const struct mx_answer *ans);

/* Starts a connection for the first waiting delivery of dest. */
static void smtpc_conn_start(struct smtpc *sc, struct smtpc_dest *dest)
{
    struct smtpc_conn *c = xcalloc(1, sizeof *c);
    c->sc = sc;
    c->conf = conf_hold(sc->conf);
    c->dest = dest;
    c->d = smtpc_dest_pop(dest);
    smtp_reply_init(&c->reply, (struct smtp_reply_limits){ .line_max = SMTPC_REPLY_BUF,
                                                           .lines_max = SMTPC_REPLY_LINES,
                                                           .text_max = SMTPC_REPLY_BUF });
    c->next = sc->conns;
    if (sc->conns)
        sc->conns->prev = c;
    sc->conns = c;
    dest->n_conns++;
    sc->n_conns++;
    c->policy = c->d->hop.tls; /* every delivery of dest has it: it is part of the key */
    c->auth = c->d->hop.relay ? conf_find_relay_auth(c->conf, c->d->hop.host, c->d->hop.port,
                                                     c->d->hop.no_mx)
                              : NULL;
    c->state = SMTPC_RESOLVING;
    mx_resolve(sc->mx, &c->d->hop, smtpc_on_mx, c);
}

void smtpc_serve(struct smtpc *sc, struct smtpc_dest *dest)
{
    for (struct smtpc_conn *c = sc->conns; c; c = c->next)
        if (c->dest == dest && c->state == SMTPC_IDLE) {
            smtpc_reuse(c);
            return;
        }
    smtpc_pump(sc, dest);
}

void smtpc_pump(struct smtpc *sc, struct smtpc_dest *dest)
{
    int64_t now = dur_now_ms();
    while (dest->wait_head && sc->n_conns < SMTPC_TOTAL && !sc->stopping &&
           smtpc_dest_may_open(dest, now))
        smtpc_conn_start(sc, dest);
}

static int smtpc_mx_klass(enum mx_status st)
{
    return (st == MX_TEMPFAIL) ? 4 : 5;
}

static void smtpc_on_mx(void *arg, const struct mx_answer *ans)
{
    struct smtpc_conn *c = arg;
    if (c->sc->stopping) {
        c->d->canceled = 1;
        smtpc_finish_shutdown(c->d);
        c->d = NULL;
        smtpc_conn_close(c);
        return;
    }
    if (ans->status != MX_OK) {
        char text[SMTPC_REPLY_MAX];
        str_fmt(text, sizeof text, "%s %s", mx_status_code(ans->status).s, ans->diag);
        log_info("smtp out: %s: %s", c->d->hop.domain, text);
        smtpc_finish(c->d, smtpc_mx_klass(ans->status), text);
        c->d = NULL;
        smtpc_conn_close(c);
        return;
    }
    c->targets = xcalloc(ans->n_targets, sizeof *c->targets);
    memcpy(c->targets, ans->targets, ans->n_targets * sizeof *c->targets);
    c->n_targets = ans->n_targets;
    c->target_i = 0;
    smtpc_connect_next(c);
}

/* "host[addr]" of the current target. */
void smtpc_target_name(const struct smtpc_conn *c, char *out, size_t size)
{
    const struct mx_target *t = &c->targets[c->target_i];
    char ip[INET6_ADDRSTRLEN] = "?";
    const void *a = t->addr.ss_family == AF_INET6
                        ? (const void *)&((const struct sockaddr_in6 *)&t->addr)->sin6_addr
                        : (const void *)&((const struct sockaddr_in *)&t->addr)->sin_addr;
    int port = ntohs(t->addr.ss_family == AF_INET6
                         ? ((const struct sockaddr_in6 *)&t->addr)->sin6_port
                         : ((const struct sockaddr_in *)&t->addr)->sin_port);
    inet_ntop(t->addr.ss_family, a, ip, sizeof ip);
    if (port == SMTPC_STANDARD_PORT)
        str_fmt(out, size, "%s[%s]", t->host, ip);
    else
        str_fmt(out, size, "%s[%s]:%d", t->host, ip, port); /* as Postfix names it */
}

void smtpc_record_remote(const struct smtpc_conn *c, struct smtpc_delivery *d)
{
    smtpc_target_name(c, d->remote, sizeof d->remote);
    str_copy(d->tls, sizeof d->tls, c->tls ? c->tls_desc : "none");
}

/*
 * The current target failed before a transaction could start: remember why
 * and try the next one; when none is left, the delivery gets the failure
 * (permanent only if every target refused with a 5xx greeting).
 */
void smtpc_target_failed(struct smtpc_conn *c, int klass, const char *why)
{
    char name[300];
    smtpc_target_name(c, name, sizeof name);
    log_info("smtp out: %s: %s", name, why);
    str_copy(c->last_error, sizeof c->last_error, why);
    c->tried++;
    if (klass == 5)
        c->refused_5xx++;
    if (c->bev) {
        bufferevent_free(c->bev);
        c->bev = NULL;
    }
    c->target_i++;
    if (c->target_i < c->n_targets) {
        smtpc_connect_next(c);
        return;
    }
    if (c->state > SMTPC_GREETING) /* the last attempt got as far as EHLO: its TLS is recorded */
        str_copy(c->d->tls, sizeof c->d->tls, c->tls_desc[0] ? c->tls_desc : "none");
    smtpc_dest_conn_failed(c, c->d);
    smtpc_finish(c->d, c->refused_5xx == c->tried ? 5 : 4, c->last_error);
    c->d = NULL;
    smtpc_conn_close(c);
}

struct smtpc *smtpc_new(struct event_base *base, const struct conf *c, struct mx_resolver *mx,
                        void *tls_client_ctx)
{
    struct smtpc *sc = xcalloc(1, sizeof *sc);
    sc->base = base;
    sc->conf = conf_hold(c);
    sc->mx = mx;
    tls_ctx_replace(&sc->tls, tls_client_ctx);
    strmap_init(&sc->dest_map);
    smtpc_later_init(sc);
    return sc;
}

void smtpc_deliver(struct smtpc *sc, struct smtpc_delivery *d)
{
    int64_t now = dur_now_ms();
    smtpc_dest_sweep(sc, now);
    struct smtpc_dest *dest = smtpc_dest_get(sc, &d->hop);
    d->remote[0] = '\0';
    d->tls[0] = '\0';
    d->peer_dsn = 0;
    d->canceled = 0;
    d->retry_after = 0;
    d->not_tried = 0;
    for (size_t i = 0; i < d->n; i++)
        d->out[i].klass = d->out[i].from_server = 0;
    dest->last_used = now;
    if (smtpc_dest_dead(dest, now)) {
        smtpc_dest_not_tried_later(sc, dest, d);
        return;
    }
    smtpc_dest_push(dest, d);
    smtpc_serve(sc, dest);
}

void smtpc_set_conf(struct smtpc *sc, const struct conf *c)
{
    conf_replace(&sc->conf, c);
}

void smtpc_set_tls(struct smtpc *sc, void *tls_client_ctx)
{
    tls_ctx_replace(&sc->tls, tls_client_ctx);
}

void smtpc_stop(struct smtpc *sc)
{
    sc->stopping = 1;
}

void smtpc_free(struct smtpc *sc)
{
    if (!sc)
        return;
    sc->stopping = 1;
    while (sc->conns) {
        struct smtpc_conn *c = sc->conns;
        if (c->d) {
            c->d->canceled = 1;
            smtpc_finish_shutdown(c->d);
            c->d = NULL;
        }
        smtpc_conn_free(c);
    }
    while (sc->dests) {
        struct smtpc_dest *dest = sc->dests;
        struct smtpc_delivery *d;
        while ((d = smtpc_dest_pop(dest))) {
            d->canceled = 1;
            smtpc_finish_shutdown(d);
        }
        smtpc_dest_free(sc, dest);
    }
    strmap_free(&sc->dest_map);
    smtpc_later_free(sc);
    conf_release(sc->conf);
    tls_ctx_replace(&sc->tls, NULL);
    free(sc);
}
