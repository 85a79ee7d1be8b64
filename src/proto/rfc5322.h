/*
 * rfc5322: small formatters for Internet message headers (RFC 5322): the
 * date-time form used in Date:, Received: and DSN fields. Pure, no I/O.
 */
#ifndef POSTINO_RFC5322_H
#define POSTINO_RFC5322_H
#include <stddef.h>
#include <time.h>

/* "Tue, 24 Nov 2026 08:00:00 +0000" (always UTC, C-locale names). -1 if it does not fit. */
int rfc5322_date(time_t t, char *out, size_t size);

#endif
