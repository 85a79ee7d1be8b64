/*
 * auth_dkim: DKIM verification with libopendkim (see auth_dkim.h). One
 * DKIM_LIB for the process (made once, shared by the check workers as
 * libopendkim allows); one DKIM handle per message, whose user context is
 * that message's auth_dns. Header fields are fed one by one without their
 * final CRLF, the body as it is stored.
 */
#include "msgauth/auth_dkim.h"
#include "lib/alloc.h"
#include "lib/log.h"
#include "lib/str.h"
#include "proto/rfc5322.h"
#include <arpa/nameser.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <opendkim/dkim.h>

#define AUTH_DKIM_HEAD_MAX (256 * 1024)   /* header section read at once */
#define AUTH_DKIM_CHUNK (64 * 1024)

static pthread_once_t auth_dkim_once = PTHREAD_ONCE_INIT;
static DKIM_LIB *auth_dkim_lib;

/* libopendkim asks for a signature's key: the TXT record, through auth_dns. */
static DKIM_CBSTAT auth_dkim_key(DKIM *dkim, DKIM_SIGINFO *sig, u_char *buf, size_t buflen)
{
    struct auth_dns *d = dkim_get_user_context(dkim);
    const char *sel = (const char *)dkim_sig_getselector(sig);
    const char *dom = (const char *)dkim_sig_getdomain(sig);
    char name[600];
    struct auth_dns_answer ans;
    if (!d || !sel || !dom || str_fmt(name, sizeof name, "%s._domainkey.%s", sel, dom) < 0)
        return DKIM_CBSTAT_ERROR;
    enum auth_dns_status st = auth_dns_query(d, name, ns_t_txt, &ans);
    DKIM_CBSTAT rc = st == AUTH_DNS_TEMP ? DKIM_CBSTAT_TRYAGAIN : DKIM_CBSTAT_NOTFOUND;
    if (st == AUTH_DNS_OK)   /* RFC 6376 3.6.2.2: more than one record is ambiguous; take the first */
        rc = str_copy((char *)buf, buflen, ans.rr[0].text) == 0 ? DKIM_CBSTAT_CONTINUE
                                                                : DKIM_CBSTAT_ERROR;
    auth_dns_answer_free(&ans);
    return rc;
}

static void auth_dkim_init(void)
{
    unsigned flags = DKIM_LIBFLAGS_FIXCRLF;
    auth_dkim_lib = dkim_init(NULL, NULL);
    if (!auth_dkim_lib) {
        log_err("authcheck: libopendkim cannot start");
        return;
    }
    dkim_options(auth_dkim_lib, DKIM_OP_SETOPT, DKIM_OPTS_FLAGS, &flags, sizeof flags);
    dkim_set_key_lookup(auth_dkim_lib, auth_dkim_key);
}

/* The header fields, one by one, then end of header; DKIM_STAT_OK or the status. */
static DKIM_STAT auth_dkim_header(DKIM *dkim, const struct queue_content *m, uint64_t *body)
{
    size_t want = m->size < AUTH_DKIM_HEAD_MAX ? (size_t)m->size : AUTH_DKIM_HEAD_MAX;
    char *p = xmalloc(want ? want : 1);
    ssize_t got = pread(m->fd, p, want, (off_t)m->off);
    int blank = 0;
    size_t hl = got > 0 ? rfc5322_header_length(p, (size_t)got, &blank) : 0;
    DKIM_STAT st = DKIM_STAT_OK;
    for (size_t pos = 0; pos < hl && st == DKIM_STAT_OK;) {
        size_t end = rfc5322_field_end(p, hl, pos), len;
        if (end <= pos)
            break;
        for (len = end - pos; len > 0 && (p[pos + len - 1] == '\n' || p[pos + len - 1] == '\r');)
            len--;
        if (len > 0 && rfc5322_field_name(p + pos, len, NULL))
            st = dkim_header(dkim, (u_char *)p + pos, len);
        pos = end;
    }
    free(p);
    *body = hl;
    return st == DKIM_STAT_OK ? dkim_eoh(dkim) : st;
}

