/*
 * notify: the notice decisions of RFC 3461 (see notify.h).
 */
#include "mail/notify.h"
#include "lib/alloc.h"
#include "mail/dsn.h"
#include <string.h>

#define LAST_ERROR "; last error: "

static size_t notify_children(const struct envelope *e, size_t i)
{
    size_t n = 0;
    for (size_t k = 0; k < e->n_rcpts; k++)
        n += e->rcpts[k].parent == (int)i;
    return n;
}

unsigned notify_sent_bit(enum notify_kind k)
{
    switch (k) {
    case NOTIFY_FAILED: return NOTIFY_FAILURE;
    case NOTIFY_DELAYED: return NOTIFY_DELAY;
    case NOTIFY_DELIVERED:
    case NOTIFY_RELAYED:
    case NOTIFY_EXPANDED: return NOTIFY_SUCCESS;
    default: return 0;
    }
}

const char *notify_kind_name(enum notify_kind k)
{
    static const char *names[] = {"none", "failed", "delayed", "delivered", "relayed", "expanded"};
    return names[k];
}

/* What the recipient's state calls for, before NOTIFY and dsn_sent are checked. */
static enum notify_kind notify_candidate(const struct envelope *e, size_t i, int64_t now_ms,
                                         int64_t delay_warning_ms)
{
    const struct env_rcpt *r = &e->rcpts[i];
    switch (r->status) {
    case RCPT_FAILED: return NOTIFY_FAILED;
    case RCPT_DELIVERED: return NOTIFY_DELIVERED;
    case RCPT_RELAYED: return (r->dsn_sent & NOTIFY_PASSED_ON) ? NOTIFY_NONE : NOTIFY_RELAYED;
    case RCPT_EXPANDED:
        return (r->dsn_sent & NOTIFY_LIST) || notify_children(e, i) > 1 ? NOTIFY_EXPANDED
                                                                         : NOTIFY_NONE;
    case RCPT_PENDING:
    case RCPT_DEFERRED:
        return delay_warning_ms > 0 && now_ms - e->arrival >= delay_warning_ms ? NOTIFY_DELAYED
                                                                             : NOTIFY_NONE;
    }
    return NOTIFY_NONE;
}

enum notify_kind notify_owed(const struct envelope *e, size_t i, int64_t now_ms,
                             int64_t delay_warning_ms)
{
    const struct env_rcpt *r = &e->rcpts[i];
    if (!e->sender || !e->sender[0] || (r->notify & NOTIFY_NEVER))
        return NOTIFY_NONE;
    enum notify_kind k = notify_candidate(e, i, now_ms, delay_warning_ms);
    unsigned bit = notify_sent_bit(k);
    if (k == NOTIFY_NONE || (r->dsn_sent & bit))
        return NOTIFY_NONE;
    /* no NOTIFY: failures and delays are reported, successes are not (RFC 3461 4.1) */
    unsigned asked = r->notify ? r->notify : (NOTIFY_FAILURE | NOTIFY_DELAY);
    return (asked & bit) ? k : NOTIFY_NONE;
}

int notify_any_owed(const struct envelope *e, int64_t now_ms, int64_t delay_warning_ms)
{
    for (size_t i = 0; i < e->n_rcpts; i++)
        if (notify_owed(e, i, now_ms, delay_warning_ms) != NOTIFY_NONE)
            return 1;
    return 0;
}

const char *notify_remote_reply(const struct env_rcpt *r)
{
    const char *reply = r->last_reply;
    if (!r->remote_mta || !r->remote_mta[0] || !reply || (r->dsn_sent & NOTIFY_OWN_REPLY))
        return NULL;
    if (dsn_reply_coded(reply))
        return reply; /* the server's reply, whatever its text says */
    const char *inner = strstr(reply, LAST_ERROR); /* our expiry wrapping the last reply */
    return inner && dsn_reply_coded(inner + strlen(LAST_ERROR)) ? inner + strlen(LAST_ERROR)
                                                                : NULL;
}

char *notify_own_reason(const struct env_rcpt *r)
{
    const char *remote = notify_remote_reply(r);
    if (!r->last_reply || remote == r->last_reply)
        return NULL;
    if (!remote)
        return xstrdup(r->last_reply);
    return xstrndup(r->last_reply, (size_t)(remote - r->last_reply) - strlen(LAST_ERROR));
}
