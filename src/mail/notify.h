/*
 * notify: which Delivery Status Notifications a queued message owes
 * (RFC 3461 sections 5-6, DSN.md section 3). Pure decisions over the
 * envelope; building the notice is mail/dsn, sending it is the scheduler's.
 * A notice is owed for recipient r when:
 *   failed     r failed, NOTIFY absent or with FAILURE
 *   delayed    r still waits after delay_warning, NOTIFY absent or with DELAY (once)
 *   delivered  r was put in a local mailbox, NOTIFY has SUCCESS
 *   relayed    r went to a next hop that does not speak DSN, NOTIFY has SUCCESS
 *   expanded   r is an alias of several targets, NOTIFY has SUCCESS
 * never for NOTIFY=NEVER, and never for a message with the null sender.
 * What was sent is remembered in env_rcpt.dsn_sent (NOTIFY_* bits, plus
 * NOTIFY_PASSED_ON when a DSN-capable next hop took the duty over), which also
 * tells whose words last_reply holds (NOTIFY_OWN_REPLY).
 */
#ifndef POSTINO_NOTIFY_H
#define POSTINO_NOTIFY_H
#include <stddef.h>
#include <stdint.h>
#include "mail/envelope.h"

/* dsn_sent bit: relayed to a next hop that offered DSN; it reports from now on. */
#define NOTIFY_PASSED_ON 16u
/* dsn_sent bit: an alias of several targets (a list: "expanded"), whatever the
 * number of targets that were new recipients; without it an alias is a forward. */
#define NOTIFY_LIST 32u
/* dsn_sent bit: last_reply is postino's own decision (e.g. a message larger than the
 * next hop's advertised SIZE), not an answer of the server remote_mta names. Absent
 * (as in files written before it existed): a reply with an SMTP code from a named
 * remote server is that server's. */
#define NOTIFY_OWN_REPLY 64u

enum notify_kind { NOTIFY_NONE = 0, NOTIFY_FAILED, NOTIFY_DELAYED, NOTIFY_DELIVERED,
                   NOTIFY_RELAYED, NOTIFY_EXPANDED };

/* The notice recipient i owes now (NOTIFY_NONE if none). */
enum notify_kind notify_owed(const struct envelope *e, size_t i, int64_t now_ms,
                             int64_t delay_warning_ms);
/* 1 if any recipient owes a notice now. */
int notify_any_owed(const struct envelope *e, int64_t now_ms, int64_t delay_warning_ms);
/* The dsn_sent bit that records a notice of this kind. */
unsigned notify_sent_bit(enum notify_kind k);
const char *notify_kind_name(enum notify_kind k);   /* "failed", "delayed", ... */

/*
 * What a remote server said for recipient r, within its last reply: the reply
 * itself, or what follows "last error: " in an expiry (4.4.7); NULL when no
 * remote server answered (no remote_mta, NOTIFY_OWN_REPLY, or no SMTP code).
 * Only this may become a notice's "Diagnostic-Code: smtp;".
 */
const char *notify_remote_reply(const struct env_rcpt *r);
/*
 * postino's own words in r's last reply (malloc'd), or NULL: all of it when no
 * remote server answered, the part before "; last error: " when the remote
 * reply is embedded, nothing when the whole reply is the server's.
 */
char *notify_own_reason(const struct env_rcpt *r);

#endif
