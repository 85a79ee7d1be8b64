/*
 * fuzz_maildrop: libFuzzer harness for mail/maildrop's checks of what a
 * local user puts in the drop directory (as untrusted as a network client).
 * The input (cut at its first NUL) is a drop file name; the same bytes,
 * split at '\n', also make an envelope: sender ("<>" for none), ENVID ("-"
 * for none), then recipients (NOTIFY bits from their first byte, bit 0x10
 * a claimed attempt, an ORCPT after a TAB). Checks:
 * - maildrop_name_id accepts a name exactly when it has the documented
 *   form ID.RANDOM: 16 upper-case hex digits, '.', 16 lower-case hex
 *   digits, nothing more; the id it gives is the first 16 characters; a
 *   name made as maildrop_open makes it (queue_new_id + '.' + 16 hex
 *   digits the input picks) is always accepted with its id;
 * - maildrop_check accepts an envelope only if the sender is <> or a
 *   mailbox with a domain, there are 1..MAILDROP_RCPT_MAX recipients, each
 *   a mailbox with a domain, NOTIFY within its bits and NEVER alone, an
 *   ORCPT with a ';' and printable, an ENVID printable and at most
 *   DSN_ENVID_MAX long, and no recipient carries delivery state.
 * Build: tests/fuzz/run.sh.
 */
#include <assert.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "fuzz_input.h"
#include "mail/envelope.h"
#include "mail/maildrop.h"
#include "mail/queue.h"
#include "proto/addr.h"
#include "proto/smtp_parse.h"

static int all_of(const char *s, size_t n, const char *set)
{
    for (size_t i = 0; i < n; i++)
        if (!s[i] || !strchr(set, s[i]))
            return 0;
    return 1;
}

static void check_name(const char *name)
{
    char id[QUEUE_ID_MAX + 1];
    int form = strlen(name) == 33 && all_of(name, 16, "0123456789ABCDEF") && name[16] == '.' &&
               all_of(name + 17, 16, "0123456789abcdef");
    int r = maildrop_name_id(name, id);
    assert((r == 0) == form);
    if (form)
        assert(strlen(id) == 16 && memcmp(id, name, 16) == 0);
}

static void check_made_name(const uint8_t *data, size_t size)
{
    char id[QUEUE_ID_MAX + 1], back[QUEUE_ID_MAX + 1], name[MAILDROP_NAME_MAX];
    queue_new_id(id);
    size_t n = strlen(id);
    memcpy(name, id, n);
    name[n] = '.';
    for (size_t i = 0; i < 16; i++)
        name[n + 1 + i] = "0123456789abcdef"[(i < size ? data[i] : 0) & 15];
    name[n + 17] = '\0';
    assert(maildrop_name_id(name, back) == 0 && strcmp(back, id) == 0);
}

static int mailbox_ok(const char *s)
{
    struct addr a;
    return s && addr_parse_mailbox(s, &a) == ADDR_OK && a.domain[0];
}

static int printable(const char *s, size_t max)
{
    size_t n = strlen(s);
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)s[i] < 0x20 || (unsigned char)s[i] > 0x7e)
            return 0;
    return n <= max;
}

static int rcpt_ok(const struct env_rcpt *r)
{
    unsigned nv = r->notify;
    return mailbox_ok(r->addr) && nv <= 15 && (!(nv & NOTIFY_NEVER) || nv == NOTIFY_NEVER) &&
           (!r->orcpt || (strchr(r->orcpt, ';') && printable(r->orcpt, DSN_ORCPT_MAX + 32))) &&
           r->parent == -1 && r->status == RCPT_PENDING && !r->attempts && !r->dsn_sent &&
           !r->last_reply && !r->remote_mta;
}

/* Adds the recipient line "N addr[\torcpt]" (N: the NOTIFY bits as a byte). */
static void add_rcpt(struct envelope *e, char *line)
{
    unsigned notify = line[0] ? (unsigned char)line[0] & 0x1f : 0;
    char *addr = line[0] ? line + 1 : line;
    char *tab = strchr(addr, '\t');
    if (tab)
        *tab++ = '\0';
    size_t i = envelope_add_rcpt(e, addr, notify, tab, -1, RCPT_PENDING);
    if (notify & 0x10)
        e->rcpts[i].attempts = 1; /* a drop file claiming a delivery already tried */
}

static void check_envelope(const char *text)
{
    struct envelope e;
    envelope_init(&e);
    char *copy = strdup(text), *save = NULL;
    char *sender = strtok_r(copy, "\n", &save), *envid = strtok_r(NULL, "\n", &save);
    free(e.sender);
    e.sender = strdup(sender && strcmp(sender, "<>") != 0 ? sender : ""); /* "<>": null sender */
    if (envid && envid[0] != '-')
        e.envid = strdup(envid);
    for (char *line; (line = strtok_r(NULL, "\n", &save)) != NULL;)
        add_rcpt(&e, line);
    int ok = (!e.sender[0] || mailbox_ok(e.sender)) && e.n_rcpts >= 1 &&
             e.n_rcpts <= MAILDROP_RCPT_MAX && (!e.envid || printable(e.envid, DSN_ENVID_MAX));
    for (size_t i = 0; ok && i < e.n_rcpts; i++)
        ok = rcpt_ok(&e.rcpts[i]);
    const char *why = maildrop_check(&e);
    assert((why == NULL) == ok);
    assert(!why || why[0]);
    free(copy);
    envelope_free(&e);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    size_t len;
    char *text = fuzz_cstring(data, size, &len);
    check_name(text);
    check_made_name(data, size);
    check_envelope(text);
    free(text);
    return 0;
}
