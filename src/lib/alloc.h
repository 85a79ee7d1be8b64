/*
 * alloc: checked allocation. Every allocation in postino goes through here;
 * running out of memory aborts loudly instead of limping on with NULL.
 * No mail knowledge.
 */
#ifndef POSTINO_ALLOC_H
#define POSTINO_ALLOC_H
#include <stddef.h>

void *xmalloc(size_t n);
void *xcalloc(size_t count, size_t size);
void *xrealloc(void *p, size_t n);
char *xstrdup(const char *s);
char *xstrndup(const char *s, size_t n);
/* A copy of the n bytes at p (a valid pointer even for n == 0). */
void *xmemdup(const void *p, size_t n);

#endif
