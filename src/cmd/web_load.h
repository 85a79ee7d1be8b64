/*
 * web_load: the Web reader as a module loaded only when it is configured.
 * The reader (src/webd, with GMime, GLib and libxml2 and what they pull in:
 * ICU, libstdc++) lives in postino-web.so, next to the postino binary in a
 * build tree, or in PREFIX/lib/postino once installed. A server without a
 * `listen web`/`listen webs` line never loads it, so it does not pay for
 * those libraries (about 4 MiB of memory). The module calls back into the
 * binary (the binary exports its symbols), so both share one log, one queue
 * and one tracking store.
 */
#ifndef POSTINO_WEB_LOAD_H
#define POSTINO_WEB_LOAD_H
#include "webd/webd.h"

#define WEB_MODULE_NAME "postino-web.so"

struct web_module;

/* The Web reader for c's web/webs listeners: loaded and started when c has one, an
 * idle handle when not; NULL (logged) when the module cannot be loaded or a
 * listener bound. Called as root, before the privilege drop. */
struct web_module *web_load(struct event_base *base, const struct conf *c, SSL_CTX *tls_ctx,
                            const struct webd_deps *deps);
/* A reload's settings (nothing when idle). */
void web_load_set_conf(struct web_module *m, const struct conf *c, SSL_CTX *tls_ctx);
/* Stops the reader (its workers finish first). The module stays mapped: code of its
 * libraries may still be referenced (GLib's atexit handlers). NULL is fine. */
void web_load_free(struct web_module *m);
#endif
