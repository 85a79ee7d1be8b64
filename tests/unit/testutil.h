/* Helpers shared by the unit tests: temporary folders that are always removed. */
#ifndef POSTINO_TESTUTIL_H
#define POSTINO_TESTUTIL_H
#include <ftw.h>
#include <stdio.h>
#include <unistd.h>

static int testutil_rm_one(const char *p, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb;
    (void)flag;
    (void)ftw;
    return remove(p);
}

/* rm -rf path (no shell). */
static inline void testutil_rm_rf(const char *path)
{
    nftw(path, testutil_rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

#endif
