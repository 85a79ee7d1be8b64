/*
 * check: `postino check [-c FILE]` validates the config and prints the
 * effective settings (INTERFACE.md "Commands"); exit 0 if valid, 2 if not.
 * Also home of cmd_load_conf, the one place that decides which config file
 * a subcommand uses: -c FILE, else $POSTINO_CONFIG, else
 * /etc/postino/postino.conf if it exists, else the built-in defaults.
 * The dkim_sign key files are read and checked too (msgauth/dkim_sign.h):
 * the config loader stays free of key parsing. Never starts listeners or
 * touches the queue.
 */
#include "cmd/cmd.h"
#include "lib/buf.h"
#include "msgauth/dkim_sign.h"
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>
#include <unistd.h>

#define CMD_SYSTEM_CONF "/etc/postino/postino.conf"

/* The config file a subcommand uses (NULL: the built-in defaults). */
static const char *cmd_conf_path(const char *explicit_path)
{
    if (explicit_path)
        return explicit_path;
    const char *env = getenv("POSTINO_CONFIG");
    if (env && *env)
        return env;
    return access(CMD_SYSTEM_CONF, F_OK) == 0 ? CMD_SYSTEM_CONF : NULL;
}

static int cmd_load(const char *explicit_path, struct conf *c, int tables)
{
    const char *path = cmd_conf_path(explicit_path);
    struct buf err;
    buf_init(&err, 1 << 16);
    int r = tables ? conf_load(path, c, &err) : conf_load_settings(path, c, &err);
    if (r < 0)
        fprintf(stderr, "%s\n", buf_cstr(&err));
    buf_free(&err);
    return r;
}

int cmd_load_conf(const char *explicit_path, struct conf *c)
{
    return cmd_load(explicit_path, c, 1);
}

int cmd_load_conf_settings(const char *explicit_path, struct conf *c)
{
    return cmd_load(explicit_path, c, 0);
}

struct conf *cmd_new_conf(const char *explicit_path)
{
    const char *path = cmd_conf_path(explicit_path);
    char abs[PATH_MAX];
    /* absolute: a reload reads the same file whatever the current folder is then */
    if (path && path[0] != '/' && realpath(path, abs))
        path = abs;
    struct buf err;
    buf_init(&err, 1 << 16);
    struct conf *c = conf_new(path, &err);
    if (!c)
        fprintf(stderr, "%s\n", buf_cstr(&err));
    buf_free(&err);
    return c;
}

int cmd_check_keys(const struct conf *c)
{
    struct buf err;
    buf_init(&err, 1 << 16);
    int r = dkim_sign_check_keys(c, &err);
    if (r < 0)
        fprintf(stderr, "%s\n", buf_cstr(&err));
    buf_free(&err);
    return r;
}

static void check_usage(FILE *out)
{
    fputs("usage: postino check [-c FILE]\n"
          "  Validates the config and prints the effective settings.\n"
          "  Exit status 0 if the config is valid, 2 if not.\n",
          out);
}

int cmd_check(int argc, char **argv)
{
    const char *path = NULL;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            check_usage(stdout);
            return 0;
        }
        if (strcmp(argv[i], "-c") == 0 && i + 1 >= argc) {
            fputs("postino check: -c needs a FILE\n", stderr);
            return EX_USAGE;
        }
        if (strcmp(argv[i], "-c") == 0)
            path = argv[++i];
        else if (strncmp(argv[i], "-c", 2) == 0 && argv[i][2] != '\0')
            path = argv[i] + 2;
        else {
            fprintf(stderr, "postino check: unexpected argument \"%s\"\n", argv[i]);
            check_usage(stderr);
            return EX_USAGE;
        }
    }
    struct conf c;
    if (cmd_load_conf(path, &c) < 0)
        return EXIT_CONFIG_ERROR;
    if (cmd_check_keys(&c) < 0) {
        conf_free(&c);
        return EXIT_CONFIG_ERROR;
    }
    conf_print(&c, stdout);
    conf_free(&c);
    return fflush(stdout) == 0 ? 0 : EX_IOERR;
}
