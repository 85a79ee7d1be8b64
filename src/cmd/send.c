/*
 * send: "postino send", a small SMTP submission client. Reads one message
 * from a file or stdin, speaks ESMTP (optionally STARTTLS or implicit TLS,
 * AUTH PLAIN, DSN parameters) to one server with blocking sockets, and
 * reports each recipient's reply. Exit codes are sysexits(3) values.
 * This file reads the command line; send_check.c checks it and reads the
 * message, send_dialogue.c (over send_conn.c) talks to the server.
 */
#include "cmd/cmd.h"
#include "cmd/send.h"
#include "lib/alloc.h"
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <sysexits.h>

static void send_usage(FILE *f)
{
    fprintf(f,
            "usage: postino send --server HOST:PORT [--starttls] [--tls] [--auth USER:PASS]\n"
            "                    --from ADDR --to ADDR [--to ADDR ...] [--notify LIST]\n"
            "                    [--ret full|hdrs] [--envid ID] [--orcpt ADDR] [-v] [FILE|-]\n"
            "\n"
            "Sends one message (from FILE, or stdin when FILE is absent or '-') over SMTP\n"
            "and prints each recipient's reply, then the server's queue reply.\n"
            "  --server HOST:PORT  the server to submit to ([ADDR]:PORT for IPv6)\n"
            "  --starttls          upgrade the connection with STARTTLS\n"
            "  --tls               implicit TLS from the start (e.g. port 465)\n"
            "                      NOTE: the server certificate is NOT verified\n"
            "  --auth USER:PASS    AUTH PLAIN with these credentials\n"
            "  --from ADDR         envelope sender (empty for <>)\n"
            "  --to ADDR           envelope recipient (repeatable)\n"
            "  --notify LIST       DSN NOTIFY: never, or a comma list of success,failure,delay\n"
            "  --ret full|hdrs     DSN RET\n"
            "  --envid ID          DSN ENVID\n"
            "  --orcpt ADDR        DSN ORCPT (rfc822) for every recipient\n"
            "  -v                  print the SMTP dialogue on stderr\n"
            "Exit: 0 all accepted and queued; 64 usage; 66 unreadable input;\n"
            "      69 refused (5xx); 75 temporary failure (4xx, connection); 76 bad reply.\n");
}

static const struct option send_options[] = {
    {"server", required_argument, NULL, 's'}, {"starttls", no_argument, NULL, 'S'},
    {"tls", no_argument, NULL, 'T'},          {"auth", required_argument, NULL, 'a'},
    {"from", required_argument, NULL, 'f'},   {"to", required_argument, NULL, 't'},
    {"notify", required_argument, NULL, 'N'}, {"ret", required_argument, NULL, 'R'},
    {"envid", required_argument, NULL, 'E'},  {"orcpt", required_argument, NULL, 'O'},
    {"verbose", no_argument, NULL, 'v'},      {"help", no_argument, NULL, 'h'},
    {NULL, 0, NULL, 0}};

/* Adds a --to; -1 past SEND_MAX_RCPTS. */
static int send_add_rcpt(struct send_args *a, const char *rcpt)
{
    if (a->nrcpt >= SEND_MAX_RCPTS) {
        fprintf(stderr, "postino send: too many recipients\n");
        return -1;
    }
    a->rcpts = xrealloc(a->rcpts, (a->nrcpt + 1) * sizeof *a->rcpts);
    a->rcpts[a->nrcpt++] = rcpt;
    return 0;
}

/* Stores one option; 0, or the exit code (-1 for --help: exit 0). */
static int send_option(struct send_args *a, int o, const char *arg)
{
    switch (o) {
    case 's': a->server = arg; return 0;
    case 'S': a->starttls = 1; return 0;
    case 'T': a->tls = 1; return 0;
    case 'a': a->auth = arg; return 0;
    case 'f': a->from = arg; return 0;
    case 't': return send_add_rcpt(a, arg) < 0 ? EX_USAGE : 0;
    case 'N': a->notify = arg; return 0;
    case 'R': a->ret = arg; return 0;
    case 'E': a->envid = arg; return 0;
    case 'O': a->orcpt = arg; return 0;
    case 'v': a->verbose = 1; return 0;
    case 'h': send_usage(stdout); return -1;
    default: send_usage(stderr); return EX_USAGE;
    }
}

/* The options and their combinations; 0, -1 (--help) or the exit code. */
static int send_parse_args(int argc, char **argv, struct send_args *a)
{
    optind = 1;
    opterr = 1;
    int o, rc;
    while ((o = getopt_long(argc, argv, "+vh", send_options, NULL)) != -1)
        if ((rc = send_option(a, o, optarg)) != 0)
            return rc;
    if (argc - optind > 1) {
        fprintf(stderr, "postino send: at most one FILE\n");
        send_usage(stderr);
        return EX_USAGE;
    }
    a->file = argc > optind ? argv[optind] : NULL;
    if (!a->server || !a->from || a->nrcpt == 0) {
        fprintf(stderr, "postino send: --server, --from and --to are required\n");
        send_usage(stderr);
        return EX_USAGE;
    }
    if (a->starttls && a->tls) {
        fprintf(stderr, "postino send: --starttls and --tls exclude each other\n");
        return EX_USAGE;
    }
    return 0;
}

int cmd_send(int argc, char **argv)
{
    struct send_args a = { .rcpts = NULL };
    struct send_job j;
    int rc = send_parse_args(argc, argv, &a);
    if (rc != 0) {
        free(a.rcpts);
        return rc < 0 ? 0 : rc;
    }
    send_job_init(&j, &a);
    rc = send_check(&j);
    if (rc == 0)
        rc = send_read_message(&j);
    if (rc == 0)
        rc = send_dialogue(&j);
    fflush(stdout);
    send_job_free(&j);
    free(a.rcpts);
    return rc;
}
