/*
 * track_notice: matching incoming delivery-status notices (track.h).
 * Not built yet: matches nothing.
 */
#include "track/track.h"

void track_notice_check(struct track *t, const struct conf *c, const struct envelope *e,
                        const struct queue_content *m, struct buf *fields, char *refuse,
                        size_t size)
{
    (void)t, (void)c, (void)e, (void)m, (void)fields, (void)size;
    refuse[0] = '\0';
}
