/*
 * webd_server: the Web reader's listeners and requests (see webd.h,
 * webd_int.h). evhttp parses HTTP; this file binds the listeners (webs:
 * bufferevent_openssl), counts connections toward max_connections, decodes
 * the path, query and form, finds the session, checks origin and CSRF
 * token, routes, adds the security headers to every answer, and runs
 * blocking work on the web workers.
 */
#include "webd/webd_int.h"
#include "lib/alloc.h"
#include "lib/log.h"
#include "lib/str.h"
#include "net/connlimit.h"
#include "net/netconn.h"
#include "net/tls.h"
#include "proto/html_clean.h"
#include <errno.h>
#include <gmime/gmime.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/queue.h>
#include <sys/socket.h>

#define WEBD_WORKERS 2
#define WEBD_HEADERS_MAX 16384
#define WEBD_TIMEOUT_S 60
#define WEBD_SWEEP_S 60
#define WEBD_FORM_MAX (1024 * 1024)  /* a urlencoded form (a composed body is multipart) */

#define GET (EVHTTP_REQ_GET | EVHTTP_REQ_HEAD)
#define POST EVHTTP_REQ_POST
enum { WEBD_LOGIN_NEEDED = 1, WEBD_CSRF = 2 };

static const struct webd_route {
    unsigned methods;
    const char *path;
    int prefix;                 /* path is a prefix ending in '/' */
    unsigned flags;
    webd_fn fn;
} webd_routes[] = {
    {GET, "/", 0, 0, webd_login_form},
    {POST, "/", 0, 0, webd_login},
    {POST, "/login", 0, 0, webd_login},
    {GET | POST, "/logout", 0, 0, webd_logout},
    {GET, "/style.css", 0, 0, webd_style},
    {GET, "/inbox", 0, WEBD_LOGIN_NEEDED, webd_inbox},
    {POST, "/msg/", 1, WEBD_LOGIN_NEEDED | WEBD_CSRF, webd_msg_delete},
    {GET, "/msg/", 1, WEBD_LOGIN_NEEDED, webd_msg},
    {GET, "/compose", 0, WEBD_LOGIN_NEEDED, webd_compose},
    {POST, "/compose", 0, WEBD_LOGIN_NEEDED | WEBD_CSRF, webd_compose},
    {GET, "/sent", 0, WEBD_LOGIN_NEEDED, webd_sent},
    {GET, "/sent/", 1, WEBD_LOGIN_NEEDED, webd_sent},
};

/* ---- connections counted toward max_connections (first request to close) ---- */

struct webd_conn {
    struct evhttp_connection *evcon;
    char ip[64];
};
struct webd_conns {
    struct webd_conn *v;
    size_t n, cap;
};

static struct webd_conn *webd_conn_find(struct webd *w, struct evhttp_connection *evcon)
{
    for (size_t i = 0; i < w->conns->n; i++)
        if (w->conns->v[i].evcon == evcon)
            return &w->conns->v[i];
    return NULL;
}

static void webd_on_conn_close(struct evhttp_connection *evcon, void *arg)
{
    struct webd *w = arg;
    struct webd_conn *c = webd_conn_find(w, evcon);
    if (!c)
        return;
    connlimit_leave(w->deps.limits, c->ip);
    *c = w->conns->v[--w->conns->n];
}

/* 0 if the request's connection is (now) counted, -1 over a limit. */
static int webd_conn_admit(struct webd *w, struct webd_req *r)
{
    struct evhttp_connection *evcon = evhttp_request_get_connection(r->req);
    if (!evcon || !w->deps.limits || webd_conn_find(w, evcon))
        return 0;
    if (connlimit_admit(w->deps.limits, r->ip, 0) < 0)
        return -1;
    struct webd_conns *cs = w->conns;
    if (cs->n == cs->cap) {
        cs->cap = cs->cap ? cs->cap * 2 : 16;
        cs->v = xrealloc(cs->v, cs->cap * sizeof *cs->v);
    }
    cs->v[cs->n].evcon = evcon;
    str_copy(cs->v[cs->n].ip, sizeof cs->v[cs->n].ip, r->ip);
    cs->n++;
    evhttp_connection_set_closecb(evcon, webd_on_conn_close, w);
    return 0;
}

/* ---- answering ---- */

static void webd_req_free(struct webd_req *r)
{
    evhttp_clear_headers(&r->query);
    evhttp_clear_headers(&r->form);
    if (r->data_free)
        r->data_free(r->data);
    buf_free(&r->page);
    conf_release(r->conf);
    explicit_bzero(&r->box, sizeof r->box);
    free(r);
}

#define WEBD_CSP "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; " \
                 "frame-src 'self'; frame-ancestors 'none'; base-uri 'none'"

