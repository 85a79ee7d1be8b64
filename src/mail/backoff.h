/*
 * backoff: when a deferred recipient is tried again (RFC 5321 4.5.4.1,
 * RFC 1123 5.3.1.1: a retry interval that grows, bounded): retry_min for
 * the first retry, doubling with each attempt, capped at retry_max, with
 * +-10% jitter so that messages deferred together do not return together.
 * A pure function: the caller supplies the jitter's random number.
 */
#ifndef POSTINO_BACKOFF_H
#define POSTINO_BACKOFF_H
#include <stdint.h>

/*
 * The delay in ms before the next try after `attempts` attempts (1 = the
 * first failed): retry_min_ms * 2^(attempts-1), at most retry_max_ms, then
 * +-10% by jitter_seed. retry_min_ms <= 0 counts as 1 s; attempts 0 as 1.
 */
int64_t backoff_delay(int64_t retry_min_ms, int64_t retry_max_ms, unsigned attempts,
                      unsigned jitter_seed);

#endif
