/*
 * fuzz_envelope: libFuzzer harness for the queue file envelope parser
 * (mail/envelope) and the drop file check (mail/maildrop), the path a
 * local user's drop file takes into the server. Feeds arbitrary bytes to
 * envelope_parse_head; when a head parses, the records after the content
 * (content_offset + size, when within the input) go to envelope_parse_tail,
 * then maildrop_check runs on the result. Checks: no crash or leak; a
 * parsed head has content_offset <= len and an id; the sender is never
 * NULL; recipients' parents point backwards; an accepted envelope formats
 * and parses back to the same envelope. Build: tests/fuzz/run.sh.
 */
#include <assert.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "lib/buf.h"
#include "mail/envelope.h"
#include "mail/maildrop.h"

static int same_str(const char *a, const char *b)
{
    /* the format writes NULL and "" both as "-" */
    if (!a || !*a)
        return !b || !*b;
    return b && strcmp(a, b) == 0;
}

/* An envelope maildrop_check accepts must survive format -> parse. */
static void check_round_trip(const struct envelope *e)
{
    struct buf out;
    size_t size_offset;
    buf_init(&out, BUF_UNLIMITED);
    if (!e->id[0] || strlen(e->id) > QUEUE_ID_MAX ||
        envelope_format_head(e, &out, &size_offset) < 0) {
        buf_free(&out);
        return;
    }
    struct envelope b;
    envelope_init(&b);
    int r = envelope_parse_head(out.data, out.len, &b);
    assert(r == 0);
    assert(b.content_offset == out.len);
    assert(strcmp(b.id, e->id) == 0);
    assert(same_str(b.sender, e->sender));
    assert(same_str(b.envid, e->envid));
    assert(b.ret == e->ret && b.n_rcpts == e->n_rcpts);
    for (size_t i = 0; i < e->n_rcpts; i++) {
        assert(same_str(b.rcpts[i].addr, e->rcpts[i].addr));
        assert(same_str(b.rcpts[i].orcpt, e->rcpts[i].orcpt));
        assert(b.rcpts[i].notify == e->rcpts[i].notify);
    }
    assert(maildrop_check(&b) == NULL);
    envelope_free(&b);
    buf_free(&out);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    /* a copy of exactly size bytes so ASan sees any read past the end */
    char *buf = malloc(size ? size : 1);
    if (size)
        memcpy(buf, data, size);
    struct envelope e;
    envelope_init(&e);
    int r = envelope_parse_head(buf, size, &e);
    assert(r == 0 || r == 1 || r == -1);
    if (r == 0) {
        assert(e.content_offset <= size);
        assert(e.id[0] && strlen(e.id) <= QUEUE_ID_MAX);
        assert(e.sender);
        uint64_t tail = e.content_offset + e.size;
        if (tail >= e.content_offset && tail <= size)
            envelope_parse_tail(buf + tail, size - (size_t)tail, &e);
        for (size_t i = 0; i < e.n_rcpts; i++) {
            assert(e.rcpts[i].addr);
            assert(e.rcpts[i].parent >= -1 && e.rcpts[i].parent < (int)i);
        }
        if (maildrop_check(&e) == NULL)
            check_round_trip(&e);
    }
    envelope_free(&e);
    free(buf);
    return 0;
}
