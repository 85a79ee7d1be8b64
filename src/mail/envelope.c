/*
 * envelope: in-memory envelope and its queue-file text format (see
 * envelope.h and docs/queue-format.md). Records are lines of
 * space-separated %-escaped tokens; "-" stands for an empty value.
 */
#include "mail/envelope.h"
#include "lib/alloc.h"
#include <inttypes.h>
#include <stdlib.h>
#include <errno.h>
#include <limits.h>
#include <string.h>

#define ENV_MAX_TOKENS 13 /* one more than any record has: a longer line is refused */

static const char *status_names[] = {"pending", "deferred", "delivered",
                                     "relayed", "failed",   "expanded"};

const char *envelope_envid_to_send(const struct envelope *e)
{
    if (e->envid)
        return e->envid;
    if (!e->sender || !e->sender[0])
        return NULL;
    return e->auth || !e->client ? e->id : NULL;
}

const char *rcpt_status_name(enum rcpt_status s)
{
    return (unsigned)s < sizeof status_names / sizeof status_names[0] ? status_names[s] : "?";
}

const char *dsn_ret_name(enum dsn_ret r)
{
    return r == DSN_RET_FULL ? "FULL" : r == DSN_RET_HDRS ? "HDRS" : "";
}

const char *body_type_name(enum body_type b)
{
    static const char *const names[] = {"", "7BIT", "8BITMIME", "BINARYMIME"};
    return (unsigned)b < sizeof names / sizeof names[0] ? names[b] : "";
}

void envelope_init(struct envelope *e)
{
    memset(e, 0, sizeof *e);
}

void envelope_free(struct envelope *e)
{
    for (size_t i = 0; i < e->n_rcpts; i++) {
        free(e->rcpts[i].addr);
        free(e->rcpts[i].orcpt);
        free(e->rcpts[i].last_reply);
        free(e->rcpts[i].remote_mta);
        free(e->rcpts[i].tls);
    }
    free(e->rcpts);
    free(e->sender);
    free(e->envid);
    free(e->helo);
    free(e->client);
    free(e->auth);
    envelope_init(e);
}

size_t envelope_add_rcpt(struct envelope *e, const char *addr, unsigned notify,
                         const char *orcpt, int parent, enum rcpt_status status)
{
    if (e->n_rcpts == e->cap_rcpts) {
        e->cap_rcpts = e->cap_rcpts ? e->cap_rcpts * 2 : 4;
        e->rcpts = xrealloc(e->rcpts, e->cap_rcpts * sizeof *e->rcpts);
    }
    struct env_rcpt *r = &e->rcpts[e->n_rcpts];
    memset(r, 0, sizeof *r);
    r->addr = xstrdup(addr);
    r->notify = notify;
    r->orcpt = orcpt ? xstrdup(orcpt) : NULL;
    r->parent = parent;
    r->status = status;
    return e->n_rcpts++;
}

int envelope_done(const struct envelope *e)
{
    for (size_t i = 0; i < e->n_rcpts; i++)
        if (e->rcpts[i].status == RCPT_PENDING || e->rcpts[i].status == RCPT_DEFERRED)
            return 0;
    return 1;
}

/* Appends " " + the escaped token ("-" for NULL or empty). */
static int env_put(struct buf *out, const char *v)
{
    static const char hex[] = "0123456789ABCDEF";
    if (buf_putc(out, ' ') < 0)
        return -1;
    if (!v || !*v)
        return buf_putc(out, '-');
    if (strcmp(v, "-") == 0)
        return buf_appends(out, "%2D");
    for (const unsigned char *p = (const unsigned char *)v; *p; p++) {
        if (*p > ' ' && *p < 0x7f && *p != '%') {
            if (buf_putc(out, (char)*p) < 0)
                return -1;
        } else {
            char e[3] = {'%', hex[*p >> 4], hex[*p & 15]};
            if (buf_append(out, e, 3) < 0)
                return -1;
        }
    }
    return 0;
}

static int env_put_num(struct buf *out, uint64_t v)
{
    return buf_printf(out, " %" PRIu64, v);
}

