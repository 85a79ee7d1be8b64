/*
 * dkim_sign: DKIM signatures on mail postino sends on (dkim_sign.h).
 * Not built yet: signs nothing.
 */
#include "msgauth/dkim_sign.h"

int dkim_sign_message(const struct conf *c, const struct queue_content *m, int notice,
                      struct buf *fields)
{
    (void)c, (void)m, (void)notice, (void)fields;
    return 0;
}
