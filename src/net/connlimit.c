/*
 * connlimit: connection counts per client address (see connlimit.h).
 * A chained hash table of the addresses that have connections now; an
 * entry goes when its count drops to zero, so the table never holds more
 * entries than there are connections.
 */
#include "net/connlimit.h"
#include "lib/alloc.h"
#include "lib/str.h"
#include <stdlib.h>
#include <string.h>

#define CONNLIMIT_BUCKETS 1024
#define CONNLIMIT_IP_MAX 64

struct connlimit_entry {
    struct connlimit_entry *next;
    unsigned count;
    char ip[CONNLIMIT_IP_MAX];
};

struct connlimit {
    unsigned max_total, max_per_ip, total;
    struct connlimit_entry *bucket[CONNLIMIT_BUCKETS];
};

struct connlimit *connlimit_new(unsigned max_total, unsigned max_per_ip)
{
    struct connlimit *cl = xcalloc(1, sizeof *cl);
    cl->max_total = max_total;
    cl->max_per_ip = max_per_ip;
    return cl;
}

void connlimit_set_per_ip(struct connlimit *cl, unsigned max_per_ip)
{
    cl->max_per_ip = max_per_ip;
}

/* FNV-1a over the address text. */
static struct connlimit_entry **connlimit_slot(struct connlimit *cl, const char *ip)
{
    unsigned h = 2166136261u;
    for (const unsigned char *p = (const unsigned char *)ip; *p; p++)
        h = (h ^ *p) * 16777619u;
    struct connlimit_entry **slot = &cl->bucket[h % CONNLIMIT_BUCKETS];
    while (*slot && strcmp((*slot)->ip, ip) != 0)
        slot = &(*slot)->next;
    return slot;
}

unsigned connlimit_of(struct connlimit *cl, const char *ip)
{
    struct connlimit_entry *e = *connlimit_slot(cl, ip);
    return e ? e->count : 0;
}

unsigned connlimit_total(const struct connlimit *cl)
{
    return cl->total;
}

int connlimit_admit(struct connlimit *cl, const char *ip, int exempt)
{
    struct connlimit_entry **slot = connlimit_slot(cl, ip);
    unsigned mine = *slot ? (*slot)->count : 0;
    if (cl->total >= cl->max_total || (!exempt && mine >= cl->max_per_ip))
        return -1;
    if (!*slot) {
        *slot = xcalloc(1, sizeof **slot);
        str_copy((*slot)->ip, sizeof (*slot)->ip, ip);
    }
    (*slot)->count++;
    cl->total++;
    return 0;
}

void connlimit_leave(struct connlimit *cl, const char *ip)
{
    struct connlimit_entry **slot = connlimit_slot(cl, ip), *e = *slot;
    if (!e)
        return;
    cl->total--;
    if (--e->count == 0) {
        *slot = e->next;
        free(e);
    }
}

void connlimit_free(struct connlimit *cl)
{
    if (!cl)
        return;
    for (size_t i = 0; i < CONNLIMIT_BUCKETS; i++)
        while (cl->bucket[i]) {
            struct connlimit_entry *e = cl->bucket[i];
            cl->bucket[i] = e->next;
            free(e);
        }
    free(cl);
}
