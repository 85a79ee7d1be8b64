/*
 * fuzz_sasl: libFuzzer harness for proto/sasl (base64, RFC 4648; PLAIN,
 * RFC 4616; LOGIN). Feeds arbitrary bytes as a client response and as
 * raw data. Checks: base64 encode -> decode gives the bytes back, and a
 * decoded response re-encodes to a response that decodes the same; a
 * PLAIN message that decodes has a non-empty authcid and password without
 * NUL, within their limits, and re-encoding its fields decodes to the same
 * fields; LOGIN results are non-empty, NUL-free and NUL-terminated.
 * Build: tests/fuzz/run.sh.
 */
#include <assert.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "proto/sasl.h"

#define RAW_MAX 4096

static void check_base64_round_trip(const uint8_t *p, size_t n)
{
    static char enc[((RAW_MAX + 2) / 3) * 4 + 1];
    static unsigned char dec[RAW_MAX];
    size_t len = 0;
    if (n > RAW_MAX)
        return;
    assert(sasl_base64_encode(p, n, enc, sizeof enc) == 0);
    assert(strlen(enc) == ((n + 2) / 3) * 4);
    assert(sasl_base64_decode(enc, strlen(enc), dec, sizeof dec, &len) == 0);
    assert(len == n && (n == 0 || memcmp(dec, p, n) == 0));
}

static void check_plain(const char *line, size_t n)
{
    struct sasl_plain m;
    if (sasl_plain_decode(line, n, &m) != SASL_OK)
        return;
    size_t zl = strnlen(m.authzid, sizeof m.authzid), cl = strnlen(m.authcid, sizeof m.authcid);
    size_t pl = strnlen(m.passwd, sizeof m.passwd);
    assert(zl <= SASL_USER_MAX && cl >= 1 && cl <= SASL_USER_MAX && pl >= 1 && pl <= SASL_PASS_MAX);
    /* authzid NUL authcid NUL passwd, encoded again, decodes to the same fields */
    static char raw[SASL_PLAIN_MAX], enc[SASL_RESPONSE_MAX + 1];
    size_t w = 0;
    memcpy(raw + w, m.authzid, zl), w += zl, raw[w++] = '\0';
    memcpy(raw + w, m.authcid, cl), w += cl, raw[w++] = '\0';
    memcpy(raw + w, m.passwd, pl), w += pl;
    assert(sasl_base64_encode(raw, w, enc, sizeof enc) == 0);
    struct sasl_plain again;
    assert(sasl_plain_decode(enc, strlen(enc), &again) == SASL_OK);
    assert(strcmp(again.authzid, m.authzid) == 0 && strcmp(again.authcid, m.authcid) == 0 &&
           strcmp(again.passwd, m.passwd) == 0);
    (void)sasl_plain_proxy(&m);
}

static void check_login(const char *line, size_t n)
{
    char out[SASL_PASS_MAX + 1];
    if (sasl_login_decode(line, n, out, sizeof out) != SASL_OK)
        return;
    size_t l = strnlen(out, sizeof out);
    assert(l >= 1 && l < sizeof out);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *line = (const char *)data;
    static unsigned char dec[SASL_PLAIN_MAX];
    size_t len = 0;
    check_base64_round_trip(data, size);
    if (sasl_decode_response(line, size, dec, sizeof dec, &len) == SASL_OK) {
        assert(len <= sizeof dec);
        check_base64_round_trip(dec, len);
    }
    check_plain(line, size);
    check_login(line, size);
    return 0;
}
