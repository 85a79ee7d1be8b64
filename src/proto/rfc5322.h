/*
 * rfc5322: small formatters for Internet message headers (RFC 5322): the
 * date-time form used in Date:, Received: and DSN fields. Pure, no I/O.
 */
#ifndef POSTINO_RFC5322_H
#define POSTINO_RFC5322_H
#include <stddef.h>
#include <time.h>

/* 9999-12-31 23:59:59 UTC: the last time a 4-digit year can say. */
#define RFC5322_TIME_MAX ((time_t)253402300799)

/* "Tue, 24 Nov 2026 08:00:00 +0000" (always UTC, C-locale names); times before
 * 1970 or after RFC5322_TIME_MAX are clamped to them. -1 if it does not fit. */
int rfc5322_date(time_t t, char *out, size_t size);

#endif
