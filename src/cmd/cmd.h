/*
 * cmd: the subcommands of the postino binary, one file each. main.c only
 * dispatches. Each returns the process exit status (sysexits(3) values for
 * the sendmail-style commands; 2 for a bad config, as INTERFACE.md says).
 */
#ifndef POSTINO_CMD_H
#define POSTINO_CMD_H
#include "mail/conf.h"

#define EXIT_CONFIG_ERROR 2

/*
 * Finds and loads the config: explicit path (from -c), else $POSTINO_CONFIG,
 * else /etc/postino/postino.conf if it exists, else the built-in defaults.
 * On error prints "FILE:LINE: message" to stderr and returns -1.
 */
int cmd_load_conf(const char *explicit_path, struct conf *c);
/* The same without the users and aliases files (sendmail). */
int cmd_load_conf_settings(const char *explicit_path, struct conf *c);
/* The same as a reloadable conf (conf_new; its path made absolute), or NULL. */
struct conf *cmd_new_conf(const char *explicit_path);

/* Reads and checks the key files the config names (dkim_sign); on error prints
 * "FILE:LINE: dkim_sign: ..." to stderr and returns -1. */
int cmd_check_keys(const struct conf *c);

int cmd_serve(int argc, char **argv);
int cmd_check(int argc, char **argv);
int cmd_queue(int argc, char **argv);
int cmd_sendmail(int argc, char **argv);
int cmd_send(int argc, char **argv);
int cmd_passwd(int argc, char **argv);
int cmd_reload(int argc, char **argv);
int cmd_dkim(int argc, char **argv);
int cmd_track(int argc, char **argv);

#endif
