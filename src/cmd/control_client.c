/*
 * control_client: connecting to the server's local sockets and one
 * request/answer exchange (see control_client.h).
 */
#include "cmd/control_client.h"
#include "lib/str.h"
#include "qmgr/control.h"
#include <errno.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <unistd.h>

int control_client_connect(const struct conf *c, const char *name, time_t timeout_s)
{
    struct sockaddr_un sun = {.sun_family = AF_UNIX};
    if (str_fmt(sun.sun_path, sizeof sun.sun_path, "%s/%s", c->data_dir, name) < 0) {
        errno = ENAMETOOLONG;
        return -1;
    }
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0 || connect(fd, (struct sockaddr *)&sun, sizeof sun) < 0) {
        int saved = errno;
        if (fd >= 0)
            close(fd);
        errno = saved;
        return -1;
    }
    struct timeval tv = {timeout_s, 0};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    return fd;
}

int control_client_request(const struct conf *c, const char *req, char *reply, size_t size,
                           time_t timeout_s)
{
    int fd = control_client_connect(c, CONTROL_SOCKET, timeout_s);
    if (fd < 0)
        return -1;
    size_t len = 0;
    if (write(fd, req, strlen(req)) == (ssize_t)strlen(req))
        while (len + 1 < size) { /* the answer may come in pieces: read to its LF or EOF */
            ssize_t n = read(fd, reply + len, size - 1 - len);
            if (n <= 0)
                break;
            len += (size_t)n;
            if (memchr(reply + len - (size_t)n, '\n', (size_t)n))
                break;
        }
    close(fd);
    reply[len] = '\0';
    reply[strcspn(reply, "\n")] = '\0';
    return 0;
}
