/*
 * auth: the users file (INTERFACE.md: "local@domain:HASH" a line) and
 * password checks. HASH is a crypt(3) hash ($y$, $6$, $5$ ...) or
 * "{PLAIN}password". The table answers "is this a local mailbox, and how is it
 * spelled" (matched without regard to case) and "is this password right".
 * Loading reports "FILE:LINE: message" for a bad line. No network, no events.
 */
#ifndef POSTINO_AUTH_H
#define POSTINO_AUTH_H
#include "lib/buf.h"

struct users;

/* Loads the users file; NULL with err set on failure (missing file, bad line, duplicate). */
struct users *users_load(const char *path, struct buf *err);
void users_free(struct users *u);
/* The user's canonical "local@domain" spelling as written in the file, or NULL. */
const char *users_lookup(const struct users *u, const char *local, const char *domain);
/* 1 if the password matches the user's hash (login is "local@domain"), else 0. */
int users_check_password(const struct users *u, const char *login, const char *password);
size_t users_count(const struct users *u);

#define AUTH_LOGIN_MAX 320 /* "local@domain": 64 + 1 + 255 (as SASL_USER_MAX) */
/* Whose mailbox a login opens: the address as the users file spells it, and its
 * local part and lower-case domain, each one safe path component (maildir_component_ok). */
struct auth_box {
    char addr[AUTH_LOGIN_MAX + 1];
    char local[AUTH_LOGIN_MAX + 1];
    char domain[AUTH_LOGIN_MAX + 1];
};
/* A reader's login (POP3, the Web): the password checked (crypt: slow, for worker
 * threads) and the mailbox found. 1, or 0 (wrong login or password, no such mailbox). */
int auth_mailbox_login(const struct users *u, const char *login, const char *password,
                       struct auth_box *out);
/* Hashes a password for the users file with crypt(3) (yescrypt if available, else SHA-512). */
int auth_hash_password(const char *password, struct buf *out);

#endif
