/*
 * webd_int: what the files of src/webd share (private to the folder).
 *
 * A request is a struct webd_req, made by the dispatcher (webd_server.c)
 * for each request evhttp hands over: the path, the query and the form
 * decoded, the client's session (a copy of who is logged in: a logout or an
 * expiry while a job runs changes nothing under it), and a page buffer. The
 * route's handler either answers at once (webd_send_*) or hands blocking
 * work to a web worker (webd_defer: work on the worker, done back on the
 * loop, which answers). The request is freed once it is answered.
 *
 * Routes (webd_server.c's table; L = logged in, C = CSRF token checked):
 *   GET  /                  login form, or to /inbox       webd_login.c
 *   POST / and /login       log in                          webd_login.c
 *   GET|POST /logout        log out (C for POST)            webd_login.c
 *   GET  /style.css         the one style sheet             webd_page.c
 *   GET  /inbox?page=N      L                               webd_inbox.c
 *   POST /msg/ID/delete     L C  (to .Trash)                webd_inbox.c
 *   GET  /msg/ID            L    view (marks seen)          webd_message.c
 *   GET  /msg/ID/raw        L    the source                 webd_message.c
 *   GET  /msg/ID/html       L    the sanitized HTML body (?remote=1) for the iframe
 *   GET  /msg/ID/part/N     L    an attachment, Content-Disposition: attachment
 *   GET|POST /compose       L (C for POST)                  webd_compose.c
 *   GET  /sent, /sent/QID   L    sent mail, the delivery story  webd_sent.c, webd_story.c
 * ID is a Maildir unique name (the file name before ":2,"), only ever compared
 * with the names listed in the user's own Maildir: no request path reaches the
 * file system.
 */
#ifndef POSTINO_WEBD_INT_H
#define POSTINO_WEBD_INT_H
#include "webd/webd.h"
#include "lib/buf.h"
#include "mail/auth.h"
#include "net/diskq.h"
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <stdint.h>

#define WEBD_TOKEN_LEN 43            /* 32 random bytes, base64url without padding */
#define WEBD_PATH_MAX 1024
#define WEBD_PAGE_MAX (8 * 1024 * 1024)
#define WEBD_COOKIE "postino_session"

struct webd_session {
    char id[WEBD_TOKEN_LEN + 1];
    char csrf[WEBD_TOKEN_LEN + 1];
    struct auth_box box;             /* who is logged in and their mailbox */
    int64_t last_ms;                 /* last request: idle past timeout_web ends it */
    struct webd_session *next;
};

struct webd_login_try;
struct webd_fail;                    /* login failures per client address (webd_session.c) */
struct webd_conns;                   /* connections counted toward max_connections */

struct webd {
    struct event_base *base;
    const struct conf *conf;         /* held; replaced by a reload */
    SSL_CTX *tls_ctx;                /* webs; NULL without tls_cert */
    struct webd_deps deps;
    struct diskq *wq;                /* the web workers (started at the first job) */
    struct evhttp *http, *https;
    struct webd_session *sessions;
    size_t n_sessions;
    struct webd_fail *fails;
    struct webd_login_try *refusals; /* failed logins waiting out their delay (webd_login.c) */
    struct webd_conns *conns;
    struct event *sweep;             /* drops expired sessions and old failure counts */
    unsigned commits;                /* composed messages being committed on deps.dq */
};

struct webd_req;
typedef void (*webd_fn)(struct webd_req *r);

struct webd_req {
    struct webd *w;
    struct evhttp_request *req;
    const struct conf *conf;         /* held for the request's life */
    enum evhttp_cmd_type method;
    char path[WEBD_PATH_MAX];        /* decoded; "/msg/ID/raw" */
    const char *rest;                /* the path past the route's prefix ("ID/raw") */
    struct evkeyvalq query;          /* ?a=b&c=d, decoded */
    struct evkeyvalq form;           /* an application/x-www-form-urlencoded POST body */
    int https;                       /* came over a webs listener */
    int loopback;                    /* the client is on 127.0.0.0/8 or ::1 */
    char ip[64];
    int logged_in;
    struct auth_box box;             /* when logged in: a copy of the session's */
    char csrf[WEBD_TOKEN_LEN + 1];   /* the session's token, for the forms of a page */
    struct buf page;                 /* the body being built */
    /* a deferred request's work */
    struct diskq_job job;
    webd_fn work;                    /* on a web worker: blocking work, no evhttp calls */
    webd_fn done;                    /* back on the loop: answers */
    void *data;                      /* the handler's own */
    void (*data_free)(void *data);
    const char *csp;                 /* a page's own Content-Security-Policy, or NULL */
    int framable;                    /* may be framed by our own pages (the HTML body) */
    int status;                      /* for the handler: an HTTP status chosen by work */
    char error[256];                 /* for the handler: what went wrong, in words */
};

