/*
 * html_clean: an HTML mail body made safe to show (the Web reader's
 * sanitizer). The bytes are parsed with libxml2's HTML parser (no network,
 * errors recovered) and the tree is written out again through an allow-list:
 * only formatting elements and attributes survive, text is escaped, and
 * nothing that runs, submits, embeds or loads from elsewhere is kept:
 * scripts, frames, objects, forms, style sheets, svg and math go with their
 * content, every on* attribute and every URL that is not http(s)/mailto for a
 * link or data:image/ for an image goes. Remote images (img src/srcset,
 * background, CSS url()) are removed unless allowed, and the caller learns
 * that some were. Links are plain (no target). Pure: no I/O.
 */
#ifndef POSTINO_HTML_CLEAN_H
#define POSTINO_HTML_CLEAN_H
#include <stddef.h>
#include "lib/buf.h"

#define HTML_CLEAN_IN_MAX (8u * 1024 * 1024) /* longer input is cut there */

/* The URL to show for an image "cid:ID" (RFC 2392: a part of the same
 * message; id percent-decoded), malloc'd, or NULL to drop it. It must be a
 * data:image/ URL: the frame may load nothing else. */
typedef char *(*html_clean_cid_fn)(void *ctx, const char *id);

struct html_clean_opts {
    int allow_remote;             /* keep http(s) image URLs (the user asked) */
    html_clean_cid_fn cid;        /* may be NULL: cid: images dropped */
    void *cid_ctx;
};

struct html_clean_result {
    int remote_found;             /* the HTML referred to remote images or styles */
    int remote_removed;           /* ... and they were removed (allow_remote off) */
    int cut;                      /* the input was longer than HTML_CLEAN_IN_MAX */
};

/* Once, on the main thread, before threads parse. */
void html_clean_init(void);
/* Appends a whole cleaned document (doctype, head with charset, body) for the
 * UTF-8 bytes in[0..len) to out. 0, or -1 when out is full. */
int html_clean(const char *in, size_t len, const struct html_clean_opts *opts, struct buf *out,
               struct html_clean_result *res);

#endif
