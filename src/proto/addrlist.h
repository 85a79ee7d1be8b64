/*
 * addrlist: RFC 5322 address-list parsing (section 3.4 and the obsolete
 * syntax of section 4.4) for To/Cc/Bcc header field values, pure, no I/O.
 * Reports each mailbox as an RFC 5321 "local@domain" that proto/addr accepts,
 * so the caller can use it as an SMTP forward-path without further checks.
 */
#ifndef POSTINO_ADDRLIST_H
#define POSTINO_ADDRLIST_H
#include <stddef.h>

/* Called for each address found, as "local@domain" in RFC 5321 form (a local part
 * that is not a dot-atom keeps its quotes; an unqualified "user" gets "@" + default_domain). */
typedef int (*addrlist_cb)(void *ctx, const char *addr);
/*
 * Parses an RFC 5322 address-list (a To/Cc/Bcc header field value, possibly still
 * containing folding CRLF/LF + WSP) of len bytes. Calls cb for each mailbox, in order;
 * a non-zero return from cb stops parsing and is returned. Returns 0 when the whole
 * value was parsed, -1 on a syntax error with *err set to a static message (may be
 * NULL). default_domain may be NULL: then an unqualified address is an error.
 * cb may be NULL (validation only). On an error, cb may already have been called
 * for the mailboxes before it: treat the whole value as rejected.
 */
int addrlist_parse(const char *s, size_t len, const char *default_domain,
                   addrlist_cb cb, void *ctx, const char **err);

/*
 * The domain of the first mailbox of the first field named name (say "From")
 * in the header section of msg[0..len), lower-cased (ASCII letters only), as
 * a string in out. 0, or -1 when there is no such field, its value does not
 * parse, it has no mailbox, or the domain does not fit in size (an
 * address-literal is returned with its brackets).
 */
int addrlist_field_domain(const char *msg, size_t len, const char *name, char *out,
                          size_t size);

#endif