/* ---- webd_server.c: answering ---- */
/* Sends r->page as text/html (status, reason) with the security headers; frees r. */
void webd_send_page(struct webd_req *r, int status, const char *reason);
/* A page that says what went wrong in words (status 4xx/5xx); frees r. */
void webd_send_error(struct webd_req *r, int status, const char *reason, const char *words);
/* 303 See Other to location (a local path); frees r. */
void webd_send_redirect(struct webd_req *r, const char *location);
/* Sends body (taken) with content type ctype and extra headers (NULL-terminated
 * name/value pairs, may be NULL); frees r. The security headers are added too. */
void webd_send_body(struct webd_req *r, int status, const char *reason, struct evbuffer *body,
                    const char *ctype, const char *const *headers);
/* Runs work on a web worker, then done on the loop (which must answer). */
void webd_defer(struct webd_req *r, webd_fn work, webd_fn done);
/* A form or query value, or NULL. */
const char *webd_form(const struct webd_req *r, const char *name);
const char *webd_query(const struct webd_req *r, const char *name);

/* ---- webd_session.c: sessions, tokens, login failures ---- */
/* 32 random bytes (getrandom) as base64url into out[WEBD_TOKEN_LEN + 1]. 0 or -1. */
int webd_token(char out[WEBD_TOKEN_LEN + 1]);
/* The session whose id the request's cookie carries and that is not idle past
 * timeout_web (touched), or NULL. */
struct webd_session *webd_session_find(struct webd *w, struct evhttp_request *req);
/* A new session for box; NULL when no random bytes. */
struct webd_session *webd_session_new(struct webd *w, const struct auth_box *box);
void webd_session_end(struct webd *w, struct webd_session *s);
void webd_sessions_free(struct webd *w);
/* The Set-Cookie value for s (NULL: the one that clears it). */
void webd_session_cookie(const struct webd_req *r, const struct webd_session *s, char *out,
                         size_t size);
/* 1 if the form's "csrf" field equals the session token (constant time). */
int webd_csrf_ok(const struct webd_req *r);
/* Login failures of ip: the delay (ms) before a failed login is answered, growing
 * 1 s, 2 s, 4 s, 8 s as POP3's; webd_fail_add counts one, webd_fail_clear forgets. */
int64_t webd_fail_delay_ms(struct webd *w, const char *ip);
void webd_fail_add(struct webd *w, const char *ip);
void webd_fail_clear(struct webd *w, const char *ip);
/* Drops expired sessions and stale failure counts (the sweep timer). */
void webd_session_sweep(struct webd *w);
void webd_fails_free(struct webd *w);

/* ---- webd_page.c: the layout ---- */
/* The page head: title, style sheet, and the navigation when logged in. */
void webd_page_begin(struct webd_req *r, const char *title);
void webd_page_end(struct webd_req *r);
/* <input type=hidden name=csrf value=TOKEN> for a form of this page. */
void webd_page_csrf(struct webd_req *r);
/* printf into the page: values must already be escaped (webd_page_esc). */
void webd_page_printf(struct webd_req *r, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* Text into the page, HTML-escaped. */
void webd_page_esc(struct webd_req *r, const char *s);
void webd_page_escn(struct webd_req *r, const char *s, size_t n);
/* A time (ms since the epoch) as "2026-12-05 19:30" in local time. */
void webd_page_time(struct webd_req *r, int64_t ms);
void webd_style(struct webd_req *r);

/* ---- the route handlers ---- */
void webd_login_form(struct webd_req *r);      /* GET / */
void webd_login(struct webd_req *r);           /* POST / and /login */
void webd_logout(struct webd_req *r);          /* GET|POST /logout */
/* Shutdown: the failed logins still waiting out their delay are answered now. */
void webd_login_refusals_answer(struct webd *w);
void webd_inbox(struct webd_req *r);           /* GET /inbox */
void webd_msg(struct webd_req *r);             /* GET /msg/... */
void webd_msg_delete(struct webd_req *r);      /* POST /msg/ID/delete */
void webd_compose(struct webd_req *r);         /* GET|POST /compose */
void webd_sent(struct webd_req *r);            /* GET /sent, /sent/QID */
void webd_story(struct webd_req *r, const char *qid); /* GET /sent/QID (webd_story.c) */

#endif
