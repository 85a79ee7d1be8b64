/*
 * addr: RFC 5321 mailbox and path parsing (section 4.1.2), pure, no I/O.
 * Handles dot-atom and quoted-string local parts, domain names and address
 * literals ([1.2.3.4], [IPv6:...]), the <> null path, and drops an obsolete
 * source route (@a,@b:user@d) as RFC 5321 4.1.1.3 / appendix C allow: the
 * route is never used, so it cannot be a path to relaying.
 * Limits (RFC 5321 4.5.3.1): local part 64 octets, domain 255, path 256.
 */
#ifndef POSTINO_ADDR_H
#define POSTINO_ADDR_H
#include <stddef.h>

#define ADDR_LOCAL_MAX 64
#define ADDR_DOMAIN_MAX 255

enum addr_err {
    ADDR_OK = 0,
    ADDR_SYNTAX,           /* not a valid mailbox/path */
    ADDR_LOCAL_TOO_LONG,   /* local part over 64 octets */
    ADDR_DOMAIN_TOO_LONG,  /* domain over 255 octets */
};

struct addr {
    int is_null;                       /* the <> path */
    int utf8;                          /* local part or domain holds UTF-8 (RFC 6531) */
    char local[ADDR_LOCAL_MAX + 1];    /* as written: quoted form kept if it needs quotes */
    char domain[ADDR_DOMAIN_MAX + 1];  /* as written; literal keeps its brackets; "" for <Postmaster> */
};

/*
 * Parses a path "<...>" at the start of s (len bytes, not NUL-terminated).
 * allow_null: accept "<>" (MAIL FROM). allow_postmaster: accept "<Postmaster>"
 * without a domain (RCPT TO, RFC 5321 4.1.1.3). On success *consumed is the
 * number of bytes used (through the '>').
 * A quoted local part whose content is a valid dot-atom is stored unquoted
 * ("bob"@x == bob@x); otherwise the quoted form is kept.
 */
enum addr_err addr_parse_path(const char *s, size_t len, int allow_null, int allow_postmaster,
                              struct addr *out, size_t *consumed);
/* What addr_parse_path_flags / addr_parse_mailbox_flags accept beyond plain ASCII mailboxes. */
#define ADDR_ALLOW_NULL 1u        /* "<>" */
#define ADDR_ALLOW_POSTMASTER 2u  /* "<Postmaster>" without a domain */
#define ADDR_ALLOW_UTF8 4u        /* RFC 6531 3.3: UTF-8 in the local part, U-labels in the
                                     domain; checked as valid UTF-8 in NFC without control
                                     characters, the domain as a valid IDN (libidn2) */
/* addr_parse_path with ADDR_ALLOW_* flags. */
enum addr_err addr_parse_path_flags(const char *s, size_t len, unsigned flags, struct addr *out,
                                    size_t *consumed);
/* addr_parse_mailbox_n with ADDR_ALLOW_UTF8 (the other flags mean nothing here). */
enum addr_err addr_parse_mailbox_flags(const char *s, size_t len, unsigned flags,
                                       struct addr *out);
/* Parses a bare mailbox "local@domain" (whole NUL-terminated string, no <>). */
enum addr_err addr_parse_mailbox(const char *s, struct addr *out);
/* Same over exactly len bytes (not NUL-terminated): the whole buffer must be the mailbox. */
enum addr_err addr_parse_mailbox_n(const char *s, size_t len, struct addr *out);
/* Writes "local@domain" (or "" for null, "local" when domain is empty). -1 if it does not fit. */
int addr_format(const struct addr *a, char *out, size_t size);
/* 1 if the domain is an address literal ("[...]"). */
int addr_is_literal(const struct addr *a);
/* Case-insensitive comparison of domains (U-labels as their A-labels: intl_domain_equal);
 * local parts compared with ASCII letters case-insensitive, other octets exactly. */
int addr_equal(const struct addr *a, const struct addr *b);

#endif
