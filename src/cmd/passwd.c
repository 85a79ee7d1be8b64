/*
 * passwd: "postino passwd" reads a password on stdin (one line) and prints
 * its crypt(3) hash for the users file.
 */
#include "cmd/cmd.h"
#include "lib/buf.h"
#include "mail/auth.h"
#include <stdio.h>
#include <string.h>
#include <sysexits.h>

int cmd_passwd(int argc, char **argv)
{
    if (argc > 1 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)) {
        printf("usage: postino passwd < password\n"
               "Reads one line (the password) on stdin and prints its hash for the users file.\n");
        return 0;
    }
    if (argc > 1) {
        fprintf(stderr, "usage: postino passwd < password\n");
        return EX_USAGE;
    }
    char line[1024];
    if (!fgets(line, sizeof line, stdin)) {
        fprintf(stderr, "postino passwd: no password on standard input\n");
        return EX_NOINPUT;
    }
    line[strcspn(line, "\r\n")] = '\0';
    if (!line[0]) {
        fprintf(stderr, "postino passwd: empty password\n");
        return EX_DATAERR;
    }
    struct buf out;
    buf_init(&out, 1024);
    int r = auth_hash_password(line, &out);
    memset(line, 0, sizeof line);
    if (r < 0) {
        fprintf(stderr, "postino passwd: cannot hash the password\n");
        buf_free(&out);
        return EX_SOFTWARE;
    }
    printf("%s\n", buf_cstr(&out));
    buf_free(&out);
    return 0;
}
