/*
 * auth_dkim: verification of every DKIM-Signature of one message (RFC
 * 6376) with libopendkim, its key lookups (selector._domainkey.domain TXT,
 * 3.6.2) answered through auth_dns by a key lookup callback (never by
 * libopendkim's own resolver). The message is read from the queued content
 * with pread in chunks. Blocking: for the check workers.
 */
#ifndef POSTINO_AUTH_DKIM_H
#define POSTINO_AUTH_DKIM_H
#include <stddef.h>
#include "mail/queue.h"
#include "msgauth/auth_dns.h"
#include "proto/authres.h"

#define AUTH_DKIM_MAX_SIGS 8    /* signatures reported on */

struct auth_dkim_sig {
    enum authres_result result;
    char domain[256];       /* d= */
    char selector[128];     /* s= */
    char reason[64];        /* why not pass, or "" */
};

struct auth_dkim_outcome {
    struct auth_dkim_sig sigs[AUTH_DKIM_MAX_SIGS];
    size_t n;               /* signatures reported on */
    enum authres_result unsigned_result;    /* with n == 0: none (unsigned), or
                                             * temperror/permerror (not checked) */
};

void auth_dkim_verify(struct auth_dns *d, const struct queue_content *m,
                      struct auth_dkim_outcome *out);

#endif
