/*
 * fuzz_addrlist: libFuzzer harness for proto/addrlist. Parses arbitrary bytes
 * (copied to an exact-size buffer so ASan sees any over-read) with and without
 * a default domain. Checks: the result is 0 or -1, and -1 comes with a message;
 * every reported address fits the RFC 5321 limits, passes addr_parse_mailbox
 * and formats back to the same text; a value that parses without a default
 * domain yields the same addresses with one; a callback's stop value is
 * returned after exactly that many reports; addrlist_field_domain on the same
 * bytes as a header section yields a non-empty domain or -1. Build: tests/fuzz/run.sh.
 */
#include <assert.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "proto/addr.h"
#include "proto/addrlist.h"
#include "lib/str.h"

#define FUZZ_MAX_SEEN 64

struct fuzz_seen {
    char text[4096];
    size_t used;
    int count;
    int stop_at;  /* return 9 at this report (1-based), 0 = never */
};

static int fuzz_cb(void *ctx, const char *addr)
{
    struct fuzz_seen *seen = ctx;
    char again[ADDR_LOCAL_MAX + ADDR_DOMAIN_MAX + 2];
    struct addr a;
    size_t n = strlen(addr);
    assert(n > 0 && n <= ADDR_LOCAL_MAX + 1 + ADDR_DOMAIN_MAX);
    assert(addr_parse_mailbox(addr, &a) == ADDR_OK);
    assert(addr_format(&a, again, sizeof again) == 0 && strcmp(again, addr) == 0);
    if (seen->used + n + 2 < sizeof seen->text) {
        memcpy(seen->text + seen->used, addr, n);
        seen->used += n;
        seen->text[seen->used++] = '|';
        seen->text[seen->used] = '\0';
    }
    seen->count++;
    return seen->count == seen->stop_at ? 9 : 0;
}

static int fuzz_run(const char *s, size_t n, const char *dd, struct fuzz_seen *seen, int stop_at)
{
    const char *err = "unset";
    memset(seen, 0, sizeof *seen);
    seen->stop_at = stop_at;
    int rc = addrlist_parse(s, n, dd, fuzz_cb, seen, &err);
    if (rc == 9) {
        assert(stop_at > 0 && seen->count == stop_at && err == NULL);
        return rc;
    }
    assert(rc == 0 || rc == -1);
    assert(rc == 0 ? err == NULL : err != NULL && err[0] != '\0');
    assert(stop_at == 0 || seen->count < stop_at);
    return rc;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static struct fuzz_seen plain, qualified, stopped;
    char *s = malloc(size ? size : 1);
    if (size)
        memcpy(s, data, size);
    int rc = fuzz_run(s, size, NULL, &plain, 0);
    int rc_dd = fuzz_run(s, size, "d.example", &qualified, 0);
    if (rc == 0) {
        assert(rc_dd == 0 && qualified.count == plain.count);
        assert(strcmp(qualified.text, plain.text) == 0);
    }
    assert(qualified.count >= plain.count);
    if (qualified.count > 0) {
        int k = 1 + (int)(size % (size_t)qualified.count);
        assert(fuzz_run(s, size, "d.example", &stopped, k) == 9);
        assert(strncmp(stopped.text, qualified.text, stopped.used) == 0);
    }
    assert(addrlist_parse(s, size, NULL, NULL, NULL, NULL) == rc);
    char dom[ADDR_DOMAIN_MAX + 1];
    if (addrlist_field_domain(s, size, "From", dom, sizeof dom) == 0)
        assert(dom[0] != '\0' && strlen(dom) <= ADDR_DOMAIN_MAX);
    free(s);
    return 0;
}
