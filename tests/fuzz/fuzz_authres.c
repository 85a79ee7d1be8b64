/*
 * fuzz_authres: libFuzzer harness for proto/authres (RFC 8601). Reads the
 * input as an Authentication-Results field: an authserv-id found is
 * non-empty, fits and holds no CR or LF. Then formats a field whose
 * authserv-id and property values are cut from the input: every line break
 * of the result is a CRLF that folds (followed by a tab) but the last, no
 * bare CR or LF, and reading it back gives the authserv-id given (control
 * octets aside). Build: tests/fuzz/run.sh.
 */
#include <assert.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "lib/buf.h"
#include "proto/authres.h"

static void check_parse(const char *p, size_t n)
{
    char id[AUTHRES_ID_MAX];
    if (authres_authserv_id(p, n, id, sizeof id) == 0) {
        size_t len = strlen(id);
        assert(len > 0 && len < sizeof id);
        assert(!strchr(id, '\r') && !strchr(id, '\n'));
    }
}

static void check_lines(const struct buf *b)
{
    assert(b->len >= 2 && b->data[b->len - 2] == '\r' && b->data[b->len - 1] == '\n');
    for (size_t i = 0; i + 2 < b->len; i++) {
        if (b->data[i] == '\r') {
            assert(b->data[i + 1] == '\n' && b->data[i + 2] == '\t');
        } else if (b->data[i] == '\n') {
            assert(i > 0 && b->data[i - 1] == '\r');
        }
    }
}

/* The id as the formatter writes it: control octets left out. */
static void printable_copy(const char *s, char *out, size_t size)
{
    size_t n = 0;
    for (; *s && n + 1 < size; s++)
        if ((unsigned char)*s >= ' ' && *s != 0x7f)
            out[n++] = *s;
    out[n] = '\0';
}

static void check_format(const char *text, size_t n)
{
    char parts[3][128] = {"", "", ""};
    size_t k = 0, len = 0;
    for (size_t i = 0; i < n && k < 3; i++) {
        if (text[i] == '\0') {
            k++, len = 0;
            continue;
        }
        if (len + 1 < sizeof parts[k])
            parts[k][len++] = text[i], parts[k][len] = '\0';
    }
    struct authres_entry e[2] = {
        {.method = "spf", .result = AUTHRES_FAIL, .props = {{"smtp.mailfrom", parts[1]}}},
        {.method = "dkim", .result = AUTHRES_PASS, .comment = parts[2],
         .props = {{"header.d", parts[2]}, {"header.s", parts[1]}}},
    };
    struct buf b;
    buf_init(&b, BUF_UNLIMITED);
    assert(authres_format(&b, parts[0], e, n % 3) == 0);
    check_lines(&b);
    char want[128], got[AUTHRES_ID_MAX];
    printable_copy(parts[0], want, sizeof want);
    if (want[0] && authres_authserv_id(b.data, b.len, got, sizeof got) == 0)
        assert(strcmp(got, want) == 0);
    else
        assert(!want[0]);
    buf_free(&b);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    check_parse((const char *)data, size);
    check_format((const char *)data, size);
    return 0;
}
