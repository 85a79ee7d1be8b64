/*
 * fuzz_maildir: libFuzzer harness for the pure parts of mail/maildir. The
 * first byte is a knob (an output size, a cut point); the rest, split at
 * its first NUL, is a recipient address and a host name. Checks:
 * - the mailbox path built from an address as delivery builds it (split at
 *   the last '@', both parts lower-cased) never escapes the mailbox root:
 *   when maildir_box_path accepts, the path is ROOT "/mail/" DOMAIN "/"
 *   LOCAL, exactly two more components, none empty, "." or "..", none
 *   holding '/' or a control byte, and it fits its buffer; when it
 *   refuses, a part is not maildir_component_ok or the path does not fit
 *   (errno says which), at any buffer size;
 * - maildir_unique_name gives "SEC.QID_N.HOST" with '/' and ':' of the host
 *   escaped as \057 and \072: one component (no '/'), usable when the host
 *   has no control byte, and the host readable back from the escapes (when
 *   it holds no '\\', which is not escaped);
 * - maildir_crlf_to_lf gives the same bytes whether the input comes whole
 *   or cut in two anywhere (a CR at the cut is held back), turns each CRLF
 *   into LF and keeps every other byte.
 * Build: tests/fuzz/run.sh.
 */
#include <assert.h>
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "lib/str.h"
#include "mail/maildir.h"
#include "mail/route.h"

#define ROOT "/var/lib/postino"

static void check_component(const char *s, size_t n)
{
    assert(n > 0 && s[0] != '.'); /* so neither "." nor ".." */
    for (size_t i = 0; i < n; i++)
        assert(s[i] != '/' && (unsigned char)s[i] >= 0x20 && s[i] != 0x7f);
}

static void check_box(const char *addr, size_t size)
{
    char local[256], domain[256];
    if (route_split(addr, local, sizeof local, domain, sizeof domain) < 0)
        return;
    str_lower(local);
    char *path = malloc(size ? size : 1);
    errno = 0;
    if (maildir_box_path(path, size, ROOT, domain, local) < 0) {
        int bad = !maildir_component_ok(domain) || !maildir_component_ok(local);
        assert(errno == (bad ? EINVAL : ENAMETOOLONG));
        assert(bad || strlen(ROOT "/mail/") + strlen(domain) + 1 + strlen(local) >= size);
        free(path);
        return;
    }
    size_t len = strlen(path);
    assert(len < size && strncmp(path, ROOT "/mail/", strlen(ROOT "/mail/")) == 0);
    const char *d = path + strlen(ROOT "/mail/");
    const char *slash = strchr(d, '/');
    assert(slash && !strchr(slash + 1, '/'));
    check_component(d, (size_t)(slash - d));
    check_component(slash + 1, strlen(slash + 1));
    assert(strcmp(slash + 1, local) == 0 && (size_t)(slash - d) == strlen(domain));
    free(path);
}

/* Reads the host back from a unique name's escapes. */
static void unescape(const char *s, char *out)
{
    while (*s) {
        if (s[0] == '\\' && (strncmp(s, "\\057", 4) == 0 || strncmp(s, "\\072", 4) == 0)) {
            *out++ = s[2] == '5' ? '/' : ':';
            s += 4;
        } else {
            *out++ = *s++;
        }
    }
    *out = '\0';
}

static void check_unique_name(const char *host)
{
    char name[512], back[512];
    assert(maildir_unique_name(name, sizeof name, 1700000000, "0123456789ABCDEF", 7, host) == 0);
    const char *prefix = "1700000000.Q0123456789ABCDEF_7.";
    assert(strncmp(name, prefix, strlen(prefix)) == 0);
    assert(!strchr(name, '/') && !strchr(name, ':'));
    int clean = 1;
    for (const char *p = host; *p; p++)
        clean &= (unsigned char)*p >= 0x20 && *p != 0x7f;
    assert(!clean || maildir_component_ok(name));
    if (strchr(host, '\\'))
        return; /* a '\\' is not escaped: "\\057" in a host reads back as '/' */
    unescape(name + strlen(prefix), back);
    /* the whole host comes back unless it was cut at the name's limit */
    assert(strncmp(back, host, strlen(back)) == 0);
    size_t escaped = strlen(host);
    for (const char *p = host; *p; p++)
        escaped += (*p == '/' || *p == ':') ? 3 : 0;
    if (escaped < 250)
        assert(strcmp(back, host) == 0);
}

static void check_crlf(const char *in, size_t n, size_t cut)
{
    char *whole = malloc(n + 2), *parts = malloc(n + 2), *want = malloc(n + 1);
    struct maildir_lf a = { .held_cr = 0 }, b = { .held_cr = 0 };
    size_t wn = maildir_crlf_to_lf(&a, in, n, whole);
    cut = n ? cut % (n + 1) : 0;
    size_t pn = maildir_crlf_to_lf(&b, in, cut, parts);
    pn += maildir_crlf_to_lf(&b, in + cut, n - cut, parts + pn);
    assert(wn == pn && memcmp(whole, parts, wn) == 0 && a.held_cr == b.held_cr);
    size_t o = 0;
    for (size_t i = 0; i < n; i++)
        if (!(in[i] == '\r' && (i + 1 == n || in[i + 1] == '\n')))
            want[o++] = in[i];
    assert(a.held_cr == (n > 0 && in[n - 1] == '\r'));
    assert(wn == o && memcmp(whole, want, o) == 0);
    free(whole);
    free(parts);
    free(want);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0)
        return 0;
    unsigned knob = data[0];
    char *text = malloc(size);
    memcpy(text, data + 1, size - 1);
    text[size - 1] = '\0';
    const char *addr = text;
    const char *host = addr + strlen(addr) + 1 <= text + size - 1 ? addr + strlen(addr) + 1 : "";
    check_box(addr, knob < 128 ? knob : 4096);
    check_unique_name(host);
    check_crlf((const char *)data + 1, size - 1, knob);
    free(text);
    return 0;
}
