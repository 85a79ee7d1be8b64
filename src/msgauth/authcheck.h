/*
 * authcheck: the checks on mail from clients that are neither in
 * relay_networks nor authenticated (auth_checks on): SPF of the MAIL FROM
 * domain (of the HELO name for <>, RFC 7208), DKIM verification of every
 * signature (RFC 6376), DMARC alignment and policy of the From domain
 * (RFC 7489). The outcome is one Authentication-Results field (RFC 8601).
 * Blocking: runs on a worker thread, every DNS lookup bounded in time (a
 * timeout is temperror, never a hang).
 */
#ifndef POSTINO_AUTHCHECK_H
#define POSTINO_AUTHCHECK_H
#include <stddef.h>
#include "lib/buf.h"
#include "mail/conf.h"
#include "mail/envelope.h"
#include "mail/queue.h"

/*
 * Checks message m of envelope e (sender, helo, client address): appends
 * "Authentication-Results: HOSTNAME; spf=...; dkim=...; dmarc=...\r\n" to
 * fields. With dmarc_reject on and a failed p=reject policy, writes the 550
 * 5.7.1 reply into refuse (else leaves refuse[0] '\0').
 */
void authcheck_run(const struct conf *c, const struct envelope *e, const struct queue_content *m,
                   struct buf *fields, char *refuse, size_t size);
/* A queue_rewrite keep(): 0 for an Authentication-Results field whose authserv-id
 * is conf's hostname (a forgery: only postino writes those), else 1. */
int authcheck_keep_field(const char *field, size_t n, void *conf);

#endif
