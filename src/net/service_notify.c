/*
 * service_notify: the readiness protocol of systemd (sd_notify(3)) for
 * `postino serve`. See service_notify.h. libsystemd is the protocol's own
 * implementation: it handles abstract sockets ("@..."), vsock addresses and
 * the sender's credentials that the manager checks, so postino keeps no
 * copy of it. A failure to notify is logged once and otherwise ignored: the
 * mail keeps flowing even if the manager cannot be told.
 */
#include "net/service_notify.h"
#include "lib/log.h"
#include "lib/str.h"
#include <string.h>
#include <systemd/sd-daemon.h>
#include <time.h>

static int service_notify_failed;

/* Sends state; a negative result is logged the first time only. */
static void service_notify_send(const char *state)
{
    int r = sd_notify(0, state);
    if (r >= 0 || service_notify_failed)
        return;
    service_notify_failed = 1;
    log_err("service manager: cannot notify \"%.40s\": %s", state, strerror(-r));
}

void service_notify_ready(const char *status)
{
    char state[512];
    if (str_fmt(state, sizeof state, "READY=1\nSTATUS=%s", status ? status : "ready") < 0)
        service_notify_send("READY=1");
    else
        service_notify_send(state);
}

void service_notify_reloading(void)
{
    struct timespec ts;
    char state[96];
    clock_gettime(CLOCK_MONOTONIC, &ts);
    unsigned long long usec = (unsigned long long)ts.tv_sec * 1000000ull +
                              (unsigned long long)ts.tv_nsec / 1000ull;
    if (str_fmt(state, sizeof state, "RELOADING=1\nMONOTONIC_USEC=%llu", usec) < 0)
        service_notify_send("RELOADING=1");
    else
        service_notify_send(state);
}

void service_notify_stopping(void)
{
    service_notify_send("STOPPING=1");
}
