/*
 * alias: the aliases file (INTERFACE.md: "alias@domain: target, target ...").
 * Targets may be local or remote addresses. Lookup is case-insensitive.
 * Loading reports "FILE:LINE: message" for a bad line. Pure data, no I/O
 * beyond reading the file.
 */
#ifndef POSTINO_ALIAS_H
#define POSTINO_ALIAS_H
#include <stddef.h>
#include "lib/buf.h"

struct aliases;

struct aliases *aliases_load(const char *path, struct buf *err);
void aliases_free(struct aliases *a);
/* Targets of alias local@domain ("user@domain" strings), *n set; NULL if not an alias. */
const char *const *aliases_lookup(const struct aliases *a, const char *local, const char *domain,
                                  size_t *n);
size_t aliases_count(const struct aliases *a);

#endif
