/*
 * smtp_client_intl: the SMTP client's side of internationalized mail (RFC
 * 6531 3.4, 3.7; RFC 6533 3). A message received with SMTPUTF8 is passed on
 * with SMTPUTF8 when the next hop offers it. When it does not: a recipient
 * whose local part is UTF-8 fails with 5.6.7 (it cannot be written in
 * ASCII); so does every recipient when the sender's local part or the
 * header section (RFC 6532) is UTF-8; otherwise only domains are non-ASCII
 * and they are sent as A-labels, and the mail goes. ORCPT=utf-8 is written
 * in its unitext form with SMTPUTF8, in its xtext form without.
 * Reads at most the first SMTPC_INTL_HEAD octets of the content (the header
 * section) from the queue file.
 */
#include "smtpc/smtp_client_conn.h"
#include "lib/str.h"
#include "proto/esc.h"
#include "proto/intl.h"
#include "proto/xtext.h"
#include <string.h>
#include <unistd.h>

#define SMTPC_INTL_HEAD 16384

/* 1 if the local part of "local@domain" holds UTF-8. */
static int smtpc_local_utf8(const char *addr)
{
    const char *at = strrchr(addr, '@');
    return !intl_is_ascii(addr, at ? (size_t)(at - addr) : strlen(addr));
}

/* 1 if the message's header section holds UTF-8 (read from the queue file). */
static int smtpc_head_utf8(const struct smtpc_delivery *d)
{
    char buf[SMTPC_INTL_HEAD];
    size_t want = d->env->size < sizeof buf ? (size_t)d->env->size : sizeof buf;
    ssize_t n = pread(d->fd, buf, want, (off_t)d->env->content_offset);
    return n > 0 && intl_head_8bit(buf, (size_t)n);
}

/* Fails recipient k with 5.6.7, decided by postino before any RCPT. */
static void smtpc_intl_refuse(struct smtpc_conn *c, size_t k, const char *why)
{
    struct smtpc_outcome *o = &c->d->out[k];
    char name[300];
    smtpc_target_name(c, name, sizeof name);
    o->klass = 5;
    o->from_server = 0;
    o->unsent = 1;
    esc_reason(o->reply, sizeof o->reply, 5, ESC_NON_ASCII_ADDRESS,
               "%s needs SMTPUTF8, which %s does not offer", why, name);
}

size_t smtpc_intl_plan(struct smtpc_conn *c)
{
    const struct envelope *e = c->d->env;
    size_t left = 0;
    for (size_t k = 0; k < c->d->n; k++) /* decided for an earlier target: undo */
        if (c->d->out[k].unsent)
            c->d->out[k].klass = c->d->out[k].unsent = 0;
    c->utf8_on = e->smtputf8 && (c->ehlo.ext & SMTP_EXT_SMTPUTF8);
    c->alabels = !(c->ehlo.ext & SMTP_EXT_SMTPUTF8);
    int all = 0;
    const char *why = NULL;
    if (c->alabels && e->smtputf8 && smtpc_local_utf8(e->sender)) {
        all = 1;
        why = "the UTF-8 sender address";
    } else if (c->alabels && e->smtputf8 && smtpc_head_utf8(c->d)) {
        all = 1;
        why = "the message's UTF-8 header";
    }
    for (size_t k = 0; k < c->d->n; k++) {
        const char *addr = e->rcpts[c->d->out[k].idx].addr;
        if (all)
            smtpc_intl_refuse(c, k, why);
        else if (c->alabels && smtpc_local_utf8(addr))
            smtpc_intl_refuse(c, k, "the UTF-8 recipient address");
        else
            left++;
    }
    return left;
}

void smtpc_intl_addr(const struct smtpc_conn *c, const char *addr, char *out, size_t size)
{
    const char *at = strrchr(addr, '@');
    char domain[INTL_DOMAIN_MAX];
    if (!c->alabels || !at || intl_is_ascii(at + 1, strlen(at + 1)) ||
        intl_domain_to_ascii(at + 1, domain, sizeof domain) < 0 ||
        str_fmt(out, size, "%.*s@%s", (int)(at - addr), addr, domain) < 0)
        str_copy(out, size, addr);
}

void smtpc_intl_orcpt(const struct smtpc_conn *c, const char *orcpt, struct buf *line)
{
    const char *semi = strchr(orcpt, ';');
    char enc[DSN_ORCPT_MAX * 4];
    if (!semi)
        return;
    size_t tl = (size_t)(semi - orcpt);
    if (tl == 5 && strncasecmp(orcpt, "utf-8", 5) == 0) {
        /* RFC 6533 3: unitext in an SMTPUTF8 transaction, xtext otherwise */
        if (xtext_utf8_encode(semi + 1, c->utf8_on, enc, sizeof enc) == 0)
            buf_printf(line, " ORCPT=utf-8;%s", enc);
        return;
    }
    buf_printf(line, " ORCPT=%.*s;", (int)tl, orcpt);
    xtext_encode(semi + 1, strlen(semi + 1), line);
}
