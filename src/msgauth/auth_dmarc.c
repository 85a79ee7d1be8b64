/*
 * auth_dmarc: DMARC with libopendmarc over auth_dns (see auth_dmarc.h).
 * The library is set up once (public suffix list for the organizational
 * domain and relaxed alignment); one policy context per message.
 */
#include "msgauth/auth_dmarc.h"
#include "lib/alloc.h"
#include "lib/log.h"
#include "lib/str.h"
#include "proto/addrlist.h"
#include "proto/rfc5322.h"
#include <arpa/inet.h>
#include <arpa/nameser.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <unistd.h>
#include <opendmarc/dmarc.h>

#define AUTH_DMARC_HEAD_MAX (64 * 1024)
#define AUTH_DMARC_PSL "/usr/share/publicsuffix/public_suffix_list.dat"

/* Exported by libopendmarc, not declared in its header: the organizational
 * domain of domain by the public suffix list. 0 on success. */
int opendmarc_get_tld(u_char *domain, u_char *tld, size_t tld_len);

static pthread_once_t auth_dmarc_once = PTHREAD_ONCE_INIT;

static void auth_dmarc_init(void)
{
    static OPENDMARC_LIB_T lib;
    memset(&lib, 0, sizeof lib);
    if (access(AUTH_DMARC_PSL, R_OK) == 0) {
        lib.tld_type = OPENDMARC_TLD_TYPE_MOZILLA;
        str_copy((char *)lib.tld_source_file, sizeof lib.tld_source_file, AUTH_DMARC_PSL);
    } else {
        log_warn("authcheck: no %s: organizational domains are the last two labels",
                 AUTH_DMARC_PSL);
    }
    if (opendmarc_policy_library_init(&lib) != DMARC_PARSE_OKAY)
        log_err("authcheck: libopendmarc cannot start");
}

struct auth_dmarc_from {
    char domain[256];
    int n, mixed;   /* addresses seen; 1 if their domains differ */
};

static int auth_dmarc_from_cb(void *ctx, const char *addr)
{
    struct auth_dmarc_from *f = ctx;
    const char *at = strrchr(addr, '@');
    char dom[256];
    if (!at || str_copy(dom, sizeof dom, at + 1) < 0)
        return -1;
    str_lower(dom);
    if (f->n++ == 0)
        str_copy(f->domain, sizeof f->domain, dom);
    else if (strcmp(dom, f->domain) != 0)
        f->mixed = 1;
    return 0;
}

/* The RFC5322.From domain (RFC 7489 3.1, 6.6.1): 0, or -1 if none, or several. */
static int auth_dmarc_from_domain(const struct queue_content *m, char *out, size_t size)
{
    size_t want = m->size < AUTH_DMARC_HEAD_MAX ? (size_t)m->size : AUTH_DMARC_HEAD_MAX;
    char *p = xmalloc(want ? want : 1);
    ssize_t got = pread(m->fd, p, want, (off_t)m->off);
    size_t hl = got > 0 ? rfc5322_header_length(p, (size_t)got, NULL) : 0;
    struct rfc5322_field f;
    struct auth_dmarc_from from = {.n = 0};
    int rc = -1;
    if (rfc5322_find_field(p, hl, "From", &f) == 0 &&
        addrlist_parse(p + f.colon + 1, f.end - f.colon - 1, NULL, auth_dmarc_from_cb, &from,
                       NULL) == 0 &&
        from.n > 0 && !from.mixed)
        rc = str_copy(out, size, from.domain);
    free(p);
    return rc;
}

/* The organizational domain (RFC 7489 3.2): by the public suffix list, and for
 * a top-level domain it does not list, its default rule "*" (the last two labels). */
static void auth_dmarc_org(const char *domain, char *org, size_t size)
{
    org[0] = '\0';
    if (opendmarc_get_tld((u_char *)domain, (u_char *)org, size) == 0 && org[0])
        return;
    const char *last = strrchr(domain, '.'), *p = last;
    while (p && p > domain && p[-1] != '.')
        p--;
    str_copy(org, size, last && p > domain ? p : domain);
}

/* The one "v=DMARC1" record at _dmarc.domain (RFC 7489 6.6.3): 1 found, 0 none, -1 temporary. */
static int auth_dmarc_record(struct auth_dns *d, const char *domain, char **record)
{
    char name[300];
    struct auth_dns_answer ans;
    if (str_fmt(name, sizeof name, "_dmarc.%s", domain) < 0)
        return 0;
    enum auth_dns_status st = auth_dns_query(d, name, ns_t_txt, &ans);
    int found = 0;
    for (size_t i = 0; st == AUTH_DNS_OK && i < ans.n; i++)
        if (strncmp(ans.rr[i].text, "v=DMARC1", 8) == 0 &&
            (ans.rr[i].text[8] == ';' || ans.rr[i].text[8] == ' ' || !ans.rr[i].text[8])) {
            if (found++ == 0)
                *record = xstrdup(ans.rr[i].text);
        }
    auth_dns_answer_free(&ans);
    if (found > 1) {    /* more than one: as if none */
        free(*record);
        *record = NULL;
        return 0;
    }
    return st == AUTH_DNS_TEMP ? -1 : found;
}

