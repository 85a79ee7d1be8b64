/*
 * main: subcommand dispatch only. "postino CMD ..." or, when called as
 * "sendmail", "mailq" or "newaliases" (symlinks), the sendmail-compatible
 * interface (mailq = sendmail -bp, newaliases = sendmail -bi).
 */
#include "cmd/cmd.h"
#include <stdio.h>
#include <string.h>
#include <sysexits.h>

#ifndef POSTINO_VERSION
#define POSTINO_VERSION "0.1.0"
#endif

static void usage(FILE *out)
{
    fprintf(out,
            "usage: postino COMMAND [-c FILE] [ARGS]\n"
            "\n"
            "commands:\n"
            "  serve     run the mail system in the foreground\n"
            "  check     validate the config and print the effective settings\n"
            "  reload    make the running server re-read its config\n"
            "  queue     list | summary | show ID | flush [ID] | delete ID | hold ID | release ID\n"
            "  sendmail  read a message on stdin and queue it (sendmail(8) compatible)\n"
            "  send      submit one message to an SMTP server\n"
            "  passwd    hash a password read on stdin for the users file\n"
            "  dkim      keygen [-t rsa|ed25519] [-o FILE] DOMAIN SELECTOR: a DKIM signing key\n"
            "  track     the journey of a message: ID, Message-ID or ENVID\n"
            "\n"
            "postino COMMAND --help shows a command's options; postino --version its version.\n");
}

static const struct {
    const char *name;
    int (*run)(int argc, char **argv);
} commands[] = {
    {"serve", cmd_serve}, {"check", cmd_check},       {"queue", cmd_queue},
    {"sendmail", cmd_sendmail}, {"send", cmd_send},   {"passwd", cmd_passwd},
    {"reload", cmd_reload}, {"dkim", cmd_dkim}, {"track", cmd_track},
};

int main(int argc, char **argv)
{
    const char *prog = strrchr(argv[0], '/');
    prog = prog ? prog + 1 : argv[0];
    if (strcmp(prog, "sendmail") == 0 || strcmp(prog, "mailq") == 0 ||
        strcmp(prog, "newaliases") == 0)
        return cmd_sendmail(argc, argv);
    if (argc < 2) {
        usage(stderr);
        return EX_USAGE;
    }
    if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "help") == 0) {
        usage(stdout);
        return 0;
    }
    if (strcmp(argv[1], "--version") == 0 || strcmp(argv[1], "-V") == 0) {
        printf("postino %s\n", POSTINO_VERSION);
        return 0;
    }
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        if (strcmp(argv[1], commands[i].name) == 0)
            return commands[i].run(argc - 1, argv + 1);
    fprintf(stderr, "postino: unknown command '%s'\n", argv[1]);
    usage(stderr);
    return EX_USAGE;
}
