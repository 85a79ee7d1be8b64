/*
 * json: minimal JSON output helpers (strings escaped per RFC 8259).
 * No mail knowledge.
 */
#ifndef POSTINO_JSON_H
#define POSTINO_JSON_H
#include "lib/buf.h"

/* Appends s as a JSON string ("null" for NULL). Well-formed UTF-8 passes through; any
 * other byte >= 0x80 becomes \ufffd, so the output is valid JSON whatever s holds. */
int json_str(struct buf *b, const char *s);

#endif