static int auth_dmarc_spf_outcome(enum authres_result r)
{
    switch (r) {
    case AUTHRES_PASS: return DMARC_POLICY_SPF_OUTCOME_PASS;
    case AUTHRES_NONE: return DMARC_POLICY_SPF_OUTCOME_NONE;
    case AUTHRES_TEMPERROR: return DMARC_POLICY_SPF_OUTCOME_TMPFAIL;
    default: return DMARC_POLICY_SPF_OUTCOME_FAIL;
    }
}

static void auth_dmarc_store(DMARC_POLICY_T *pctx, const struct auth_spf_outcome *spf,
                             const struct auth_dkim_outcome *dkim)
{
    if (spf->domain[0])
        opendmarc_policy_store_spf(pctx, (u_char *)spf->domain, auth_dmarc_spf_outcome(spf->result),
                                   spf->helo ? DMARC_POLICY_SPF_ORIGIN_HELO
                                             : DMARC_POLICY_SPF_ORIGIN_MAILFROM, NULL);
    for (size_t i = 0; i < dkim->n; i++) {
        const struct auth_dkim_sig *s = &dkim->sigs[i];
        int r = s->result == AUTHRES_PASS ? DMARC_POLICY_DKIM_OUTCOME_PASS
              : s->result == AUTHRES_TEMPERROR ? DMARC_POLICY_DKIM_OUTCOME_TMPFAIL
                                               : DMARC_POLICY_DKIM_OUTCOME_FAIL;
        if (s->domain[0])
            opendmarc_policy_store_dkim(pctx, (u_char *)s->domain, (u_char *)s->selector, r, NULL);
    }
}

/* Whether this failing message falls in the pct percent the policy applies to. */
static int auth_dmarc_sampled(DMARC_POLICY_T *pctx)
{
    int pct = 100;
    unsigned r = 0;
    if (opendmarc_policy_fetch_pct(pctx, &pct) != DMARC_PARSE_OKAY || pct >= 100)
        return 1;
    if (getrandom(&r, sizeof r, GRND_NONBLOCK) != (ssize_t)sizeof r)
        r = (unsigned)rand();
    return (int)(r % 100) < pct;
}

/* The policy evaluated over record (found at org when org is not NULL). */
static void auth_dmarc_evaluate(const char *client, char *record, const char *org,
                                const struct auth_spf_outcome *spf,
                                const struct auth_dkim_outcome *dkim, struct auth_dmarc_outcome *out)
{
    int v6 = client && strchr(client, ':');
    DMARC_POLICY_T *pctx = opendmarc_policy_connect_init((u_char *)(client ? client : "0.0.0.0"),
                                                         v6 ? DMARC_POLICY_IP_TYPE_IPV6
                                                            : DMARC_POLICY_IP_TYPE_IPV4);
    out->result = AUTHRES_PERMERROR;
    if (!pctx)
        return;
    if (opendmarc_policy_store_dmarc(pctx, (u_char *)record, (u_char *)out->from_domain,
                                     (u_char *)org) == DMARC_PARSE_OKAY) {
        auth_dmarc_store(pctx, spf, dkim);
        int st = opendmarc_get_policy_to_enforce(pctx);
        out->result = st == DMARC_POLICY_PASS ? AUTHRES_PASS : AUTHRES_FAIL;
        out->policy = st == DMARC_POLICY_REJECT ? 'r' : st == DMARC_POLICY_QUARANTINE ? 'q' : 'n';
        if (st == DMARC_POLICY_ABSENT)
            out->result = AUTHRES_NONE, out->policy = '\0';
        if (out->policy == 'r' && !auth_dmarc_sampled(pctx))
            out->policy = 'q';
        out->reject = out->result == AUTHRES_FAIL && out->policy == 'r';
    }
    opendmarc_policy_connect_shutdown(pctx);
}

void auth_dmarc_check(struct auth_dns *d, const char *client, const struct queue_content *m,
                      const struct auth_spf_outcome *spf, const struct auth_dkim_outcome *dkim,
                      struct auth_dmarc_outcome *out)
{
    char *record = NULL, org[256];
    memset(out, 0, sizeof *out);
    out->result = AUTHRES_NONE;
    if (auth_dmarc_from_domain(m, out->from_domain, sizeof out->from_domain) < 0) {
        out->result = AUTHRES_PERMERROR;    /* no From, or one with several domains */
        return;
    }
    pthread_once(&auth_dmarc_once, auth_dmarc_init);
    int found = auth_dmarc_record(d, out->from_domain, &record);
    const char *at_org = NULL;
    auth_dmarc_org(out->from_domain, org, sizeof org);
    if (found == 0 && org[0] && strcasecmp(org, out->from_domain) != 0) {
        found = auth_dmarc_record(d, org, &record);
        at_org = org;
    }
    if (found < 0)
        out->result = AUTHRES_TEMPERROR;
    else if (found > 0)
        auth_dmarc_evaluate(client, record, at_org, spf, dkim, out);
    free(record);
}
