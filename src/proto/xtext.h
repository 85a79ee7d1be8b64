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
/* xtext_decode, but "+XX" may stand for an octet over 127 when the whole result is UTF-8
 * in NFC without controls: an rfc822 ORCPT of a UTF-8 address, as Postfix writes it in an
 * SMTPUTF8 transaction (RFC 6533 would have the utf-8 type). */
int xtext_decode_utf8(const char *in, size_t len, struct buf *out);
/* Encodes len bytes, appending to out. -1 only if out's limit is reached. */
int xtext_encode(const char *in, size_t len, struct buf *out);

/*
 * Decodes an RFC 6533 utf-8-addr-xtext or utf-8-addr-unitext (QCHAR, UTF-8,
 * and "\x{HEX}" for any other character) into UTF-8 in dst (size bytes).
 * The result must be valid UTF-8 in NFC without control characters.
 * 0, or -1 if malformed or too long.
 */
int xtext_utf8_decode(const char *v, size_t n, char *dst, size_t size);
/*
 * Encodes a UTF-8 address for ORCPT=utf-8; (RFC 6533 3): with unitext 1 the
 * utf-8-addr-unitext form (UTF-8 kept, for an SMTPUTF8 transaction), else the
 * utf-8-addr-xtext form (all non-ASCII as "\x{HEX}"). '+', '=', '\\' and
 * controls are always escaped. 0, or -1 if it is no valid UTF-8 or too long.
 */
int xtext_utf8_encode(const char *addr, int unitext, char *dst, size_t size);

#endif
