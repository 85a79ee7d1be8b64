/*
 * fuzz_aliases: libFuzzer harness for the aliases file parser (mail/alias,
 * lib/keytable). Checks: an error is "FILE:LINE: message" with a line of
 * the input; an accepted file holds at most one alias a line; every alias
 * whose name is a plain dot-atom (kept as written) is found by
 * aliases_lookup in any case, with at least one target, each target a
 * "local@domain" without blanks or commas and none listed twice; nothing
 * leaks. Build: tests/fuzz/run.sh.
 */
#include <ctype.h>
#include "input_file.h"
#include "mail/alias.h"

/* A name that parsing keeps as written: letters, digits, '.', '-', one '@'. */
static int plain_name(const char *s)
{
    int ats = 0;
    for (; *s; s++) {
        ats += *s == '@';
        if (!isalnum((unsigned char)*s) && !strchr(".-@", *s))
            return 0;
    }
    return ats == 1;
}

static void check_targets(const char *const *t, size_t n)
{
    assert(t && n >= 1);
    for (size_t i = 0; i < n; i++) {
        assert(strchr(t[i], '@') && !strpbrk(t[i], " \t,"));
        for (size_t j = 0; j < i; j++)
            assert(!str_ieq(t[i], t[j]));
    }
}

/* One line of an accepted file: its alias, when plainly spelled, resolves. */
static void check_line(const struct aliases *a, char *line)
{
    char *s = str_trim(line), *colon = strchr(s, ':');
    if (*s == '\0' || *s == '#')
        return;
    assert(colon);
    *colon = '\0';
    char *name = str_trim(s);
    if (!plain_name(name))
        return;
    char *at = strchr(name, '@');
    *at = '\0';
    size_t n;
    const char *const *t = aliases_lookup(a, name, at + 1, &n);
    str_lower(name);
    str_lower(at + 1);
    size_t n2;
    assert(aliases_lookup(a, name, at + 1, &n2) == t && n2 == n);
    check_targets(t, n);
}

static void *load(const char *path, struct buf *err)
{
    return aliases_load(path, err);
}

static size_t count(const void *table)
{
    return aliases_count(table);
}

static void check_one(const void *table, char *line)
{
    check_line(table, line);
}

static void free_table(void *table)
{
    aliases_free(table);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const struct input_table_ops ops = {
        .load = load, .count = count, .check_line = check_one, .free = free_table,
    };
    input_run_table(&ops, data, size);
    return 0;
}
