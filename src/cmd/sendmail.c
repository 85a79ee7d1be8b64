/*
 * sendmail: the sendmail(8)-compatible command line (`postino sendmail`,
 * or the binary called as "sendmail", "mailq" or "newaliases"). Reads a
 * message on stdin and stores it durably in the drop directory
 * (mail/maildrop.h), from where the server takes it into the queue, at
 * once when it runs, or when it starts. The message filter (line ends,
 * -t, Bcc, added headers) is mail/submit.c; -bs is sendmail_bs.c.
 * Exit codes are sysexits(3) values.
 */
#include "cmd/cmd.h"
#include "cmd/sendmail.h"
#include "lib/buf.h"
#include "lib/alloc.h"
#include "lib/str.h"
#include "proto/addr.h"
#include "proto/addrlist.h"
#include "proto/smtp_parse.h"
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>
#include <unistd.h>

enum sm_mode { SM_DELIVER, SM_LIST, SM_FLUSH, SM_SMTP, SM_NEWALIASES, SM_VERIFY };

struct sm_args {
    enum sm_mode mode;
    const char *conf;
    int extract, dot_ends, verbose;
    const char *from, *fullname, *notify, *ret, *envid;
    char **rcpts;
    int n_rcpts;
};

static int sm_usage(int status)
{
    fputs("usage: postino sendmail [-c FILE] [-t] [-i] [-f SENDER] [-F NAME] [-N NOTIFY]\n"
          "                        [-R full|hdrs] [-V ENVID] [-v] [RCPT ...]\n"
          "       postino sendmail -bp | -q | -bs | -bv ADDR ...\n"
          "  Reads a message on stdin and queues it. -t takes the recipients from\n"
          "  To/Cc/Bcc and removes Bcc; -i (-oi): a line \".\" does not end the message;\n"
          "  -N never | success,failure,delay; -R full | hdrs; -V the envelope id.\n"
          "  -bp lists the queue, -q flushes it, -bs speaks SMTP on stdin/stdout,\n"
          "  -bv says what would become of each address (local, alias, remote) without sending.\n"
          "  -C FILE is -c FILE. -B, -o..., -O, -L, -h, -m, -n, -U are accepted and ignored.\n",
          status ? stderr : stdout);
    return status;
}

/* -bX: the mode letter(s). */
static int sm_mode_arg(struct sm_args *a, const char *m)
{
    if (strcmp(m, "m") == 0)
        a->mode = SM_DELIVER;
    else if (strcmp(m, "p") == 0)
        a->mode = SM_LIST;
    else if (strcmp(m, "s") == 0)
        a->mode = SM_SMTP;
    else if (strcmp(m, "i") == 0)
        a->mode = SM_NEWALIASES;
    else if (strcmp(m, "v") == 0)
        a->mode = SM_VERIFY;
    else {
        fprintf(stderr, "postino sendmail: -b%s: mode not supported\n", m);
        return -1;
    }
    return 0;
}

/* An option that takes a value; 0, or -1 for an unknown letter. */
static int sm_value_opt(struct sm_args *a, char opt, const char *v)
{
    switch (opt) {
    case 'f': case 'r': a->from = v; return 0;
    case 'F': a->fullname = v; return 0;
    case 'N': a->notify = v; return 0;
    case 'R': a->ret = v; return 0;
    case 'V': a->envid = v; return 0;
    case 'C': case 'c': a->conf = v; return 0;
    case 'b': return sm_mode_arg(a, v);
    case 'o': if (strcmp(v, "i") == 0) a->dot_ends = 0; return 0;
    case 'B': case 'O': case 'L': case 'h': case 'X': case 'A': case 'd': return 0;
    }
    return -1;
}

static int sm_flag_opt(struct sm_args *a, char opt)
{
    switch (opt) {
    case 't': a->extract = 1; return 0;
    case 'i': a->dot_ends = 0; return 0;
    case 'v': a->verbose = 1; return 0;
    case 'm': case 'n': case 'U': case 'G': case 'e': return 0;
    }
    return -1;
}

/* One "-xyz" argument (flags may be grouped; a value ends the group). */
static int sm_option(struct sm_args *a, int argc, char **argv, int *i)
{
    const char *s = argv[*i] + 1;
    for (; *s; s++) {
        if (*s == 'q') {
            a->mode = SM_FLUSH; /* -q, -q15m, -qR...: one flush of everything */
            return 0;
        }
        if (sm_flag_opt(a, *s) == 0)
            continue;
        if (!strchr("frFNRVCcboBOLhXAd", *s))
            break;
        const char *v = s[1] ? s + 1 : (*i + 1 < argc ? argv[++*i] : NULL);
        if (!v) {
            fprintf(stderr, "postino sendmail: -%c needs a value\n", *s);
            return -1;
        }
        return sm_value_opt(a, *s, v);
    }
    if (!*s)
        return 0;
    fprintf(stderr, "postino sendmail: unknown option -%c\n", *s);
    return -1;
}

