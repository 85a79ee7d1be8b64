/*
 * fuzz_conf: libFuzzer harness for the postino.conf parser (mail/conf),
 * through conf_load_settings (the users, aliases and TLS files a config
 * names are not opened). Checks: an error is "FILE:LINE: message" with a
 * line of the input; an accepted config prints (conf_print) as a config that
 * loads again and prints the very same text, so `postino check` output is
 * always a valid config meaning the same; nothing leaks.
 * Build: tests/fuzz/run.sh.
 */
#include <stdio.h>
#include "input_file.h"
#include "mail/conf.h"

/* conf_print of c without its first line (which names the file). */
static char *print_settings(const struct conf *c, size_t *len)
{
    char *text = NULL;
    size_t n = 0;
    FILE *f = open_memstream(&text, &n);
    assert(f);
    conf_print(c, f);
    assert(fclose(f) == 0);
    char *body = strchr(text, '\n') + 1;
    *len = n - (size_t)(body - text);
    memmove(text, body, *len + 1);
    return text;
}

/* The printed text loads and prints to itself. */
static void check_reprint(const char *printed, size_t len)
{
    struct input_file f;
    struct conf again;
    struct buf err;
    buf_init(&err, 4096);
    input_file_open(&f, printed, len);
    if (conf_load_settings(f.path, &again, &err) != 0) {
        fprintf(stderr, "printed config rejected: %s\n%s", buf_cstr(&err), printed);
        abort();
    }
    size_t len2;
    char *second = print_settings(&again, &len2);
    assert(len2 == len && memcmp(second, printed, len) == 0);
    free(second);
    conf_free(&again);
    input_file_close(&f);
    buf_free(&err);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct input_file f;
    struct conf c;
    struct buf err;
    buf_init(&err, 4096);
    input_file_open(&f, data, size);
    if (conf_load_settings(f.path, &c, &err) == 0) {
        size_t len;
        char *printed = print_settings(&c, &len);
        check_reprint(printed, len);
        free(printed);
        conf_free(&c);
    } else {
        input_check_error(&err, f.path, input_lines(data, size));
    }
    input_file_close(&f);
    buf_free(&err);
    return 0;
}
