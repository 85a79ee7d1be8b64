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
#include <stddef.h>
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
/* The same for a message in memory, msg[0..len) (a notice postino composed). */
int dkim_sign_text(const struct conf *c, const char *msg, size_t len, int notice,
                   struct buf *fields);

/*
 * The key for a message whose From domain is from_domain (lower case, may be
 * NULL): the dkim_sign line of exactly that domain; for a notice, the line
 * of the hostname's domain (the hostname itself, else the hostname minus its
 * first label), else the first line. NULL when none applies.
 */
const struct dkim_sign_key *dkim_sign_choose(const struct conf *c, const char *from_domain,
                                             int notice);

/*
 * Reads and checks every dkim_sign key file (a PEM RSA key of 1024 bits or
 * more, or an Ed25519 key): for `check`, the server's start and a reload.
 * 0, or -1 with "FILE:LINE: dkim_sign: KEYFILE: why" appended to err.
 */
int dkim_sign_check_keys(const struct conf *c, struct buf *err);

#endif
