/*
 * sendmail: the sendmail(8)-compatible interface. Not built yet (tracked as
 * its own issue): it says so and exits EX_UNAVAILABLE rather than pretending
 * to send anything. The SMTP submission client "send" is in send.c.
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