static void webd_security_headers(struct webd_req *r, struct evkeyvalq *h)
{
    evhttp_add_header(h, "Content-Security-Policy", r->csp ? r->csp : WEBD_CSP);
    evhttp_add_header(h, "X-Frame-Options", r->framable ? "SAMEORIGIN" : "DENY");
    evhttp_add_header(h, "Referrer-Policy", "no-referrer");
    evhttp_add_header(h, "X-Content-Type-Options", "nosniff");
    evhttp_add_header(h, "Cache-Control", "no-store");
    if (r->https)
        evhttp_add_header(h, "Strict-Transport-Security", "max-age=31536000");
}

void webd_send_body(struct webd_req *r, int status, const char *reason, struct evbuffer *body,
                    const char *ctype, const char *const *headers)
{
    struct evkeyvalq *h = evhttp_request_get_output_headers(r->req);
    evhttp_add_header(h, "Content-Type", ctype);
    for (size_t i = 0; headers && headers[i] && headers[i + 1]; i += 2)
        evhttp_add_header(h, headers[i], headers[i + 1]);
    webd_security_headers(r, h);
    evhttp_send_reply(r->req, status, reason, body);
    if (body)
        evbuffer_free(body);
    webd_req_free(r);
}

void webd_send_page(struct webd_req *r, int status, const char *reason)
{
    struct evbuffer *body = evbuffer_new();
    if (r->page.len)
        evbuffer_add(body, r->page.data, r->page.len);
    webd_send_body(r, status, reason, body, "text/html; charset=utf-8", NULL);
}

void webd_send_error(struct webd_req *r, int status, const char *reason, const char *words)
{
    buf_reset(&r->page);
    webd_page_begin(r, reason);
    webd_page_printf(r, "<p class=\"error\">");
    webd_page_esc(r, words);
    webd_page_printf(r, "</p>\n<p><a href=\"%s\">Back</a></p>\n", r->logged_in ? "/inbox" : "/");
    webd_page_end(r);
    webd_send_page(r, status, reason);
}

void webd_send_redirect(struct webd_req *r, const char *location)
{
    const char *const hdr[] = {"Location", location, NULL};
    webd_send_body(r, 303, "See Other", NULL, "text/html; charset=utf-8", hdr);
}

/* ---- deferred work ---- */

static void webd_job_work(struct diskq_job *j)
{
    struct webd_req *r = j->ctx;
    r->work(r);
}

static void webd_job_done(struct diskq_job *j)
{
    struct webd_req *r = j->ctx;
    diskq_job_release(j);
    r->done(r);
}

void webd_defer(struct webd_req *r, webd_fn work, webd_fn done)
{
    memset(&r->job, 0, sizeof r->job);
    r->work = work;
    r->done = done;
    r->job.write = webd_job_work;
    r->job.done = webd_job_done;
    r->job.ctx = r;
    diskq_submit(r->w->wq, &r->job, DISKQ_NORMAL);
}

const char *webd_form(const struct webd_req *r, const char *name)
{
    return evhttp_find_header(&r->form, name);
}

const char *webd_query(const struct webd_req *r, const char *name)
{
    return evhttp_find_header(&r->query, name);
}

/* ---- a request ---- */

/* Who is asking and how: address, loopback, HTTPS. */
static void webd_req_peer(struct webd_req *r)
{
    struct evhttp_connection *evcon = evhttp_request_get_connection(r->req);
    struct bufferevent *bev = evcon ? evhttp_connection_get_bufferevent(evcon) : NULL;
    struct sockaddr_storage ss;
    socklen_t len = sizeof ss;
    str_copy(r->ip, sizeof r->ip, "unknown");
    if (!bev)
        return;
    r->https = bufferevent_openssl_get_ssl(bev) != NULL;
    if (getpeername(bufferevent_getfd(bev), (struct sockaddr *)&ss, &len) == 0) {
        netconn_peer((struct sockaddr *)&ss, r->ip, sizeof r->ip);
        r->loopback = netconn_is_loopback((struct sockaddr *)&ss);
    }
}

/* The path, query and (urlencoded) form, decoded. 0, or -1 for a bad request. */
static int webd_req_parse(struct webd_req *r)
{
    const struct evhttp_uri *uri = evhttp_request_get_evhttp_uri(r->req);
    const char *raw = uri ? evhttp_uri_get_path(uri) : NULL;
    size_t n = 0;
    char *path = raw ? evhttp_uridecode(raw, 0, &n) : NULL;
    int ok = path && n == strlen(path) && path[0] == '/' &&
             str_copy(r->path, sizeof r->path, path) == 0;
    free(path);
    const char *q = uri ? evhttp_uri_get_query(uri) : NULL;
    if (!ok || (q && evhttp_parse_query_str(q, &r->query) < 0))
        return -1;
    const char *ctype = evhttp_find_header(evhttp_request_get_input_headers(r->req),
                                           "Content-Type");
    struct evbuffer *in = evhttp_request_get_input_buffer(r->req);
    size_t len = evbuffer_get_length(in);
    if (r->method != EVHTTP_REQ_POST || !ctype ||
        !str_iprefix(ctype, "application/x-www-form-urlencoded"))
        return 0;
    if (len > WEBD_FORM_MAX)
        return -1;
    char *body = xmalloc(len + 1);
    evbuffer_copyout(in, body, len);
    body[len] = '\0';
    int r2 = strlen(body) == len ? evhttp_parse_query_str(body, &r->form) : -1;
    free(body);
    return r2;
}