/* The fields of a recipient that change over time. */
static int env_put_rcpt_state(struct buf *out, const struct env_rcpt *r)
{
    if (env_put(out, rcpt_status_name(r->status)) < 0 || env_put_num(out, r->attempts) < 0 ||
        env_put_num(out, (uint64_t)(r->next_attempt > 0 ? r->next_attempt : 0)) < 0 ||
        env_put_num(out, r->dsn_sent) < 0 || env_put(out, r->remote_mta) < 0 ||
        env_put(out, r->last_reply) < 0)
        return -1;
    return env_put(out, r->tls);
}

static int env_put_rcpt(struct buf *out, const struct env_rcpt *r)
{
    if (buf_appends(out, "rcpt") < 0 || env_put(out, r->addr) < 0 ||
        env_put_num(out, r->notify) < 0 || env_put(out, r->orcpt) < 0 ||
        buf_printf(out, " %d", r->parent) < 0 || env_put_rcpt_state(out, r) < 0)
        return -1;
    return buf_putc(out, '\n');
}

static int env_field(struct buf *out, const char *name, const char *v)
{
    if (buf_appends(out, name) < 0 || env_put(out, v) < 0)
        return -1;
    return buf_putc(out, '\n');
}

int envelope_format_head(const struct envelope *e, struct buf *out, size_t *size_offset)
{
    int r = buf_appends(out, ENVELOPE_MAGIC);
    r |= env_field(out, "id", e->id);
    r |= buf_printf(out, "arrival %" PRId64 "\n", e->arrival);
    r |= env_field(out, "sender", e->sender);
    r |= env_field(out, "ret", dsn_ret_name(e->ret));
    r |= env_field(out, "envid", e->envid);
    r |= env_field(out, "body", body_type_name(e->body));
    r |= env_field(out, "helo", e->helo);
    r |= env_field(out, "client", e->client);
    r |= env_field(out, "auth", e->auth);
    r |= buf_printf(out, "hold %d\n", e->hold ? 1 : 0);
    if (e->smtputf8) /* only when set: an ASCII message's file is as before */
        r |= buf_appends(out, "smtputf8 1\n");
    for (size_t i = 0; i < e->n_rcpts && r == 0; i++)
        r |= env_put_rcpt(out, &e->rcpts[i]);
    r |= buf_appends(out, "size ");
    *size_offset = out->len;
    r |= buf_printf(out, "%0*d\ndata\n", ENVELOPE_SIZE_WIDTH, 0);
    return r ? -1 : 0;
}

int envelope_format_state(const struct envelope *e, size_t i, struct buf *out)
{
    if (i >= e->n_rcpts || buf_printf(out, "state %zu", i) < 0 ||
        env_put_rcpt_state(out, &e->rcpts[i]) < 0)
        return -1;
    return buf_putc(out, '\n');
}

int envelope_format_hold(int hold, struct buf *out)
{
    return buf_printf(out, "hold %d\n", hold ? 1 : 0);
}

int envelope_format_rcpt(const struct envelope *e, size_t i, struct buf *out)
{
    return i < e->n_rcpts ? env_put_rcpt(out, &e->rcpts[i]) : -1;
}

/* ---- parsing ---- */

static int env_hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* Decodes one token in place; NULL for "-". */
static char *env_unescape(char *t)
{
    if (strcmp(t, "-") == 0)
        return NULL;
    char *w = t;
    for (char *p = t; *p; p++) {
        if (*p == '%') {
            int h = env_hexval(p[1]), l = h < 0 ? -1 : env_hexval(p[2]);
            if (l < 0)
                return NULL;
            *w++ = (char)(h << 4 | l);
            p += 2;
        } else {
            *w++ = *p;
        }
    }
    *w = '\0';
    return t;
}

static char *env_dup(char *t)
{
    char *v = env_unescape(t);
    return v ? xstrdup(v) : NULL;
}

static int env_num(const char *t, int64_t min, int64_t *out)
{
    char *end;
    errno = 0;
    long long v = strtoll(t, &end, 10);
    if (!*t || *end || v < min || errno == ERANGE)
        return -1;
    *out = v;
    return 0;
}

