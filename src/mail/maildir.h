/*
 * maildir: final delivery into DATA_DIR/mail/DOMAIN/LOCAL/ in Maildir format
 * (INTERFACE.md "Mailboxes"; the Maildir conventions of qmail/Dovecot):
 * write tmp/NAME, fsync, rename to new/NAME. The caller fsyncs new/ (once
 * for a batch). The stored message starts with "Return-Path: <sender>",
 * has LF line ends, and otherwise the content's bytes unchanged.
 * Every failure is reported as -1 with errno; the caller treats it as
 * temporary (retry), so no mail is lost to a missing folder or a full disk.
 */
#ifndef POSTINO_MAILDIR_H
#define POSTINO_MAILDIR_H
#include <stddef.h>
#include <stdint.h>
#include <limits.h>
#include <sys/types.h>

/*
 * The file name of one delivery: SEC.QID_N.HOST, where SEC is the message's
 * arrival time, ID its queue id and N the recipient's index (host's '/' and
 * ':' escaped as \057, \072). It is unique (queue ids are) and the same for
 * every attempt, so a delivery repeated after a crash finds its earlier copy
 * in new/ and does not make a second one.
 */
int maildir_unique_name(char *out, size_t size, uint64_t sec, const char *id, size_t n,
                        const char *host);
/* 1 if s is usable as one path component (non-empty, no '/', not starting with '.', no control). */
int maildir_component_ok(const char *s);

/*
 * The mailbox folder of local@domain: DATA_DIR/mail/DOMAIN/LOCAL, each a
 * single component (maildir_component_ok), so the path stays under
 * DATA_DIR/mail. -1 with errno EINVAL (a bad component) or ENAMETOOLONG.
 */
int maildir_box_path(char *out, size_t size, const char *data_dir, const char *domain,
                     const char *local);

/* Streaming CRLF -> LF conversion state (a CR at the end of a chunk is held back). */
struct maildir_lf { int held_cr; };
/* Converts in[0..n) appending to out (capacity >= n + 1); returns bytes written. */
size_t maildir_crlf_to_lf(struct maildir_lf *st, const char *in, size_t n, char *out);

/* A message being delivered: written to tmp/, then published into new/. */
struct maildir_msg {
    int fd;                  /* open on tmp until published; -1 after */
    char tmp[PATH_MAX];
    char dst[PATH_MAX];
    char new_dir[PATH_MAX];  /* to fsync after publishing */
};

/* The lines local delivery adds to the message, as Postfix's local(8) does. */
struct maildir_head {
    const char *return_path;    /* the envelope sender ("" for <>), the first line */
    const char *delivered_to;   /* the recipient delivered to, or NULL for no Delivered-To */
    uint64_t delivered_to_at;   /* the octets of content before it (past this host's Received) */
};

/*
 * Writes size bytes of CRLF content read from fd at offset, after a
 * Return-Path line and with head's Delivered-To line after the first
 * delivered_to_at octets of content, into tmp/ of the mailbox of
 * local@domain under data_dir (creating the folders when missing). No
 * fsync: the caller fsyncs m->fd (batched), then calls maildir_publish.
 * 0 or -1 (errno).
 */
int maildir_write(const char *data_dir, const char *domain, const char *local, const char *name,
                  const struct maildir_head *head, int fd, uint64_t offset, uint64_t size,
                  struct maildir_msg *m);
/* Closes and renames tmp -> new (never replacing: a copy already in new/ counts as
 * delivered); the caller then fsyncs m->new_dir. */
int maildir_publish(struct maildir_msg *m);
/* Closes and removes the temporary file (after a failure). */
void maildir_abort(struct maildir_msg *m);

#endif
