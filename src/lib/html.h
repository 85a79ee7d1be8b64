/*
 * html: writing text into HTML. Every value a page shows goes through
 * html_escape, so no byte of a message, an address or a request can open a
 * tag or an attribute. Pure; no mail knowledge.
 */
#ifndef POSTINO_HTML_H
#define POSTINO_HTML_H
#include <stddef.h>
#include "lib/buf.h"

/* Appends s[0..n) to b with & < > " ' escaped; NUL and C0 controls other than
 * TAB, LF and CR become U+FFFD. 0, or -1 when b is full. */
int html_escape(struct buf *b, const char *s, size_t n);
/* html_escape of a C string (NULL: nothing). */
int html_escapes(struct buf *b, const char *s);
/* Appends s percent-encoded for a URL path segment or query value (RFC 3986
 * unreserved characters kept). 0 or -1. */
int html_urlencode(struct buf *b, const char *s);
#endif
