/*
 * dkim_sign: DKIM signatures (RFC 6376; rsa-sha256, and ed25519-sha256 of
 * RFC 8463, by the key's type) on mail postino sends on: authenticated
 * submissions, `postino sendmail` and its own notices, with the dkim_sign
 * key of the From domain; relaxed/relaxed, From oversigned. Signing and
 * canonicalization are libopendkim's. Blocking (it reads the message): runs
 * on a worker thread, once per message, when the message is queued.
 */
#ifndef POSTINO_DKIM_SIGN_H
#define POSTINO_DKIM_SIGN_H
#include "lib/buf.h"
#include "mail/conf.h"
#include "mail/queue.h"

/*
 * Appends a "DKIM-Signature: ...\r\n" field for message m to fields when a
 * dkim_sign key matches its From domain (notice: a notice of postino's own,
 * signed with the key of the hostname's domain, else the first key). 0 (also
 * when no key applies), or -1 when signing failed: logged, the message goes
 * unsigned.
 */
int dkim_sign_message(const struct conf *c, const struct queue_content *m, int notice,
                      struct buf *fields);

#endif