/* A POST must come from our own pages: an Origin header, when it names one,
 * names this host. Our pages are sent with Referrer-Policy: no-referrer, under
 * which a browser sends "Origin: null" with their own forms: "null" tells
 * nothing (a foreign page can cause it too), so it counts as absent, and then
 * Sec-Fetch-Site, when the browser sends it, must not say another site. The
 * CSRF token remains the check of every form that changes something. */
static int webd_origin_ok(const struct webd_req *r)
{
    const struct evkeyvalq *in = evhttp_request_get_input_headers(r->req);
    const char *origin = evhttp_find_header(in, "Origin");
    const char *host = evhttp_find_header(in, "Host");
    if (!origin || strcmp(origin, "null") == 0) {
        const char *site = evhttp_find_header(in, "Sec-Fetch-Site");
        return !site || strcmp(site, "same-origin") == 0 || strcmp(site, "none") == 0;
    }
    const char *scheme = r->https ? "https://" : "http://";
    size_t sl = strlen(scheme);
    return host && strncasecmp(origin, scheme, sl) == 0 && strcasecmp(origin + sl, host) == 0;
}

static const struct webd_route *webd_route_find(struct webd_req *r, int *path_known)
{
    *path_known = 0;
    for (size_t i = 0; i < sizeof webd_routes / sizeof webd_routes[0]; i++) {
        const struct webd_route *rt = &webd_routes[i];
        size_t pl = strlen(rt->path);
        int match = rt->prefix ? strncmp(r->path, rt->path, pl) == 0 && r->path[pl]
                               : strcmp(r->path, rt->path) == 0;
        if (!match)
            continue;
        *path_known = 1;
        if (rt->methods & (unsigned)r->method) {
            r->rest = r->path + (rt->prefix ? pl : strlen(r->path));
            return rt;
        }
    }
    return NULL;
}

static void webd_dispatch(struct webd_req *r)
{
    int known;
    const struct webd_route *rt = webd_route_find(r, &known);
    if (!rt) {
        if (known)
            webd_send_error(r, 405, "Method Not Allowed", "This page cannot be asked for that way.");
        else
            webd_send_error(r, 404, "Not Found", "There is no such page.");
        return;
    }
    if (r->method == EVHTTP_REQ_POST && !webd_origin_ok(r)) {
        webd_send_error(r, 403, "Forbidden", "This form was sent from another site.");
        return;
    }
    if ((rt->flags & WEBD_LOGIN_NEEDED) && !r->logged_in) {
        if (r->method == EVHTTP_REQ_POST)
            webd_send_error(r, 403, "Forbidden",
                            "Your session has ended (logged out or idle too long): log in again.");
        else
            webd_send_redirect(r, "/");
        return;
    }
    if ((rt->flags & WEBD_CSRF) && !webd_csrf_ok(r)) {
        webd_send_error(r, 403, "Forbidden",
                        "This form is not from this session (a missing or wrong token): "
                        "open the page again and resend it.");
        return;
    }
    rt->fn(r);
}

static void webd_on_request(struct evhttp_request *req, void *arg)
{
    struct webd *w = arg;
    struct webd_req *r = xcalloc(1, sizeof *r);
    r->w = w;
    r->req = req;
    r->conf = conf_hold(w->conf);
    r->method = evhttp_request_get_command(req);
    TAILQ_INIT(&r->query);
    TAILQ_INIT(&r->form);
    buf_init(&r->page, WEBD_PAGE_MAX);
    webd_req_peer(r);
    if (webd_conn_admit(w, r) < 0) {
        evhttp_add_header(evhttp_request_get_output_headers(req), "Connection", "close");
        log_warn("web: %s: too many connections", r->ip);
        webd_send_error(r, 503, "Service Unavailable", "Too many connections: try again later.");
        return;
    }
    if (webd_req_parse(r) < 0) {
        webd_send_error(r, 400, "Bad Request", "The request could not be read.");
        return;
    }
    struct webd_session *s = webd_session_find(w, req);
    if (s && !users_lookup(r->conf->users, s->box.local, s->box.domain)) {
        log_info("web: %s: session of %s ended: no longer in the users file", r->ip, s->box.addr);
        webd_session_end(w, s); /* removed by a reload */
        s = NULL;
    }
    if (s) {
        r->logged_in = 1;
        r->box = s->box;
        str_copy(r->csrf, sizeof r->csrf, s->csrf);
    }
    webd_dispatch(r);
}

