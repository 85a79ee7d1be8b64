/*
 * fuzz_esc: libFuzzer harness for proto/esc's parser (RFC 3463 2: class
 * "2" / "4" / "5", then subject and detail of 1-3 digits each). Parses
 * arbitrary bytes as the start of a reply text or a Status: value. Checks:
 * a parse takes at most len octets, all of them digits and two dots, with
 * no digit right after; formatting the result and parsing that again gives
 * the same class and code, and the formatted text is never longer than what
 * was taken (leading zeros may shrink); a code of the table has a meaning,
 * and any reply built from it starts with its reply prefix; esc_find over the
 * same bytes as a string finds a code that parses as it says, and esc_plain
 * gives words for every code of the table. Build:
 * tests/fuzz/run.sh.
 */
#include <assert.h>
#include <ctype.h>
#include <stdint.h>
#include <string.h>
#include "proto/esc.h"

/* The parsed octets are "D.D+.D+" with digits and exactly two dots. */
static void check_taken(const char *s, size_t used, size_t len)
{
    size_t dots = 0;
    assert(used >= 5 && used <= 11 && used <= len);
    for (size_t i = 0; i < used; i++) {
        if (s[i] == '.')
            dots++;
        else
            assert(isdigit((unsigned char)s[i]));
    }
    assert(dots == 2);
    assert(used == len || !isdigit((unsigned char)s[used]));
}

static void check_round_trip(int klass, enum esc_code code, size_t used)
{
    struct esc_text t = esc_code(klass, code);
    size_t n = strlen(t.s), used2 = 0;
    int klass2 = 0;
    enum esc_code code2 = ESC_OTHER_STATUS;
    assert(n <= used);
    assert(esc_parse(t.s, n, &klass2, &code2, &used2) == 0);
    assert(klass2 == klass && code2 == code && used2 == n);
}

static void check_reply(int klass, enum esc_code code)
{
    char out[128];
    int reply = klass * 100 + 50;
    struct esc_prefix p = esc_reply_prefix(reply, code);
    assert(esc_reply(out, sizeof out, reply, code, "text") == 0);
    assert(strncmp(out, p.s, strlen(p.s)) == 0);
    assert(strcmp(out + strlen(p.s), "text") == 0);
}

/* esc_find on the input as a C string (up to its first NUL). */
static void check_find(const uint8_t *data, size_t size)
{
    char text[512], found[ESC_TEXT_MAX], words[128];
    size_t n = size < sizeof text - 1 ? size : sizeof text - 1;
    memcpy(text, data, n);
    text[n] = '\0';
    int klass = 0, klass2 = 0;
    enum esc_code code = ESC_OTHER_STATUS, code2 = ESC_OTHER_STATUS;
    size_t used = 0;
    if (esc_find(text, found, &klass, &code) < 0)
        return;
    assert(esc_parse(found, strlen(found), &klass2, &code2, &used) == 0);
    assert(klass2 == klass && code2 == code);
    const char *w = esc_plain(code, words, sizeof words);
    assert(!w == !esc_meaning(code));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *s = (const char *)data;
    check_find(data, size);
    int klass = 0;
    enum esc_code code = ESC_OTHER_STATUS;
    size_t used = 0;
    if (esc_parse(s, size, &klass, &code, &used) < 0)
        return 0;
    assert(klass == 2 || klass == 4 || klass == 5);
    check_taken(s, used, size);
    check_round_trip(klass, code, used);
    check_reply(klass, code);
    const char *m = esc_meaning(code);
    assert(!m || m[0] != '\0');
    return 0;
}
