/*
 * sendmail_drop: one message on its way from `postino sendmail` into the
 * drop directory: the envelope, the headers it may get (From, Date,
 * Message-ID), and the drop file opened when the content begins.
 */
#include "cmd/sendmail.h"
#include "lib/alloc.h"
#include "lib/fsio.h"
#include "lib/str.h"
#include "mail/maildrop.h"
#include "proto/rfc5322.h"
#include <errno.h>
#include <pwd.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

const char *sm_default_domain(const struct conf *c)
{
    return c->n_local_domains ? c->local_domains[0] : c->hostname;
}

void sm_login_name(char *out, size_t size)
{
    struct passwd *pw = getpwuid(getuid());
    const char *name = pw ? pw->pw_name : getenv("LOGNAME");
    str_copy(out, size, name && *name ? name : "nobody");
}

/* A display name as an RFC 5322 phrase: as is when it is atoms, else a quoted string. */
static void sm_phrase(const char *name, char *out, size_t size)
{
    int plain = 1;
    for (const char *p = name; *p; p++)
        if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
              *p == ' ' || (*p && strchr("!#$%&'*+-/=?^_`{|}~", *p)) || (unsigned char)*p >= 0x80))
            plain = 0;
    if (plain) {
        str_copy(out, size, name);
        return;
    }
    size_t j = 0;
    out[j++] = '"';
    for (const char *p = name; *p && j + 3 < size; p++) {
        if ((unsigned char)*p < 0x20 || *p == 0x7f)
            continue;
        if (*p == '"' || *p == '\\')
            out[j++] = '\\';
        out[j++] = *p;
    }
    out[j++] = '"';
    out[j] = '\0';
}

/* The full name: -F, else $NAME, else the GECOS field up to its first comma. */
static void sm_full_name(const char *given, char *out, size_t size)
{
    out[0] = '\0';
    const char *name = given ? given : getenv("NAME");
    if (!name || !*name) {
        struct passwd *pw = getpwuid(getuid());
        name = pw && pw->pw_gecos ? pw->pw_gecos : "";
    }
    str_ncopy(out, size, name, strcspn(name, ",\r\n"));
}

void sm_drop_init(struct sm_drop *d, const struct conf *c, const char *sender, const char *fullname)
{
    char login[128], name[256], phrase[520];
    memset(d, 0, sizeof *d);
    d->conf = c;
    envelope_init(&d->env);
    d->env.sender = xstrdup(sender);
    queue_new_id(d->env.id);
    str_fmt(d->message_id, sizeof d->message_id, "<%s@%s>", d->env.id, c->hostname);
    sm_login_name(login, sizeof login);
    str_fmt(d->login, sizeof d->login, "%s@%s", login, sm_default_domain(c));
    rfc5322_date(time(NULL), d->date, sizeof d->date);
    const char *addr = sender[0] ? sender : d->login;
    sm_full_name(fullname, name, sizeof name);
    sm_phrase(name, phrase, sizeof phrase);
    if (phrase[0])
        str_fmt(d->from, sizeof d->from, "%s <%s>", phrase, addr);
    else
        str_copy(d->from, sizeof d->from, addr);
}

int sm_drop_rcpt(struct sm_drop *d, const char *addr, unsigned notify, const char *orcpt)
{
    /* the same recipient twice gets one copy (the check is skipped for huge lists) */
    for (size_t i = 0; d->env.n_rcpts < 4096 && i < d->env.n_rcpts; i++)
        if (strcasecmp(d->env.rcpts[i].addr, addr) == 0)
            return 0;
    if (d->env.n_rcpts >= MAILDROP_RCPT_MAX)
        return -1;
    envelope_add_rcpt(&d->env, addr, notify, orcpt, -1, RCPT_PENDING);
    return 0;
}

static int sm_drop_open(struct sm_drop *d)
{
    if (fsio_mkdir_p(d->conf->data_dir, 0711) < 0 || maildrop_init(d->conf->data_dir) < 0 ||
        maildrop_open(d->conf->data_dir, &d->env, &d->w) < 0) {
        d->error = errno ? errno : EIO;
        return -1;
    }
    d->open = 1;
    return 0;
}

static void sm_drop_emit(void *ctx, const char *p, size_t n)
{
    struct sm_drop *d = ctx;
    if (d->error || d->env.n_rcpts == 0 || (!d->open && sm_drop_open(d) < 0))
        return;
    queue_writer_write(&d->w, p, n);
}

static int sm_drop_on_rcpt(void *ctx, const char *addr)
{
    struct sm_drop *d = ctx;
    return sm_drop_rcpt(d, addr, d->notify, NULL);
}

void sm_drop_submit_opts(struct sm_drop *d, struct submit_opts *o, int extract, int dot_ends)
{
    memset(o, 0, sizeof *o);
    o->extract = extract;
    o->dot_ends = dot_ends;
    o->default_domain = sm_default_domain(d->conf);
    o->from = d->from;
    o->date = d->date;
    o->message_id = d->message_id;
    o->max_size = d->conf->max_message_size;
    o->on_rcpt = sm_drop_on_rcpt;
    o->emit = sm_drop_emit;
    o->ctx = d;
}

int sm_drop_commit(struct sm_drop *d)
{
    if (d->error) {
        errno = d->error;
        return -1;
    }
    if (!d->open && sm_drop_open(d) < 0)
        return -1;
    d->open = 0;
    if (maildrop_commit(&d->w) < 0) {
        d->error = errno;
        return -1;
    }
    return 0;
}

void sm_drop_free(struct sm_drop *d)
{
    if (d->open)
        queue_writer_abort(&d->w);
    d->open = 0;
    envelope_free(&d->env);
}