/* ---- listeners ---- */

static struct bufferevent *webd_bev_tls(struct event_base *base, void *arg)
{
    struct webd *w = arg;
    SSL *ssl = w->tls_ctx ? tls_server_new(w->tls_ctx) : NULL;
    if (!ssl)
        return bufferevent_socket_new(base, -1, BEV_OPT_CLOSE_ON_FREE);
    return bufferevent_openssl_socket_new(base, -1, ssl, BUFFEREVENT_SSL_ACCEPTING,
                                          BEV_OPT_CLOSE_ON_FREE);
}

static struct evhttp *webd_http_new(struct webd *w, int tls)
{
    struct evhttp *h = evhttp_new(w->base);
    evhttp_set_allowed_methods(h, EVHTTP_REQ_GET | EVHTTP_REQ_HEAD | EVHTTP_REQ_POST |
                                      EVHTTP_REQ_PUT | EVHTTP_REQ_DELETE | EVHTTP_REQ_OPTIONS);
    evhttp_set_gencb(h, webd_on_request, w);
    evhttp_set_max_headers_size(h, WEBD_HEADERS_MAX);
    /* a composed message with attachments, base64 in a form: a third more */
    uint64_t body = w->conf->max_message_size / 3 * 4 + 64 * 1024;
    evhttp_set_max_body_size(h, (ev_ssize_t)(body < WEBD_FORM_MAX ? WEBD_FORM_MAX : body));
    evhttp_set_timeout(h, WEBD_TIMEOUT_S);
    if (tls)
        evhttp_set_bevcb(h, webd_bev_tls, w);
    return h;
}

static int webd_listen(struct webd *w, const struct listen_spec *ls)
{
    int tls = ls->kind == LISTEN_WEBS;
    struct evhttp **slot = tls ? &w->https : &w->http;
    if (!*slot)
        *slot = webd_http_new(w, tls);
    if (evhttp_bind_socket(*slot, ls->addr, (ev_uint16_t)ls->port) < 0) {
        log_err("listen %s %s:%d: cannot bind: %s", conf_listen_kind_name(ls->kind), ls->addr,
                ls->port, strerror(errno));
        return -1;
    }
    log_info("web: listening on %s %s:%d", tls ? "https" : "http", ls->addr, ls->port);
    return 0;
}

static void webd_on_sweep(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    webd_session_sweep(arg);
}

struct webd *webd_new(struct event_base *base, const struct conf *c, SSL_CTX *tls_ctx,
                      const struct webd_deps *deps)
{
    struct webd *w = xcalloc(1, sizeof *w);
    w->base = base;
    w->deps = *deps;
    w->conns = xcalloc(1, sizeof *w->conns);
    webd_set_conf(w, c, tls_ctx);
    for (size_t i = 0; i < c->n_listens; i++) {
        const struct listen_spec *ls = &c->listens[i];
        if ((ls->kind == LISTEN_WEB || ls->kind == LISTEN_WEBS) && webd_listen(w, ls) < 0) {
            webd_free(w);
            return NULL;
        }
    }
    if (w->http || w->https) {
        g_mime_init(); /* once, on the loop thread: the workers parse with GMime */
        html_clean_init(); /* and libxml2, for the HTML bodies */
        w->wq = diskq_new_pool(base, WEBD_WORKERS, 1);
        w->sweep = event_new(base, -1, EV_PERSIST, webd_on_sweep, w);
        struct timeval tv = {WEBD_SWEEP_S, 0};
        event_add(w->sweep, &tv);
    }
    return w;
}

void webd_set_conf(struct webd *w, const struct conf *c, SSL_CTX *tls_ctx)
{
    conf_replace(&w->conf, c);
    tls_ctx_replace(&w->tls_ctx, tls_ctx);
}

size_t webd_sessions(const struct webd *w)
{
    return w ? w->n_sessions : 0;
}

void webd_free(struct webd *w)
{
    if (!w)
        return;
    if (w->sweep)
        event_free(w->sweep);
    /* the workers finish (and answer) what they hold while the connections still exist */
    diskq_free(w->wq);
    while (w->commits) /* composed mail being committed: its completion answers */
        event_base_loop(w->base, EVLOOP_ONCE);
    webd_login_refusals_answer(w);
    if (w->http)
        evhttp_free(w->http);
    if (w->https)
        evhttp_free(w->https);
    webd_sessions_free(w);
    webd_fails_free(w);
    free(w->conns->v);
    free(w->conns);
    SSL_CTX_free(w->tls_ctx);
    conf_release(w->conf);
    free(w);
}
