/*
 * fuzz_dsn_parse: libFuzzer harness for proto/dsn_parse (and proto/mime
 * under it), the reader of notices from other hosts. Parses arbitrary bytes
 * as a whole message, in a heap block of exactly their size (ASan sees any
 * read past the end). Checks: a refusal leaves the result empty; an
 * accepted notice has a Reporting-MTA and 1 to DSN_PARSE_RCPTS_MAX
 * recipients, and every value is NUL-terminated within its array and free
 * of control characters (they reach the tracking store and the journey
 * printed by `postino track`); Action is one of the five and Status a
 * class 2, 4 or 5 code. Seeds: tests/fuzz/corpus/dsn_parse/ (the unit
 * tests' sample notices). Build: tests/fuzz/run.sh.
 */
#include <assert.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "proto/dsn_parse.h"

static void check_value(const char *v, size_t size)
{
    size_t n = strnlen(v, size);
    assert(n < size);
    for (size_t i = 0; i < n; i++)
        assert((unsigned char)v[i] >= 0x20 && (unsigned char)v[i] != 0x7f);
}

#define CHECK(field) check_value((field), sizeof(field))

static void check_rcpt(const struct dsn_parsed_rcpt *r)
{
    static const char *const actions[] = {"failed", "delayed", "delivered", "relayed",
                                          "expanded"};
    int known = 0;
    CHECK(r->original_rcpt);
    CHECK(r->final_rcpt);
    CHECK(r->action);
    CHECK(r->status);
    CHECK(r->remote_mta);
    CHECK(r->diagnostic);
    assert(r->final_rcpt[0] != '\0');
    for (size_t i = 0; i < 5; i++)
        known |= strcmp(r->action, actions[i]) == 0;
    assert(known);
    assert(strchr("245", r->status[0]) && r->status[0] && r->status[1] == '.');
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static struct dsn_parsed out;
    char *msg = malloc(size ? size : 1);
    memcpy(msg, data, size);
    if (dsn_parse(msg, size, &out) < 0) {
        assert(out.n_rcpts == 0 && out.envid[0] == '\0' && out.reporting_mta[0] == '\0');
    } else {
        CHECK(out.envid);
        CHECK(out.reporting_mta);
        CHECK(out.message_id);
        assert(out.reporting_mta[0] != '\0');
        assert(out.n_rcpts >= 1 && out.n_rcpts <= DSN_PARSE_RCPTS_MAX);
        for (size_t i = 0; i < out.n_rcpts; i++)
            check_rcpt(&out.rcpts[i]);
    }
    free(msg);
    return 0;
}
