/*
 * reload: `postino reload [-c FILE]` makes the running server re-read its
 * config, users, aliases and TLS files (INTERFACE.md "Operating"), as
 * SIGHUP does, and says how it went: the request goes through the control
 * socket of the server whose data_dir FILE names, and the answer comes once
 * the server has loaded and checked everything. Exit 0 when the new
 * settings are in force; 2 (with FILE:LINE) when the config is invalid and
 * the server keeps its running settings; 69 (EX_UNAVAILABLE) when no server
 * runs; 77 (EX_NOPERM) for a user who may not use the control socket; 75
 * (EX_TEMPFAIL) when the server is busy or gives no answer.
 */
#include "cmd/cmd.h"
#include "cmd/control_client.h"
#include "qmgr/control.h"
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sysexits.h>

#define RELOAD_WAIT_S 120 /* a users file of many thousand lines is read and checked first */

static int reload_usage(int status)
{
    fprintf(status ? stderr : stdout,
            "usage: postino reload [-c FILE]\n"
            "  Makes the running server re-read its config, users, aliases and TLS files.\n"
            "  Exit status 0 if the new settings are in force, 2 if the config is invalid\n"
            "  (the server keeps running with its old settings), 69 if no server runs.\n");
    return status;
}

/* The server's answer: "OK text" or "ERR text". */
static int reload_answer(const char *reply)
{
    if (strncmp(reply, "OK ", 3) == 0) {
        printf("postino: %s\n", reply + 3);
        return 0;
    }
    if (strncmp(reply, "ERR busy", 8) == 0) {
        fprintf(stderr, "postino: reload not done, try again: %s\n", reply + 4);
        return EX_TEMPFAIL;
    }
    if (strncmp(reply, "ERR ", 4) == 0) {
        fprintf(stderr, "%s\npostino: reload refused; the server keeps its running settings\n",
                reply + 4);
        return EXIT_CONFIG_ERROR;
    }
    fprintf(stderr, "postino: reload: no answer from the server%s%s\n", reply[0] ? ": " : "",
            reply);
    return EX_TEMPFAIL;
}

int cmd_reload(int argc, char **argv)
{
    const char *path = NULL;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "-c") == 0 && i + 1 < argc)
            path = argv[++i];
        else if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0)
            return reload_usage(0);
        else
            return reload_usage(EX_USAGE);
    }
    struct conf c;
    /* the settings only: the server reads the users and TLS files itself, as run_as */
    if (cmd_load_conf_settings(path, &c) < 0) {
        fprintf(stderr, "postino: reload refused; the server keeps its running settings\n");
        return EXIT_CONFIG_ERROR;
    }
    char reply[CONTROL_ANSWER_MAX + 2];
    int status;
    if (control_client_request(&c, "RELOAD\n", reply, sizeof reply, RELOAD_WAIT_S) == 0) {
        status = reload_answer(reply);
    } else {
        int err = errno;
        fprintf(stderr, "postino: reload: %s %s/%s: %s\n",
                err == EACCES ? "not allowed to use" : "no server runs on", c.data_dir,
                CONTROL_SOCKET, strerror(err));
        status = err == EACCES ? EX_NOPERM : EX_UNAVAILABLE;
    }
    conf_free(&c);
    return status;
}