static int env_status(const char *t, enum rcpt_status *s)
{
    for (size_t i = 0; i < sizeof status_names / sizeof status_names[0]; i++)
        if (strcmp(t, status_names[i]) == 0) {
            *s = (enum rcpt_status)i;
            return 0;
        }
    return -1;
}

/* Splits line (NUL-terminated, no newline) into tokens; returns the count. */
static size_t env_split(char *line, char **tok)
{
    size_t n = 0;
    for (char *save = NULL, *t = strtok_r(line, " ", &save); t && n < ENV_MAX_TOKENS;
         t = strtok_r(NULL, " ", &save))
        tok[n++] = t;
    return n;
}

/* tok[0..5] = status attempts next dsn_sent remote_mta last_reply, then tok[6] = tls when
 * with_tls (files written before the TLS outcome was recorded have no such token) */
static int env_apply_state(struct env_rcpt *r, char **tok, int with_tls)
{
    int64_t attempts, next, dsn;
    if (env_status(tok[0], &r->status) < 0 || env_num(tok[1], 0, &attempts) < 0 ||
        env_num(tok[2], 0, &next) < 0 || env_num(tok[3], 0, &dsn) < 0 || attempts > UINT_MAX ||
        dsn > UINT_MAX)
        return -1;
    r->attempts = (unsigned)attempts;
    r->next_attempt = next;
    r->dsn_sent = (unsigned)dsn;
    free(r->remote_mta);
    r->remote_mta = env_dup(tok[4]);
    free(r->last_reply);
    r->last_reply = env_dup(tok[5]);
    free(r->tls);
    r->tls = with_tls ? env_dup(tok[6]) : NULL;
    return 0;
}

/* "rcpt ADDR NOTIFY ORCPT PARENT STATUS ATTEMPTS NEXT DSN REMOTE LAST [TLS]" */
static int env_parse_rcpt(struct envelope *e, char **tok, size_t n)
{
    int64_t notify, parent;
    if ((n != 11 && n != 12) || env_num(tok[2], 0, &notify) < 0 || notify > UINT_MAX ||
        env_num(tok[4], -1, &parent) < 0 || parent >= (int64_t)e->n_rcpts)
        return -1;
    char *addr = env_unescape(tok[1]);
    if (!addr)
        return -1;
    size_t i = envelope_add_rcpt(e, addr, (unsigned)notify, env_unescape(tok[3]), (int)parent,
                                 RCPT_PENDING);
    return env_apply_state(&e->rcpts[i], tok + 5, n == 12);
}

static int env_parse_ret(const char *t, enum dsn_ret *r)
{
    *r = strcmp(t, "FULL") == 0 ? DSN_RET_FULL : strcmp(t, "HDRS") == 0 ? DSN_RET_HDRS
                                                                        : DSN_RET_UNSET;
    return (*r != DSN_RET_UNSET || strcmp(t, "-") == 0) ? 0 : -1;
}

static int env_parse_body(const char *t, enum body_type *b)
{
    *b = BODY_UNSET;
    for (enum body_type k = BODY_7BIT; k <= BODY_BINARYMIME; k++)
        if (strcmp(t, body_type_name(k)) == 0)
            *b = k;
    return (*b != BODY_UNSET || strcmp(t, "-") == 0) ? 0 : -1;
}

