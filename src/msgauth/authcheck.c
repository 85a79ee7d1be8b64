/*
 * authcheck: SPF, DKIM and DMARC on untrusted inbound mail (authcheck.h).
 * One auth_dns per message bounds all its lookups (AUTH_DNS_BUDGET_MS); the
 * three checks run in turn (DMARC needs the other two), the outcome becomes
 * one Authentication-Results field (proto/authres) and one log line.
 * Settings: hostname (the authserv-id), dns_servers, dmarc_reject.
 */
#include "msgauth/authcheck.h"
#include "lib/log.h"
#include "lib/str.h"
#include "msgauth/auth_dkim.h"
#include "msgauth/auth_dmarc.h"
#include "msgauth/auth_dns.h"
#include "msgauth/auth_spf.h"
#include "proto/authres.h"
#include "proto/esc.h"
#include <string.h>

#define AUTHCHECK_ENTRIES (2 + AUTH_DKIM_MAX_SIGS)

struct authcheck_outcome {
    struct auth_spf_outcome spf;
    struct auth_dkim_outcome dkim;
    struct auth_dmarc_outcome dmarc;
};

static const char *authcheck_policy_word(char p)
{
    return p == 'r' ? "p=reject" : p == 'q' ? "p=quarantine" : p == 'n' ? "p=none" : NULL;
}

/* The resinfo entries of the outcome: spf, one dkim per signature (or none), dmarc. */
static size_t authcheck_entries(const struct authcheck_outcome *o, struct authres_entry *e)
{
    size_t n = 0;
    e[n] = (struct authres_entry){.method = "spf", .result = o->spf.result};
    if (o->spf.domain[0]) {
        e[n].props[0][0] = o->spf.helo ? "smtp.helo" : "smtp.mailfrom";
        e[n].props[0][1] = o->spf.domain;
    }
    n++;
    for (size_t i = 0; i < o->dkim.n; i++) {
        const struct auth_dkim_sig *s = &o->dkim.sigs[i];
        e[n] = (struct authres_entry){.method = "dkim", .result = s->result,
                                      .comment = s->reason[0] ? s->reason : NULL,
                                      .props = {{"header.d", s->domain}, {"header.s", s->selector}}};
        n++;
    }
    if (o->dkim.n == 0)
        e[n++] = (struct authres_entry){.method = "dkim", .result = o->dkim.unsigned_result};
    e[n] = (struct authres_entry){.method = "dmarc", .result = o->dmarc.result,
                                  .comment = authcheck_policy_word(o->dmarc.policy)};
    if (o->dmarc.from_domain[0]) {
        e[n].props[0][0] = "header.from";
        e[n].props[0][1] = o->dmarc.from_domain;
    }
    return n + 1;
}

/* One line per message: "spf=pass dkim=pass,fail dmarc=pass". */
static void authcheck_log(const struct envelope *e, const struct authcheck_outcome *o, int refused)
{
    char dkim[128] = "";
    size_t len = 0;
    for (size_t i = 0; i < o->dkim.n && len + 12 < sizeof dkim; i++) {
        str_fmt(dkim + len, sizeof dkim - len, "%s%s", i ? "," : "",
                authres_result_name(o->dkim.sigs[i].result));
        len = strlen(dkim);
    }
    struct log_fields f = {.queue_id = e->id, .event = "authcheck", .client = e->client,
                           .from = e->sender};
    log_event(LOG_INFO, &f, "spf=%s dkim=%s dmarc=%s%s%s%s",
              authres_result_name(o->spf.result),
              o->dkim.n ? dkim : authres_result_name(o->dkim.unsigned_result),
              authres_result_name(o->dmarc.result), o->dmarc.from_domain[0] ? " header.from=" : "",
              o->dmarc.from_domain, refused ? " refused (dmarc p=reject)" : "");
}

void authcheck_run(const struct conf *c, const struct envelope *e, const struct queue_content *m,
                   struct buf *fields, char *refuse, size_t size)
{
    struct authcheck_outcome o;
    struct authres_entry entries[AUTHCHECK_ENTRIES];
    refuse[0] = '\0';
    memset(&o, 0, sizeof o);
    struct auth_dns *d = auth_dns_new(c, AUTH_DNS_BUDGET_MS);
    if (d) {
        auth_spf_check(d, e, &o.spf);
        auth_dkim_verify(d, m, &o.dkim);
        auth_dmarc_check(d, e->client, m, &o.spf, &o.dkim, &o.dmarc);
        auth_dns_free(d);
    } else {
        o.spf.result = o.dmarc.result = AUTHRES_TEMPERROR;
        o.dkim.unsigned_result = AUTHRES_TEMPERROR;
    }
    int refused = o.dmarc.reject && conf_is_on(c->dmarc_reject);
    if (refused) {
        /* the domain stays in the log: a reply is no place for text taken from the message */
        esc_reply(refuse, size, 550, ESC_DELIVERY_NOT_AUTHORIZED,
                  "Message refused by the DMARC policy of its From domain");
    } else {
        size_t n = authcheck_entries(&o, entries);
        if (authres_format(fields, c->hostname, entries, n) < 0)
            log_err("%s: authcheck: Authentication-Results does not fit", e->id);
    }
    authcheck_log(e, &o, refused);
}

int authcheck_keep_field(const char *field, size_t n, void *conf)
{
    const struct conf *c = conf;
    char id[AUTHRES_ID_MAX];
    if (authres_authserv_id(field, n, id, sizeof id) < 0)
        return 1;
    return !str_ieq(id, c->hostname);
}
