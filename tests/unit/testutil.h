/* Helpers shared by the unit tests: temporary folders that are always removed. */
#ifndef POSTINO_TESTUTIL_H
#define POSTINO_TESTUTIL_H
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
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

/*
 * A temporary folder per test, made by setup() and removed by teardown():
 *   TESTUTIL_TMPDIR_FIXTURES("queue")  ->  static char tmpdir[], setup, teardown
 */
#define TESTUTIL_TMPDIR_FIXTURES(name)                                             \
    static char tmpdir[64];                                                        \
    static int setup(void **st)                                                    \
    {                                                                              \
        (void)st;                                                                  \
        snprintf(tmpdir, sizeof tmpdir, "/tmp/postino-" name "-XXXXXX");           \
        return mkdtemp(tmpdir) ? 0 : -1;                                           \
    }                                                                              \
    static int teardown(void **st)                                                 \
    {                                                                              \
        (void)st;                                                                  \
        testutil_rm_rf(tmpdir);                                                    \
        return 0;                                                                  \
    }

#endif
