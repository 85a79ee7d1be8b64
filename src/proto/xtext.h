/*
 * xtext: the RFC 3461 section 4 encoding of DSN parameters (ENVID, ORCPT).
 * Printable ASCII '!'..'~' except '+' and '=' stands for itself; any other
 * byte is "+XX" with two upper-case hex digits. Pure, no I/O.
 * Decoding is strict and also refuses results carrying control characters
 * (CR, LF, NUL, any byte < 0x20 or 0x7f): such a value must never reach a
 * header or the queue file. Decoded bytes >= 0x80 are refused too: RFC 3461
 * 4.2 and 4.4 require the decoded value to be printable US-ASCII.
 */
#ifndef POSTINO_XTEXT_H
#define POSTINO_XTEXT_H
#include <stddef.h>
#include "lib/buf.h"

/* Decodes len bytes of xtext, appending to out. -1 on malformed input or forbidden result.
 * Lower-case hex digits are accepted on input (liberal), '+' must be followed by two hex digits. */
int xtext_decode(const char *in, size_t len, struct buf *out);
/* Encodes len bytes, appending to out. -1 only if out's limit is reached. */
int xtext_encode(const char *in, size_t len, struct buf *out);

#endif
