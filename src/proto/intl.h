/*
 * intl: the checks and conversions internationalized mail needs, pure, no
 * I/O, thread-safe. UTF-8 validity, Unicode NFC (RFC 6531 3.3 asks that
 * UTF-8 addresses be in NFC; RFC 5198), no control characters; IDNA2008
 * domain conversion U-label <-> A-label (RFC 5890, RFC 5891) through
 * libidn2, and the comparison keys built from it so that "bücher.test" and
 * "xn--bcher-kva.test" name the same domain.
 * IDN flags: IDN2_NFC_INPUT | IDN2_NONTRANSITIONAL (UTS #46 non-transitional
 * mapping: upper case folds to lower, "ß" stays "ß" as IDNA2008 intends;
 * transitional processing would turn "straße" into "strasse", a different
 * domain).
 */
#ifndef POSTINO_INTL_H
#define POSTINO_INTL_H
#include <stddef.h>

/* The longest domain in either form, NUL included (RFC 1035 2.3.4: 255 octets). */
#define INTL_DOMAIN_MAX 256

/* 1 if s[0..n) is all ASCII (no octet over 127). */
int intl_is_ascii(const char *s, size_t n);
/*
 * 1 if s[0..n) is well-formed UTF-8 (no overlong form, no surrogate), in
 * Unicode NFC, and free of control characters (C0, DEL, C1 U+0080-U+009F).
 */
int intl_utf8_ok(const char *s, size_t n);
/*
 * The A-label (ASCII) form of a domain, in lower case, into out. An ASCII
 * domain is only lowered (address literals too); a domain with U-labels is
 * converted with libidn2. 0, or -1 if it is no valid IDN or does not fit.
 */
int intl_domain_to_ascii(const char *domain, char *out, size_t size);
/* The U-label form of a domain (A-labels decoded), into out. 0, or -1. */
int intl_domain_to_unicode(const char *domain, char *out, size_t size);
/* 1 if both name the same domain (A-label forms equal, case ignored). */
int intl_domain_equal(const char *a, const char *b);
/*
 * The comparison key of "local@domain": the local part with ASCII letters
 * lowered (other octets kept: a UTF-8 local part is never broken), "@", the
 * domain's A-label form. 0, or -1 (no '@', bad domain, too long).
 */
int intl_mailbox_key(const char *mailbox, char *out, size_t size);
/*
 * 1 if the header section at the start of a message (buf[0..n), up to the
 * first empty line or n) holds an octet over 127: RFC 6532 UTF-8 headers,
 * which only an SMTPUTF8 next hop may receive.
 */
int intl_head_8bit(const char *buf, size_t n);

#endif
