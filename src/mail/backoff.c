/*
 * backoff: the retry delay of a deferred recipient (see backoff.h).
 */
#include "mail/backoff.h"
#include <stdint.h>

int64_t backoff_delay(int64_t retry_min_ms, int64_t retry_max_ms, unsigned attempts,
                      unsigned jitter_seed)
{
    int64_t d = retry_min_ms > 0 ? retry_min_ms : 1000;
    /* doubling stops at the cap (and before int64 would overflow), whatever attempts is */
    for (unsigned i = 1; i < attempts && d < retry_max_ms && d <= INT64_MAX / 2; i++)
        d *= 2;
    if (d > retry_max_ms && retry_max_ms > 0)
        d = retry_max_ms;
    int64_t j = d / 10;
    if (j > 0)
        d += (int64_t)(jitter_seed % (unsigned)(2 * j + 1)) - j;
    return d;
}
