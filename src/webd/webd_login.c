/*
 * webd_login: logging in and out of the Web reader (see webd_int.h). The
 * rules are POP3's: a users-file address and its password, in the clear
 * only from loopback (else over HTTPS); the password is checked on a web
 * worker (crypt is slow on purpose) and wiped after; a failure is answered
 * only after a delay that grows with the client's failures
 * (webd_fail_delay_ms). A success starts a session (webd_session.c).
 */
#include "webd/webd_int.h"
#include "lib/alloc.h"
#include "lib/log.h"
#include "lib/str.h"
#include "proto/sasl.h"
#include <stdlib.h>
#include <string.h>

struct webd_login_try {
    struct webd_req *r;
    struct event *delay;            /* a refusal waiting out its delay */
    struct webd_login_try *next;    /* in w->refusals while it waits */
    char user[SASL_USER_MAX + 1];
    char pass[SASL_PASS_MAX + 1];
    int ok;
    struct auth_box box;
};

static void webd_login_try_free(void *p)
{
    struct webd_login_try *t = p;
    if (t->delay)
        event_free(t->delay);
    explicit_bzero(t, sizeof *t);
    free(t);
}

static void webd_login_page(struct webd_req *r, const char *error, const char *user)
{
    webd_page_begin(r, "Log in");
    if (error) {
        webd_page_printf(r, "<p class=\"error\" id=\"error\">");
        webd_page_esc(r, error);
        webd_page_printf(r, "</p>\n");
    }
    if (!r->https && !r->loopback)
        webd_page_printf(r, "<p class=\"error\">This connection is not encrypted: passwords "
                            "are taken only over HTTPS (or from this machine).</p>\n");
    webd_page_printf(r, "<form method=\"post\" action=\"/login\">\n"
                        "<label for=\"user\">Address</label>"
                        "<input type=\"text\" id=\"user\" name=\"user\" autocomplete=\"username\" "
                        "autocapitalize=\"none\" required value=\"");
    webd_page_esc(r, user ? user : "");
    webd_page_printf(r, "\">\n<label for=\"password\">Password</label>"
                        "<input type=\"password\" id=\"password\" name=\"password\" "
                        "autocomplete=\"current-password\" required>\n"
                        "<button type=\"submit\" id=\"login\">Log in</button>\n</form>\n");
    webd_page_end(r);
}

void webd_login_form(struct webd_req *r)
{
    if (r->logged_in) {
        webd_send_redirect(r, "/inbox");
        return;
    }
    webd_login_page(r, NULL, NULL);
    webd_send_page(r, 200, "OK");
}

static void webd_login_work(struct webd_req *r)
{
    struct webd_login_try *t = r->data;
    t->ok = auth_mailbox_login(r->conf->users, t->user, t->pass, &t->box);
    explicit_bzero(t->pass, sizeof t->pass);
}

static void webd_login_refused(evutil_socket_t fd, short what, void *arg)
{
    struct webd_login_try *t = arg;
    struct webd_req *r = t->r;
    (void)fd;
    (void)what;
    for (struct webd_login_try **pp = &r->w->refusals; *pp; pp = &(*pp)->next)
        if (*pp == t) {
            *pp = t->next;
            break;
        }
    webd_login_page(r, "Wrong address or password.", t->user);
    webd_send_page(r, 403, "Forbidden");
}

void webd_login_refusals_answer(struct webd *w)
{
    while (w->refusals)
        webd_login_refused(-1, 0, w->refusals);
}

static void webd_login_done(struct webd_req *r)
{
    struct webd *w = r->w;
    struct webd_login_try *t = r->data;
    struct webd_session *s = t->ok ? webd_session_new(w, &t->box) : NULL;
    if (!t->ok) {
        webd_fail_add(w, r->ip);
        int64_t d = webd_fail_delay_ms(w, r->ip);
        log_warn("web: %s: authentication failed", r->ip);
        struct timeval tv = {(time_t)(d / 1000), (suseconds_t)(d % 1000 * 1000)};
        t->delay = evtimer_new(w->base, webd_login_refused, t);
        t->next = w->refusals;
        w->refusals = t;
        evtimer_add(t->delay, &tv);
        return;
    }
    if (!s) {
        webd_send_error(r, 503, "Service Unavailable", "No session could be started: try again.");
        return;
    }
    webd_fail_clear(w, r->ip);
    log_info("web: %s: login %s", r->ip, t->box.addr);
    char cookie[160];
    webd_session_cookie(r, s, cookie, sizeof cookie);
    const char *const hdr[] = {"Set-Cookie", cookie, "Location", "/inbox", NULL};
    webd_send_body(r, 303, "See Other", NULL, "text/html; charset=utf-8", hdr);
}

void webd_login(struct webd_req *r)
{
    const char *user = webd_form(r, "user"), *pass = webd_form(r, "password");
    if (!r->https && !r->loopback) {
        webd_send_error(r, 403, "Forbidden", "Passwords are taken only over HTTPS: use the "
                                             "https:// address of this server.");
        return;
    }
    if (!r->conf->users) {
        webd_send_error(r, 503, "Service Unavailable", "This server has no users file (the "
                                                       "users setting): nobody can log in.");
        return;
    }
    if (!user || !pass || !*user || !*pass) {
        webd_login_page(r, "Give your address and your password.", user);
        webd_send_page(r, 400, "Bad Request");
        return;
    }
    struct webd_login_try *t = xcalloc(1, sizeof *t);
    t->r = r;
    r->data = t;
    r->data_free = webd_login_try_free;
    if (str_copy(t->user, sizeof t->user, user) < 0 || str_copy(t->pass, sizeof t->pass, pass) < 0) {
        webd_login_page(r, "That address or password is too long.", NULL);
        webd_send_page(r, 400, "Bad Request");
        return;
    }
    webd_defer(r, webd_login_work, webd_login_done);
}

void webd_logout(struct webd_req *r)
{
    if (r->logged_in && r->method == EVHTTP_REQ_POST && !webd_csrf_ok(r)) {
        webd_send_error(r, 403, "Forbidden", "This form is not from this session.");
        return;
    }
    struct webd_session *s = webd_session_find(r->w, r->req);
    if (s) {
        log_info("web: %s: logout %s", r->ip, s->box.addr);
        webd_session_end(r->w, s);
    }
    r->logged_in = 0;
    char cookie[160];
    webd_session_cookie(r, NULL, cookie, sizeof cookie);
    const char *const hdr[] = {"Set-Cookie", cookie, "Location", "/", NULL};
    webd_send_body(r, 303, "See Other", NULL, "text/html; charset=utf-8", hdr);
}
