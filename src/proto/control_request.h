/*
 * control_request: the grammar of the request lines of the server's local
 * sockets (qmgr/control.h), pure, no I/O. One line per connection, without
 * its LF, as a C string (a byte after a NUL is never seen). Words are
 * matched exactly (case matters), the argument is the rest of the line after
 * the first space, as sent (a queue id is checked by whoever looks it up):
 *   control socket: FLUSH [ID] | HOLD ID | RELEASE ID | DELETE ID | RELOAD
 *   showq socket:   LIST | LIST --json | SUMMARY | SUMMARY --json (the whole line)
 * Never decides what a request does: qmgr/control acts and replies.
 */
#ifndef POSTINO_CONTROL_REQUEST_H
#define POSTINO_CONTROL_REQUEST_H

enum control_verb {
    CONTROL_UNKNOWN = 0,  /* no request of this socket: "ERR unknown request" */
    CONTROL_FLUSH,        /* arg: a queue id, or NULL for every message */
    CONTROL_HOLD,         /* arg: a queue id (never NULL) */
    CONTROL_RELEASE,      /* arg: a queue id (never NULL) */
    CONTROL_DELETE,       /* arg: a queue id (never NULL) */
    CONTROL_RELOAD,       /* the whole line: re-read the config (arg NULL) */
    CONTROL_LIST,         /* showq only; json says "LIST --json" */
    CONTROL_SUMMARY,      /* showq only: the queue by domain and age; json: "SUMMARY --json" */
};

struct control_request {
    enum control_verb verb;
    const char *arg;      /* points into the line, NUL-terminated; NULL if none or empty */
    int json;             /* CONTROL_LIST, CONTROL_SUMMARY: the JSON form was asked for */
};

/* Parses a line of the control socket. Returns req->verb. */
enum control_verb control_request_parse(const char *line, struct control_request *req);
/* Parses a line of the read-only showq socket. Returns req->verb. */
enum control_verb control_request_parse_showq(const char *line, struct control_request *req);

#endif
