/*
 * webd_session: Web sessions, tokens and login failures (see webd_int.h).
 * A session id and its CSRF token are 32 bytes from getrandom(2) each; the
 * cookie carrying the id is HttpOnly, SameSite=Strict, Secure over HTTPS,
 * and has no expiry of its own: the server forgets a session idle past
 * timeout_web (checked at each request and by a sweep). Login failures are
 * counted per client address, since each HTTP request stands alone: the
 * delay before a failure is answered doubles from 1 s to at most 8 s, as
 * POP3's does, and is forgotten after a quarter of an hour without failure.
 */
#include "webd/webd_int.h"
#include "lib/alloc.h"
#include "lib/dur.h"
#include "lib/str.h"
#include <openssl/crypto.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#define WEBD_SESSIONS_MAX 10000
#define WEBD_FAIL_MAX_DELAY_MS 8000
#define WEBD_FAIL_FORGET_MS (15 * 60 * 1000)
#define WEBD_FAILS_MAX 4096

struct webd_fail {
    char ip[64];
    unsigned count;
    int64_t last_ms;
    struct webd_fail *next;
};

int webd_token(char out[WEBD_TOKEN_LEN + 1])
{
    static const char b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    unsigned char raw[33] = {0}; /* 32 random bytes and a zero pad for the last group */
    if (getrandom(raw, 32, 0) != 32)
        return -1;
    size_t o = 0;
    for (size_t i = 0; i < 33; i += 3) {
        unsigned v = (unsigned)raw[i] << 16 | (unsigned)raw[i + 1] << 8 | raw[i + 2];
        for (int k = 3; k >= 0 && o < WEBD_TOKEN_LEN; k--)
            out[o++] = b64[(v >> (6 * k)) & 63];
    }
    out[WEBD_TOKEN_LEN] = '\0';
    explicit_bzero(raw, sizeof raw);
    return 0;
}

/* ---- sessions ---- */

static int webd_idle(const struct webd *w, const struct webd_session *s, int64_t now)
{
    return now - s->last_ms > w->conf->timeout_web_ms;
}

/* The session id in the request's Cookie header, into id. 1 found, 0 none. */
static int webd_cookie_id(struct evhttp_request *req, char id[WEBD_TOKEN_LEN + 1])
{
    const char *h = evhttp_find_header(evhttp_request_get_input_headers(req), "Cookie");
    size_t nl = strlen(WEBD_COOKIE);
    for (const char *p = h; p && *p;) {
        while (*p == ' ' || *p == ';')
            p++;
        size_t n = strcspn(p, ";");
        if (n == nl + 1 + WEBD_TOKEN_LEN && strncmp(p, WEBD_COOKIE "=", nl + 1) == 0) {
            memcpy(id, p + nl + 1, WEBD_TOKEN_LEN);
            id[WEBD_TOKEN_LEN] = '\0';
            return 1;
        }
        p += n;
    }
    return 0;
}

struct webd_session *webd_session_find(struct webd *w, struct evhttp_request *req)
{
    char id[WEBD_TOKEN_LEN + 1];
    if (!webd_cookie_id(req, id))
        return NULL;
    int64_t now = dur_now_ms();
    for (struct webd_session *s = w->sessions; s; s = s->next) {
        if (CRYPTO_memcmp(s->id, id, WEBD_TOKEN_LEN) != 0)
            continue;
        if (webd_idle(w, s, now)) {
            webd_session_end(w, s);
            return NULL;
        }
        s->last_ms = now;
        return s;
    }
    return NULL;
}

struct webd_session *webd_session_new(struct webd *w, const struct auth_box *box)
{
    struct webd_session *s = xcalloc(1, sizeof *s);
    if (webd_token(s->id) < 0 || webd_token(s->csrf) < 0) {
        free(s);
        return NULL;
    }
    if (w->n_sessions >= WEBD_SESSIONS_MAX) { /* the oldest goes: the list is newest first */
        struct webd_session *last = w->sessions;
        while (last->next)
            last = last->next;
        webd_session_end(w, last);
    }
    s->box = *box;
    s->last_ms = dur_now_ms();
    s->next = w->sessions;
    w->sessions = s;
    w->n_sessions++;
    return s;
}