/* 0, 1 for --help, -1 for a usage error. Recipients may come before, between and after options. */
static int sm_parse_args(struct sm_args *a, int argc, char **argv)
{
    a->dot_ends = 1;
    a->rcpts = xcalloc((size_t)argc + 1, sizeof *a->rcpts);
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--") == 0) {
            while (++i < argc)
                a->rcpts[a->n_rcpts++] = argv[i];
        } else if (strcmp(argv[i], "--help") == 0) {
            return 1;
        } else if (argv[i][0] == '-' && argv[i][1]) {
            if (sm_option(a, argc, argv, &i) < 0)
                return -1;
        } else {
            a->rcpts[a->n_rcpts++] = argv[i];
        }
    }
    return 0;
}

/* The envelope sender: -f (with or without <>; "" or <> is the null sender), else the login. */
static int sm_sender(const struct sm_args *a, const struct conf *c, char *out, size_t size)
{
    char login[128];
    if (!a->from) {
        sm_login_name(login, sizeof login);
        str_fmt(out, size, "%s@%s", login, sm_default_domain(c));
    } else {
        size_t n = strlen(a->from);
        const char *f = a->from;
        if (n >= 2 && f[0] == '<' && f[n - 1] == '>')
            f++, n -= 2;
        str_ncopy(out, size, f, n);
        if (!out[0])
            return 0;
        if (!strchr(out, '@') && strlen(out) + strlen(sm_default_domain(c)) + 2 <= size)
            str_fmt(out + strlen(out), size - strlen(out), "@%s", sm_default_domain(c));
    }
    struct addr parsed;
    if (addr_parse_mailbox(out, &parsed) != ADDR_OK) {
        fprintf(stderr, "postino sendmail: bad sender address <%s>\n", out);
        return -1;
    }
    return 0;
}

/* -N, -R, -V into the envelope and the recipients' NOTIFY. */
static int sm_dsn_options(const struct sm_args *a, struct sm_drop *d)
{
    if (a->notify && (smtp_notify_parse(a->notify, strlen(a->notify), &d->notify) < 0 ||
                      !*a->notify)) {
        fprintf(stderr, "postino sendmail: -N %s: expected never or a list of success,failure,delay\n",
                a->notify);
        return -1;
    }
    if (a->ret && strcasecmp(a->ret, "full") != 0 && strcasecmp(a->ret, "hdrs") != 0) {
        fprintf(stderr, "postino sendmail: -R %s: expected full or hdrs\n", a->ret);
        return -1;
    }
    if (a->ret)
        d->env.ret = strcasecmp(a->ret, "full") == 0 ? DSN_RET_FULL : DSN_RET_HDRS;
    if (a->envid) {
        size_t n = strlen(a->envid);
        for (size_t i = 0; i < n; i++)
            if ((unsigned char)a->envid[i] < 0x20 || (unsigned char)a->envid[i] > 0x7e)
                n = 0;
        if (n == 0 || n > DSN_ENVID_MAX) {
            fprintf(stderr, "postino sendmail: -V: the envelope id must be 1 to %d printable "
                            "ASCII characters\n", DSN_ENVID_MAX);
            return -1;
        }
        d->env.envid = xstrdup(a->envid);
    }
    return 0;
}

static int sm_arg_rcpt(void *ctx, const char *addr)
{
    struct sm_drop *d = ctx;
    return sm_drop_rcpt(d, addr, d->notify, NULL);
}

/* Command-line recipients; each argument may be an address list ("a@x, B <b@y>"). */
static int sm_arg_rcpts(const struct sm_args *a, struct sm_drop *d)
{
    for (int i = 0; i < a->n_rcpts; i++) {
        const char *err = NULL;
        if (addrlist_parse(a->rcpts[i], strlen(a->rcpts[i]), sm_default_domain(d->conf),
                           sm_arg_rcpt, d, &err) != 0) {
            fprintf(stderr, "postino sendmail: bad recipient address '%s': %s\n", a->rcpts[i],
                    err ? err : "too many recipients");
            return -1;
        }
    }
    return 0;
}

