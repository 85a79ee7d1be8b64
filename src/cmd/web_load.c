/*
 * web_load: finding, checking and loading postino-web.so (see web_load.h).
 * The module is looked for next to the running binary (a build tree), then
 * in ../lib/postino/ from it (an installed PREFIX/sbin/postino). It is
 * loaded as root, so it must be a regular file owned by root or by the
 * binary's owner and writable by nobody else, as sshd asks of its files.
 */
#include "cmd/web_load.h"
#include "lib/alloc.h"
#include "lib/log.h"
#include "lib/str.h"
#include <dlfcn.h>
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

struct web_module {
    struct webd *w;                 /* NULL: no web listener, nothing loaded */
    void (*set_conf)(struct webd *w, const struct conf *c, SSL_CTX *tls_ctx);
    void (*free)(struct webd *w);
};

static int web_load_wanted(const struct conf *c)
{
    for (size_t i = 0; i < c->n_listens; i++)
        if (c->listens[i].kind == LISTEN_WEB || c->listens[i].kind == LISTEN_WEBS)
            return 1;
    return 0;
}

/* 0 if path is a file we may load as root: regular, owned by root or by owner, not
 * writable by group or others. Else -1 with why set. */
static int web_load_safe(const char *path, uid_t owner, const char **why)
{
    struct stat st;
    if (stat(path, &st) < 0)
        return *why = strerror(errno), -1;
    if (!S_ISREG(st.st_mode))
        return *why = "not a regular file", -1;
    if (st.st_uid != 0 && st.st_uid != owner)
        return *why = "owned by another user than root or the binary's owner", -1;
    if (st.st_mode & (S_IWGRP | S_IWOTH))
        return *why = "writable by group or others", -1;
    return 0;
}

/* The module's path into out: the first place where it exists. 0, or -1 (logged). */
static int web_load_find(char *out, size_t size)
{
    char exe[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    struct stat st;
    if (n <= 0 || stat("/proc/self/exe", &st) < 0) {
        log_err("web: cannot find the running binary: %s", strerror(errno));
        return -1;
    }
    exe[n] = '\0';
    char *slash = strrchr(exe, '/');
    *slash = '\0';
    static const char *const places[] = {"%s/" WEB_MODULE_NAME,
                                         "%s/../lib/postino/" WEB_MODULE_NAME};
    const char *why = "not found";
    for (size_t i = 0; i < sizeof places / sizeof places[0]; i++) {
        if (str_fmt(out, size, places[i], exe) < 0 || access(out, F_OK) < 0)
            continue;
        if (web_load_safe(out, st.st_uid, &why) == 0)
            return 0;
        log_err("web: %s: refused: %s", out, why);
        return -1;
    }
    log_err("web: the Web reader's module %s is not next to %s/postino nor in %s/../lib/postino "
            "(make install puts it there)", WEB_MODULE_NAME, exe, exe);
    return -1;
}

/* dlopen and the three entry points, into m; the new reader through *new_fn. */
static int web_load_open(struct web_module *m, void **new_fn)
{
    char path[PATH_MAX];
    if (web_load_find(path, sizeof path) < 0)
        return -1;
    void *dl = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    if (!dl) {
        log_err("web: cannot load %s: %s", path, dlerror());
        return -1;
    }
    *new_fn = dlsym(dl, "webd_new");
    *(void **)&m->set_conf = dlsym(dl, "webd_set_conf");
    *(void **)&m->free = dlsym(dl, "webd_free");
    if (!*new_fn || !m->set_conf || !m->free) {
        log_err("web: %s is not postino's Web reader (missing entry points)", path);
        dlclose(dl);
        return -1;
    }
    return 0;
}

struct web_module *web_load(struct event_base *base, const struct conf *c, SSL_CTX *tls_ctx,
                            const struct webd_deps *deps)
{
    struct web_module *m = xcalloc(1, sizeof *m);
    if (!web_load_wanted(c))
        return m;
    void *new_fn = NULL;
    if (web_load_open(m, &new_fn) < 0) {
        free(m);
        return NULL;
    }
    struct webd *(*mk)(struct event_base *, const struct conf *, SSL_CTX *,
                       const struct webd_deps *);
    *(void **)&mk = new_fn;
    if (!(m->w = mk(base, c, tls_ctx, deps))) {
        free(m);
        return NULL;
    }
    return m;
}

void web_load_set_conf(struct web_module *m, const struct conf *c, SSL_CTX *tls_ctx)
{
    if (m && m->w)
        m->set_conf(m->w, c, tls_ctx);
}

void web_load_free(struct web_module *m)
{
    if (!m)
        return;
    if (m->w)
        m->free(m->w);
    free(m);
}
