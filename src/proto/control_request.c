/*
 * control_request: the local sockets' request grammar (see control_request.h).
 * The verb is the text before the first space; an empty argument ("FLUSH ")
 * counts as none.
 */
#include "proto/control_request.h"
#include <string.h>

static const struct {
    const char *word;
    enum control_verb verb;
} control_words[] = {
    { .word = "FLUSH", .verb = CONTROL_FLUSH },
    { .word = "HOLD", .verb = CONTROL_HOLD },
    { .word = "RELEASE", .verb = CONTROL_RELEASE },
    { .word = "DELETE", .verb = CONTROL_DELETE },
    { .word = "RELOAD", .verb = CONTROL_RELOAD },
};

/* The verb named by line[0..n), or CONTROL_UNKNOWN. */
static enum control_verb control_request_word(const char *line, size_t n)
{
    for (size_t i = 0; i < sizeof control_words / sizeof control_words[0]; i++)
        if (strlen(control_words[i].word) == n && memcmp(line, control_words[i].word, n) == 0)
            return control_words[i].verb;
    return CONTROL_UNKNOWN;
}

enum control_verb control_request_parse(const char *line, struct control_request *req)
{
    const char *space = strchr(line, ' ');
    size_t n = space ? (size_t)(space - line) : strlen(line);
    const char *arg = space && space[1] ? space + 1 : NULL;
    *req = (struct control_request){ .verb = control_request_word(line, n), .arg = arg };
    if (req->verb == CONTROL_RELOAD && space)
        req->verb = CONTROL_UNKNOWN; /* RELOAD is the whole line */
    else if (req->verb != CONTROL_FLUSH && req->verb != CONTROL_RELOAD && !arg)
        req->verb = CONTROL_UNKNOWN; /* HOLD, RELEASE and DELETE need a queue id */
    if (req->verb == CONTROL_UNKNOWN)
        req->arg = NULL;
    return req->verb;
}

enum control_verb control_request_parse_showq(const char *line, struct control_request *req)
{
    int json = strcmp(line, "LIST --json") == 0 || strcmp(line, "SUMMARY --json") == 0;
    int summary = strncmp(line, "SUMMARY", 7) == 0;
    int known = json || strcmp(line, "LIST") == 0 || strcmp(line, "SUMMARY") == 0;
    enum control_verb verb = !known ? CONTROL_UNKNOWN : summary ? CONTROL_SUMMARY : CONTROL_LIST;
    *req = (struct control_request){ .verb = verb, .json = json };
    return req->verb;
}