/* Reads stdin through the submit filter into the drop. 0, or an exit status. */
static int sm_read_message(struct submit *s)
{
    char chunk[65536];
    while (s->state != SUBMIT_END) {
        ssize_t n = read(STDIN_FILENO, chunk, sizeof chunk);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            fprintf(stderr, "postino sendmail: reading the message: %s\n", strerror(errno));
            return EX_IOERR;
        }
        if (n == 0)
            break;
        if (submit_feed(s, chunk, (size_t)n) < 0)
            break;
    }
    if (submit_finish(s) < 0) {
        fprintf(stderr, "postino sendmail: %s\n", s->why);
        return EX_DATAERR;
    }
    return 0;
}

static int sm_deliver(const struct sm_args *a, const struct conf *c)
{
    char sender[600];
    struct sm_drop d;
    struct submit s;
    struct submit_opts o;
    if (sm_sender(a, c, sender, sizeof sender) < 0)
        return EX_USAGE;
    sm_drop_init(&d, c, sender, a->fullname);
    int status = sm_dsn_options(a, &d) < 0 || sm_arg_rcpts(a, &d) < 0 ? EX_USAGE : 0;
    if (!status && !a->extract && d.env.n_rcpts == 0) {
        fprintf(stderr, "postino sendmail: no recipients given (name them or use -t)\n");
        status = EX_USAGE;
    }
    if (status) {
        sm_drop_free(&d);
        return status;
    }
    sm_drop_submit_opts(&d, &o, a->extract, a->dot_ends);
    submit_init(&s, &o);
    status = sm_read_message(&s);
    if (!status && d.env.n_rcpts == 0) {
        fprintf(stderr, "postino sendmail: no recipients found in the To, Cc or Bcc headers\n");
        status = EX_USAGE;
    }
    if (!status && sm_drop_commit(&d) < 0) {
        fprintf(stderr, "postino sendmail: cannot store the message in %s: %s\n", c->data_dir,
                strerror(errno));
        status = EX_TEMPFAIL;
    }
    if (!status && a->verbose)
        fprintf(stderr, "postino sendmail: queued as %s for %zu recipient(s)\n", d.env.id,
                d.env.n_rcpts);
    submit_free(&s);
    sm_drop_free(&d);
    return status;
}

/* -bp and -q: the queue command, with the same config. */
static int sm_queue(const struct sm_args *a, const char *sub)
{
    char *argv[6];
    int argc = 0;
    argv[argc++] = (char *)"queue";
    if (a->conf) {
        argv[argc++] = (char *)"-c";
        argv[argc++] = (char *)a->conf;
    }
    argv[argc++] = (char *)sub;
    argv[argc] = NULL;
    int status = cmd_queue(argc, argv);
    return status == EXIT_CONFIG_ERROR ? EX_CONFIG : status;
}

/* -bv: the addresses checked against the aliases and users files. */
static int sm_verify_mode(const struct sm_args *a, struct conf *c)
{
    struct buf err;
    buf_init(&err, 4096);
    int r = conf_load_tables(c, &err);
    if (r < 0)
        fprintf(stderr, "postino sendmail: %s\n", buf_cstr(&err));
    buf_free(&err);
    if (r < 0)
        return EX_CONFIG;
    if (a->n_rcpts == 0) {
        fprintf(stderr, "postino sendmail: -bv needs at least one address\n");
        return EX_USAGE;
    }
    return sm_verify(c, a->rcpts, a->n_rcpts);
}

/* Called as mailq or newaliases: the matching mode. */
static void sm_prog_mode(const char *argv0, struct sm_args *a)
{
    const char *prog = strrchr(argv0, '/');
    prog = prog ? prog + 1 : argv0;
    if (strcmp(prog, "mailq") == 0)
        a->mode = SM_LIST;
    else if (strcmp(prog, "newaliases") == 0)
        a->mode = SM_NEWALIASES;
}

int cmd_sendmail(int argc, char **argv)
{
    struct sm_args a = {0};
    sm_prog_mode(argv[0], &a);
    int r = sm_parse_args(&a, argc, argv);
    if (r != 0) {
        free(a.rcpts);
        return r > 0 ? sm_usage(0) : sm_usage(EX_USAGE);
    }
    struct conf c;
    if (cmd_load_conf_settings(a.conf, &c) < 0) {
        free(a.rcpts);
        return EX_CONFIG;
    }
    int status = 0;
    if (a.mode == SM_LIST)
        status = sm_queue(&a, "list");
    else if (a.mode == SM_FLUSH)
        status = sm_queue(&a, "flush");
    else if (a.mode == SM_SMTP)
        status = sm_smtp_session(&c);
    else if (a.mode == SM_VERIFY)
        status = sm_verify_mode(&a, &c);
    else if (a.mode == SM_NEWALIASES)
        fprintf(stderr, "postino: the aliases file is read by the server; nothing to rebuild\n");
    else
        status = sm_deliver(&a, &c);
    conf_free(&c);
    free(a.rcpts);
    return status;
}