/* One head record; returns 1 at "data", 0 ok, -1 bad. */
static int env_head_record(struct envelope *e, char **tok, size_t n)
{
    const char *k = tok[0];
    int64_t v;
    if (strcmp(k, "data") == 0 && n == 1)
        return 1;
    if (strcmp(k, "rcpt") == 0)
        return env_parse_rcpt(e, tok, n);
    if (n != 2)
        return -1;
    if (strcmp(k, "id") == 0) {
        char *id = env_unescape(tok[1]);
        return id && strlen(id) <= QUEUE_ID_MAX ? (memcpy(e->id, id, strlen(id) + 1), 0) : -1;
    }
    if (strcmp(k, "arrival") == 0)
        return env_num(tok[1], 0, &e->arrival);
    if (strcmp(k, "size") == 0)
        return env_num(tok[1], 0, &v) < 0 ? -1 : (e->size = (uint64_t)v, 0);
    if (strcmp(k, "hold") == 0)
        return env_num(tok[1], 0, &v) < 0 ? -1 : (e->hold = v != 0, 0);
    if (strcmp(k, "ret") == 0)
        return env_parse_ret(tok[1], &e->ret);
    if (strcmp(k, "smtputf8") == 0) /* absent in older files: 0 */
        return env_num(tok[1], 0, &v) < 0 ? -1 : (e->smtputf8 = v != 0, 0);
    if (strcmp(k, "body") == 0)
        return env_parse_body(tok[1], &e->body);
    char **dst = strcmp(k, "sender") == 0   ? &e->sender
                 : strcmp(k, "envid") == 0  ? &e->envid
                 : strcmp(k, "helo") == 0   ? &e->helo
                 : strcmp(k, "client") == 0 ? &e->client
                 : strcmp(k, "auth") == 0   ? &e->auth
                                            : NULL;
    if (!dst)
        return -1;
    free(*dst);
    *dst = env_dup(tok[1]);
    return 0;
}

/* Copies the line at buf[*pos] (up to '\n') into a NUL-terminated buffer. 1 = line, 0 = none/torn. */
static int env_next_line(const char *buf, size_t len, size_t *pos, struct buf *line)
{
    const char *nl = memchr(buf + *pos, '\n', len - *pos);
    if (!nl)
        return 0;
    buf_reset(line);
    if (buf_append(line, buf + *pos, (size_t)(nl - (buf + *pos))) < 0)
        return -1;
    *pos = (size_t)(nl - buf) + 1;
    return 1;
}

int envelope_parse_head(const char *buf, size_t len, struct envelope *e)
{
    size_t magic = strlen(ENVELOPE_MAGIC), pos = magic;
    if (len < magic)
        return memcmp(buf, ENVELOPE_MAGIC, len) == 0 ? 1 : -1;
    if (memcmp(buf, ENVELOPE_MAGIC, magic) != 0)
        return -1;
    struct buf line;
    buf_init(&line, 1 << 20);
    char *tok[ENV_MAX_TOKENS];
    int r = 0, got;
    while ((got = env_next_line(buf, len, &pos, &line)) == 1) {
        size_t n = env_split((char *)buf_cstr(&line), tok);
        r = n ? env_head_record(e, tok, n) : -1;
        if (r != 0)
            break;
    }
    buf_free(&line);
    if (got < 0)
        return -1;
    if (got == 0)
        return 1;
    if (r < 0 || !e->id[0])
        return -1;
    if (!e->sender)
        e->sender = xstrdup("");
    e->content_offset = pos;
    return 0;
}

/* One tail record: state, hold, rcpt. */
static int env_tail_record(struct envelope *e, char **tok, size_t n)
{
    int64_t v;
    if (strcmp(tok[0], "state") == 0 && (n == 8 || n == 9)) {
        if (env_num(tok[1], 0, &v) < 0 || v >= (int64_t)e->n_rcpts)
            return -1;
        return env_apply_state(&e->rcpts[v], tok + 2, n == 9);
    }
    if (strcmp(tok[0], "hold") == 0 && n == 2)
        return env_num(tok[1], 0, &v) < 0 ? -1 : (e->hold = v != 0, 0);
    if (strcmp(tok[0], "rcpt") == 0)
        return env_parse_rcpt(e, tok, n);
    return -1;
}

int envelope_parse_tail(const char *buf, size_t len, struct envelope *e)
{
    if (len < 4 || memcmp(buf, "end\n", 4) != 0)
        return -1;
    size_t pos = 4;
    struct buf line;
    buf_init(&line, 1 << 20);
    char *tok[ENV_MAX_TOKENS];
    int r = 0, got = 0;
    while (r == 0 && (got = env_next_line(buf, len, &pos, &line)) == 1) {
        size_t n = env_split((char *)buf_cstr(&line), tok);
        r = n ? env_tail_record(e, tok, n) : -1;
    }
    buf_free(&line);
    return r < 0 || got < 0 ? -1 : 0;
}
