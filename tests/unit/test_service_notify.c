/*
 * test_service_notify: unit tests for net/service_notify (sd_notify
 * readiness). A datagram socket in a temporary folder stands in for
 * systemd's: READY=1 carries a STATUS= line, RELOADING=1 a MONOTONIC_USEC=
 * of the current monotonic clock, STOPPING=1 comes alone; without
 * NOTIFY_SOCKET nothing is sent and nothing fails.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include "net/service_notify.h"
#include "testutil.h"

TESTUTIL_TMPDIR_FIXTURES("notify")

/* Binds a datagram socket at tmpdir/notify and points NOTIFY_SOCKET at it. */
static int bind_listener(void)
{
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    snprintf(sa.sun_path, sizeof sa.sun_path, "%s/notify", tmpdir);
    int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    assert_true(fd >= 0);
    assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof sa), 0);
    assert_int_equal(setenv("NOTIFY_SOCKET", sa.sun_path, 1), 0);
    return fd;
}

/* The next datagram, NUL-terminated, in out (a test failure if none is waiting). */
static void next_state(int fd, char *out, size_t size)
{
    ssize_t n = recv(fd, out, size - 1, 0);
    assert_true(n > 0);
    out[n] = '\0';
}

static unsigned long long now_usec(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (unsigned long long)ts.tv_sec * 1000000ull + (unsigned long long)ts.tv_nsec / 1000ull;
}

static void test_states(void **state)
{
    (void)state;
    int fd = bind_listener();
    char got[512];
    service_notify_ready("accepting mail");
    next_state(fd, got, sizeof got);
    assert_string_equal(got, "READY=1\nSTATUS=accepting mail");
    service_notify_ready(NULL);
    next_state(fd, got, sizeof got);
    assert_string_equal(got, "READY=1\nSTATUS=ready");

    unsigned long long before = now_usec();
    service_notify_reloading();
    next_state(fd, got, sizeof got);
    assert_true(strncmp(got, "RELOADING=1\nMONOTONIC_USEC=", 27) == 0);
    unsigned long long usec = strtoull(got + 27, NULL, 10);
    assert_true(usec >= before && usec <= now_usec());

    service_notify_stopping();
    next_state(fd, got, sizeof got);
    assert_string_equal(got, "STOPPING=1");
    assert_true(recv(fd, got, sizeof got, 0) < 0); /* nothing more */
    unsetenv("NOTIFY_SOCKET");
}

static void test_no_socket_is_a_no_op(void **state)
{
    (void)state;
    unsetenv("NOTIFY_SOCKET");
    service_notify_ready("x");
    service_notify_reloading();
    service_notify_stopping();
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_states, setup, teardown),
        cmocka_unit_test(test_no_socket_is_a_no_op),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
