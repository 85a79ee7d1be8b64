/*
 * sendmail / send: the sendmail(8)-compatible interface and the SMTP
 * submission client. Not built yet (tracked as its own issue): both say so
 * and exit EX_UNAVAILABLE rather than pretending to send anything.
 */
#include "cmd/cmd.h"
#include <stdio.h>
#include <sysexits.h>

int cmd_sendmail(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    fprintf(stderr, "postino sendmail: not available in this version yet; submit over SMTP\n");
    return EX_UNAVAILABLE;
}

int cmd_send(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    fprintf(stderr, "postino send: not available in this version yet\n");
    return EX_UNAVAILABLE;
}
