/*
 * auth_dmarc: DMARC of one message (RFC 7489) with libopendmarc: the From
 * domain from the header section, its policy record (_dmarc.DOMAIN TXT,
 * else the organizational domain's, 6.6.3) fetched through auth_dns and
 * handed to libopendmarc (whose own lookups are never used), the SPF and
 * DKIM results stored, alignment and the policy to apply taken from it.
 * pct (6.6.4): a failing message is held to p=reject only for pct percent
 * of messages (a random draw); the others are treated as p=quarantine
 * (header only here). Blocking: for the check workers.
 */
#ifndef POSTINO_AUTH_DMARC_H
#define POSTINO_AUTH_DMARC_H
#include <stddef.h>
#include "mail/queue.h"
#include "msgauth/auth_dkim.h"
#include "msgauth/auth_dns.h"
#include "msgauth/auth_spf.h"
#include "proto/authres.h"

struct auth_dmarc_outcome {
    enum authres_result result; /* none (no From domain or no policy), pass, fail,
                                 * temperror (record lookup failed), permerror */
    char from_domain[256];      /* header.from */
    char policy;                /* 'n', 'q', 'r' applied; '\0' when none */
    int reject;                 /* fail under p=reject, chosen by pct */
};

void auth_dmarc_check(struct auth_dns *d, const char *client, const struct queue_content *m,
                      const struct auth_spf_outcome *spf, const struct auth_dkim_outcome *dkim,
                      struct auth_dmarc_outcome *out);

#endif