void webd_session_end(struct webd *w, struct webd_session *s)
{
    for (struct webd_session **pp = &w->sessions; *pp; pp = &(*pp)->next)
        if (*pp == s) {
            *pp = s->next;
            w->n_sessions--;
            explicit_bzero(s, sizeof *s);
            free(s);
            return;
        }
}

void webd_sessions_free(struct webd *w)
{
    while (w->sessions)
        webd_session_end(w, w->sessions);
}

void webd_session_cookie(const struct webd_req *r, const struct webd_session *s, char *out,
                         size_t size)
{
    str_fmt(out, size, "%s=%s; Path=/; HttpOnly; SameSite=Strict%s%s", WEBD_COOKIE,
            s ? s->id : "", r->https ? "; Secure" : "", s ? "" : "; Max-Age=0");
}

int webd_csrf_ok(const struct webd_req *r)
{
    const char *t = webd_form(r, "csrf");
    if (!t)
        t = webd_query(r, "csrf"); /* multipart forms carry it in their action URL */
    return r->logged_in && t && strlen(t) == WEBD_TOKEN_LEN &&
           CRYPTO_memcmp(t, r->csrf, WEBD_TOKEN_LEN) == 0;
}

/* ---- login failures ---- */

static struct webd_fail *webd_fail_find(struct webd *w, const char *ip)
{
    for (struct webd_fail *f = w->fails; f; f = f->next)
        if (strcmp(f->ip, ip) == 0)
            return f;
    return NULL;
}

int64_t webd_fail_delay_ms(struct webd *w, const char *ip)
{
    struct webd_fail *f = webd_fail_find(w, ip);
    unsigned n = f && f->count ? f->count - 1 : 0; /* 1 s after the first failure */
    int64_t d = 1000LL << (n < 3 ? n : 3);
    return d > WEBD_FAIL_MAX_DELAY_MS ? WEBD_FAIL_MAX_DELAY_MS : d;
}

void webd_fail_add(struct webd *w, const char *ip)
{
    struct webd_fail *f = webd_fail_find(w, ip);
    if (!f) {
        size_t n = 0;
        for (struct webd_fail *g = w->fails; g; g = g->next)
            n++;
        if (n >= WEBD_FAILS_MAX)
            webd_session_sweep(w);
        f = xcalloc(1, sizeof *f);
        str_copy(f->ip, sizeof f->ip, ip);
        f->next = w->fails;
        w->fails = f;
    }
    f->count++;
    f->last_ms = dur_now_ms();
}

void webd_fail_clear(struct webd *w, const char *ip)
{
    for (struct webd_fail **pp = &w->fails; *pp; pp = &(*pp)->next)
        if (strcmp((*pp)->ip, ip) == 0) {
            struct webd_fail *f = *pp;
            *pp = f->next;
            free(f);
            return;
        }
}

void webd_session_sweep(struct webd *w)
{
    int64_t now = dur_now_ms();
    for (struct webd_session *s = w->sessions, *next; s; s = next) {
        next = s->next;
        if (webd_idle(w, s, now))
            webd_session_end(w, s);
    }
    for (struct webd_fail **pp = &w->fails; *pp;) {
        struct webd_fail *f = *pp;
        if (now - f->last_ms > WEBD_FAIL_FORGET_MS) {
            *pp = f->next;
            free(f);
        } else {
            pp = &f->next;
        }
    }
}

void webd_fails_free(struct webd *w)
{
    while (w->fails) {
        struct webd_fail *f = w->fails;
        w->fails = f->next;
        free(f);
    }
}
