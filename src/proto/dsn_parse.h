/*
 * dsn_parse: reads a delivery-status notice (RFC 3464 inside an RFC 6522
 * multipart/report): the per-message and per-recipient fields, and the
 * Message-ID of the returned message or header section. Pure: no I/O.
 */
#ifndef POSTINO_DSN_PARSE_H
#define POSTINO_DSN_PARSE_H
#include <stddef.h>

#define DSN_PARSE_RCPTS_MAX 100
struct dsn_parsed_rcpt {
    char original_rcpt[512]; char final_rcpt[512]; char action[16]; char status[16];
    char remote_mta[256]; char diagnostic[1024];
};
struct dsn_parsed {
    char envid[256]; char reporting_mta[256]; char message_id[256];
    struct dsn_parsed_rcpt rcpts[DSN_PARSE_RCPTS_MAX]; size_t n_rcpts;
};
/* 0 if msg[0..len) is a multipart/report; report-type=delivery-status with a parseable
 * delivery-status part; -1 otherwise. */
int dsn_parse(const char *msg, size_t len, struct dsn_parsed *out);

#endif
