/*
 * fuzz_control: libFuzzer harness for proto/control_request, the request
 * lines of the control and showq sockets. The input is one line (cut at
 * its first NUL, as the server sees it). Checks, for the control socket:
 * the result equals an independent model of the grammar (the word before
 * the first space compared exactly, the argument the rest after it, empty
 * meaning none); a recognised request's argument lies inside the line and
 * ends with it; HOLD, RELEASE and DELETE always carry a non-empty argument;
 * an unknown line carries none; re-forming "WORD[ ARG]" gives the line back
 * (but for a bare trailing space after FLUSH). For the showq socket: only
 * "LIST", "SUMMARY" and each with " --json" are accepted, json set for the
 * " --json" forms alone;
 * nothing of the control socket is accepted there, nor the reverse.
 * Build: tests/fuzz/run.sh.
 */
#include <assert.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "fuzz_input.h"
#include "proto/control_request.h"

static const char *const words[] = {
    [CONTROL_FLUSH] = "FLUSH", [CONTROL_HOLD] = "HOLD",
    [CONTROL_RELEASE] = "RELEASE", [CONTROL_DELETE] = "DELETE", [CONTROL_RELOAD] = "RELOAD",
};

/* The model: what the grammar in control.h says of line. */
static enum control_verb model(const char *line, const char **arg)
{
    size_t n = strcspn(line, " ");
    *arg = line[n] == ' ' && line[n + 1] ? line + n + 1 : NULL;
    if (strcmp(line, "RELOAD") == 0)
        return CONTROL_RELOAD; /* the whole line, nothing after it */
    for (int v = CONTROL_FLUSH; v <= CONTROL_DELETE; v++) {
        if (strlen(words[v]) != n || memcmp(line, words[v], n) != 0)
            continue;
        if (v != CONTROL_FLUSH && !*arg)
            break;
        return (enum control_verb)v;
    }
    *arg = NULL;
    return CONTROL_UNKNOWN;
}

static void check_control(const char *line, size_t len)
{
    struct control_request r;
    const char *want_arg;
    enum control_verb want = model(line, &want_arg);
    assert(control_request_parse(line, &r) == r.verb);
    assert(r.verb == want && r.arg == want_arg && r.json == 0);
    if (r.verb == CONTROL_UNKNOWN)
        return;
    assert(r.verb != CONTROL_LIST);
    if (r.verb == CONTROL_RELOAD)
        assert(!r.arg);
    else if (r.verb != CONTROL_FLUSH)
        assert(r.arg && r.arg[0]);
    if (r.arg) {
        assert(r.arg > line && r.arg < line + len && r.arg + strlen(r.arg) == line + len);
        assert(r.arg[-1] == ' ');
        size_t w = strlen(words[r.verb]);
        assert((size_t)(r.arg - line) == w + 1 && memcmp(line, words[r.verb], w) == 0);
    } else {
        assert(strcmp(line, "FLUSH") == 0 || strcmp(line, "FLUSH ") == 0 ||
               strcmp(line, "RELOAD") == 0);
    }
}

static void check_showq(const char *line)
{
    struct control_request r;
    enum control_verb v = control_request_parse_showq(line, &r);
    assert(v == r.verb && r.arg == NULL);
    int is_list = strcmp(line, "LIST") == 0, is_json = strcmp(line, "LIST --json") == 0;
    int is_sum = strcmp(line, "SUMMARY") == 0, is_sum_json = strcmp(line, "SUMMARY --json") == 0;
    assert(v == ((is_list || is_json) ? CONTROL_LIST
                 : (is_sum || is_sum_json) ? CONTROL_SUMMARY : CONTROL_UNKNOWN));
    assert(r.json == (is_json || is_sum_json));
    if (v != CONTROL_UNKNOWN)
        assert(control_request_parse(line, &r) == CONTROL_UNKNOWN);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    size_t len;
    char *line = fuzz_cstring(data, size, &len);
    check_control(line, len);
    check_showq(line);
    free(line);
    return 0;
}
