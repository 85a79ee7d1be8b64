/*
 * fuzz_users: libFuzzer harness for the users file parser (mail/auth,
 * lib/keytable). Checks: an error is "FILE:LINE: message" with a line of
 * the input; an accepted file holds at most one user a line, and every
 * line that is not blank or a comment is a user that users_lookup finds,
 * in any case, and returns as spelled in the file; nothing leaks.
 * Passwords are not checked here: each check costs a yescrypt run.
 * Build: tests/fuzz/run.sh.
 */
#include "input_file.h"
#include "mail/auth.h"

static void upper_ascii(char *s)
{
    for (; *s; s++)
        if (*s >= 'a' && *s <= 'z')
            *s = (char)(*s - 'a' + 'A');
}

/* The address of one user line (text up to its first ':') is found as written. */
static void check_line(const struct users *u, char *line)
{
    char *s = str_trim(line), *colon = strchr(s, ':');
    if (*s == '\0' || *s == '#')
        return;
    assert(colon);
    *colon = '\0';
    char *at = strchr(s, '@');
    assert(at);
    *at = '\0';
    const char *found = users_lookup(u, s, at + 1);
    *at = '@';
    assert(found && strcmp(found, s) == 0);
    upper_ascii(s);
    *at = '\0';
    assert(users_lookup(u, s, at + 1) == found);
}

static void *load(const char *path, struct buf *err)
{
    return users_load(path, err);
}

static size_t count(const void *table)
{
    return users_count(table);
}

static void check_one(const void *table, char *line)
{
    check_line(table, line);
}

static void free_table(void *table)
{
    users_free(table);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const struct input_table_ops ops = {
        .load = load, .count = count, .check_line = check_one, .free = free_table,
    };
    input_run_table(&ops, data, size);
    return 0;
}
