/*
 * libFuzzer target for proto/pop3_parse: arbitrary command lines, and
 * arbitrary stored messages through the LF -> CRLF + dot-stuffing converter
 * in arbitrary chunks. Checks: argument pointers stay inside the line,
 * numbers are >= 1 where required, the converted output has no bare LF and
 * no line starting with a single '.', and never exceeds 2n+1 per chunk.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "proto/pop3_parse.h"

static void check_cmd(const uint8_t *data, size_t size)
{
    struct pop3_cmd cmd;
    const char *line = (const char *)data;
    if (pop3_parse_line(line, size, &cmd) != POP3_PARSE_OK)
        return;
    if (cmd.arg && (cmd.arg < line || cmd.arg + cmd.arg_len > line + size))
        abort();
    if (cmd.arg2 && (cmd.arg2 < line || cmd.arg2 + cmd.arg2_len > line + size))
        abort();
    if ((cmd.verb == POP3_RETR || cmd.verb == POP3_DELE) && (cmd.n_nums != 1 || cmd.num[0] < 1))
        abort();
}

static void check_stuff(const uint8_t *data, size_t size)
{
    if (size < 2)
        return;
    long top = data[0] % 4 == 0 ? -1 : data[0] % 4;
    size_t chunk = (size_t)data[1] % 64 + 1;
    data += 2;
    size -= 2;
    struct pop3_stuff st;
    pop3_stuff_init(&st, top);
    char *out = malloc(2 * size + 3), *all = malloc(4 * size + 8);
    size_t total = 0;
    for (size_t pos = 0; pos < size && !st.done;) {
        size_t n = size - pos < chunk ? size - pos : chunk, used = 0;
        size_t w = pop3_stuff(&st, (const char *)data + pos, n, out, &used);
        if (w > 2 * n + 1 || used > n || (used == 0 && !st.done))
            abort();
        memcpy(all + total, out, w);
        total += w;
        pos += used;
    }
    for (size_t i = 0; i < total; i++) {
        if (all[i] == '\n' && (i == 0 || all[i - 1] != '\r'))
            abort(); /* every LF is part of a CRLF */
        int line_start = i == 0 || all[i - 1] == '\n';
        if (line_start && all[i] == '.' && !(i + 1 < total && all[i + 1] == '.'))
            abort(); /* a leading dot is always doubled */
    }
    free(out);
    free(all);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    check_cmd(data, size);
    check_stuff(data, size);
    return 0;
}
