/*
 * mailbox: a POP3 session's view of one Maildir (INTERFACE.md "Mailboxes":
 * DATA_DIR/mail/DOMAIN/LOCAL/{tmp,new,cur}). A snapshot taken at login:
 * every regular file of new/ and cur/, sorted by name (Maildir names begin
 * with the arrival time), with the size as POP3 sends it (LF -> CRLF: file
 * bytes + number of LFs) and its UIDL, the Maildir unique name (the part
 * before ":2,"), stable across sessions. Mail arriving later is not seen.
 * Reading it whole (RETR) marks a message seen the Maildir way (new/NAME -> cur/NAME:2,S);
 * deletion is an unlink, done only by mailbox_commit (POP3 UPDATE state).
 * The Web reader deletes by moving to the Maildir++ folder .Trash instead
 * (mailbox_trash), where Dovecot and other Maildir++ readers show it as Trash.
 * Blocking file I/O: no event loop here.
 */
#ifndef POSTINO_MAILBOX_H
#define POSTINO_MAILBOX_H
#include <limits.h>
#include <stddef.h>
#include <stdint.h>

struct mailbox_msg {
    char *name;         /* file name within its folder */
    char *uid;          /* the unique name: name up to ":2," */
    int in_new;         /* 1: in new/, 0: in cur/ */
    uint64_t size;      /* octets as sent: bytes + LFs */
    int deleted;        /* marked by DELE */
};

struct mailbox {
    char dir[PATH_MAX];
    struct mailbox_msg *msgs;
    size_t n;
};

/* Snapshots the mailbox of local@domain (missing folders = empty). 0, or -1 with errno. */
int mailbox_open(struct mailbox *mb, const char *data_dir, const char *domain, const char *local);
/* The same for the Web reader: size is the file's size (nothing read: cheap for a
 * mailbox of thousands). 0, or -1 with errno. */
int mailbox_open_light(struct mailbox *mb, const char *data_dir, const char *domain,
                       const char *local);
/* The index of the message whose unique name is uid (a name only ever compared with
 * the snapshot's: no path is made from it), or -1. */
long mailbox_find(const struct mailbox *mb, const char *uid);
/* The path of message i (0-based). 0, or -1 if too long. */
int mailbox_path(const struct mailbox *mb, size_t i, char *out, size_t size);
/* Moves message i from new/ to cur/ with ":2,S" (or adds S in cur/). 0 or -1 (errno). */
int mailbox_mark_seen(struct mailbox *mb, size_t i);
/* 1 if the Maildir file name carries the S (seen) flag in its info ":2,FLAGS"
 * (the flags after the last ":2,"). Pure. */
int mailbox_name_seen(const char *name);
/* 1 if m is seen: in cur/ with the S flag (anything in new/ is unseen). Pure. */
int mailbox_msg_seen(const struct mailbox_msg *m);
/*
 * Moves message i into the Maildir++ folder .Trash of the same mailbox
 * (DIR/.Trash/{tmp,new,cur} and its empty "maildirfolder" file are made 0700/0600
 * when missing), into .Trash/cur/ with its name and flags kept, then fsyncs the
 * folder it left and .Trash/cur. 0, or -1 with errno (ENOENT: the file is gone,
 * e.g. renamed by a POP3 session since the snapshot).
 */
int mailbox_trash(struct mailbox *mb, size_t i);
/* Unlinks the messages marked deleted; returns how many could not be removed. */
size_t mailbox_commit(struct mailbox *mb);
void mailbox_close(struct mailbox *mb);

#endif