static DKIM_STAT auth_dkim_body(DKIM *dkim, const struct queue_content *m, uint64_t from)
{
    char *p = xmalloc(AUTH_DKIM_CHUNK);
    DKIM_STAT st = DKIM_STAT_OK;
    while (from < m->size && st == DKIM_STAT_OK) {
        size_t want = m->size - from < AUTH_DKIM_CHUNK ? (size_t)(m->size - from) : AUTH_DKIM_CHUNK;
        ssize_t got = pread(m->fd, p, want, (off_t)(m->off + from));
        if (got <= 0) {
            st = DKIM_STAT_INTERNAL;
            break;
        }
        st = dkim_body(dkim, (u_char *)p, (size_t)got);
        from += (uint64_t)got;
    }
    free(p);
    return st;
}

static enum authres_result auth_dkim_sig_result(DKIM *dkim, DKIM_SIGINFO *sig, char *reason,
                                                size_t size)
{
    if ((dkim_sig_getflags(sig) & DKIM_SIGFLAG_PROCESSED) == 0 &&
        (dkim_sig_getflags(sig) & DKIM_SIGFLAG_IGNORE) == 0)
        dkim_sig_process(dkim, sig);
    if (DKIM_SIG_CHECK(sig))
        return AUTHRES_PASS;
    int err = dkim_sig_geterror(sig);
    const char *why = dkim_sig_geterrorstr(err);
    str_copy(reason, size, why ? why : "");
    if (err == DKIM_SIGERROR_KEYFAIL)
        return AUTHRES_TEMPERROR;
    if (dkim_sig_getbh(sig) == DKIM_SIGBH_MISMATCH) {
        str_copy(reason, size, "body hash did not verify");
        return AUTHRES_FAIL;
    }
    if (err == DKIM_SIGERROR_BADSIG || err == DKIM_SIGERROR_OK)
        return AUTHRES_FAIL;
    return AUTHRES_PERMERROR;
}

/* A message whose signatures could not even be listed: libopendkim fetches
 * the keys at the end of the header, and stops there when a lookup fails. */
static enum authres_result auth_dkim_failure(DKIM_STAT st)
{
    switch (st) {
    case DKIM_STAT_CBTRYAGAIN: case DKIM_STAT_KEYFAIL: case DKIM_STAT_NORESOURCE:
    case DKIM_STAT_INTERNAL: case DKIM_STAT_CBERROR:
        return AUTHRES_TEMPERROR;
    default:
        return AUTHRES_PERMERROR;
    }
}

static void auth_dkim_collect(DKIM *dkim, struct auth_dkim_outcome *out)
{
    DKIM_SIGINFO **sigs = NULL;
    int nsigs = 0;
    if (dkim_getsiglist(dkim, &sigs, &nsigs) != DKIM_STAT_OK)
        return;
    for (int i = 0; i < nsigs && out->n < AUTH_DKIM_MAX_SIGS; i++) {
        struct auth_dkim_sig *s = &out->sigs[out->n++];
        const char *dom = (const char *)dkim_sig_getdomain(sigs[i]);
        const char *sel = (const char *)dkim_sig_getselector(sigs[i]);
        str_copy(s->domain, sizeof s->domain, dom ? dom : "");
        str_copy(s->selector, sizeof s->selector, sel ? sel : "");
        s->result = auth_dkim_sig_result(dkim, sigs[i], s->reason, sizeof s->reason);
    }
}

void auth_dkim_verify(struct auth_dns *d, const struct queue_content *m,
                      struct auth_dkim_outcome *out)
{
    DKIM_STAT st;
    uint64_t body = 0;
    memset(out, 0, sizeof *out);
    pthread_once(&auth_dkim_once, auth_dkim_init);
    DKIM *dkim = auth_dkim_lib ? dkim_verify(auth_dkim_lib, (const u_char *)"postino", NULL, &st)
                               : NULL;
    if (!dkim) {
        out->unsigned_result = AUTHRES_TEMPERROR;
        return;
    }
    dkim_set_user_context(dkim, d);
    st = auth_dkim_header(dkim, m, &body);
    if (st == DKIM_STAT_OK)
        st = auth_dkim_body(dkim, m, body);
    if (st == DKIM_STAT_OK)
        dkim_eom(dkim, NULL);
    if (st != DKIM_STAT_NOSIG)
        auth_dkim_collect(dkim, out);
    if (st != DKIM_STAT_OK && st != DKIM_STAT_NOSIG && out->n == 0)
        out->unsigned_result = auth_dkim_failure(st);
    dkim_free(dkim);
}
