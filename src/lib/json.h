/*
 * json: minimal JSON output helpers (strings escaped per RFC 8259).
 * No mail knowledge.
 */
#ifndef POSTINO_JSON_H
#define POSTINO_JSON_H
#include "lib/buf.h"

/* Appends s as a JSON string ("null" for NULL). Bytes >= 0x80 are passed through (UTF-8). */
int json_str(struct buf *b, const char *s);

#endif
