/*
 * auth_spf: the SPF check of one message (RFC 7208) with libspf2, whose DNS
 * lookups go through auth_dns (a DNS layer of our own: libspf2's resolver
 * could neither use dns_servers nor be bounded in time). The identity is
 * the MAIL FROM domain, or the HELO name for the null sender (2.3, 2.4).
 * Blocking: for the check workers.
 */
#ifndef POSTINO_AUTH_SPF_H
#define POSTINO_AUTH_SPF_H
#include <stddef.h>
#include "mail/envelope.h"
#include "msgauth/auth_dns.h"
#include "proto/authres.h"

struct auth_spf_outcome {
    enum authres_result result;
    int helo;               /* the identity was the HELO name (smtp.helo) */
    char domain[256];       /* the domain checked ("" when there was none) */
};

void auth_spf_check(struct auth_dns *d, const struct envelope *e, struct auth_spf_outcome *out);

#endif
