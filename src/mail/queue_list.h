/*
 * queue_list: the queue listing, the one formatter behind `postino queue
 * list`, `sendmail -bp` and mailq, whether the command reads the queue files
 * itself or a local user gets the listing from the server's read-only socket
 * (qmgr/control.c): both run this code on the same files, so the output is
 * the same. Human form laid out like Postfix's mailq; --json one object per
 * message (INTERFACE.md "Commands").
 *
 * The listing streams: one envelope is loaded, formatted and freed at a
 * time, in the order of the queue directories (DATA_DIR/queue/00 .. FF, then
 * as each directory lists its files), as Postfix's mailq does; so its memory
 * does not grow with the queue. The human form walks the queue twice (the
 * first pass only measures the column widths). The caller takes the output
 * in steps (queue_list_next), so a server can send one step before making
 * the next. Reads files only (blocking: the server runs it on a disk
 * worker); no sockets, no event loop.
 */
#ifndef POSTINO_QUEUE_LIST_H
#define POSTINO_QUEUE_LIST_H
#include <dirent.h>
#include <limits.h>
#include <stddef.h>
#include <stdint.h>
#include "lib/buf.h"
#include "mail/envelope.h"

/* A walk over the messages of DATA_DIR/queue, one loaded envelope at a time. */
struct queue_walk {
    char dir[PATH_MAX];      /* DATA_DIR/queue */
    int sub;                 /* the next subdirectory (0..255) to open */
    DIR *d;                  /* the subdirectory being read, or NULL */
    int missing;             /* no queue directory at all: an empty queue */
    size_t unreadable;       /* damaged files met (the server moves them at start) */
};

/* 0, or -1 with errno (ENAMETOOLONG; another error than ENOENT on DATA_DIR/queue). */
int queue_walk_open(struct queue_walk *w, const char *data_dir);
/* Loads the next message into e (the caller frees it): 1, 0 at the end, -1 with errno
 * (EACCES: not this user's queue). A file removed meanwhile is skipped, a damaged one
 * counted in unreadable and skipped. */
int queue_walk_next(struct queue_walk *w, struct envelope *e);
void queue_walk_close(struct queue_walk *w);

enum queue_list_phase {
    QUEUE_LIST_MEASURE,      /* human: first pass, the column widths and the count */
    QUEUE_LIST_MESSAGES,     /* one entry per message */
    QUEUE_LIST_END,          /* human: the summary line and the damage lines */
    QUEUE_LIST_DONE
};

struct queue_list_stream {
    char data_dir[PATH_MAX];
    int json;
    enum queue_list_phase phase;
    struct queue_walk walk;
    int id_width, size_width; /* human columns: the widest id (with '!') and size */
    size_t measured;          /* messages seen by the first pass */
    size_t n;                 /* messages listed */
    uint64_t total;           /* their sizes */
};

/* Files handled by one queue_list_next call at most, whatever it printed. */
#define QUEUE_LIST_STEP_FILES 2048

/* Starts a listing of DATA_DIR's queue. 0, or -1 with errno. */
int queue_list_open(struct queue_list_stream *s, const char *data_dir, int json);
/*
 * Appends the next part of the listing to out: stops once it appended want
 * bytes or read QUEUE_LIST_STEP_FILES files. 1: more to come, 0: the
 * listing is complete, -1 with errno (EACCES: not this user's queue).
 */
int queue_list_next(struct queue_list_stream *s, struct buf *out, size_t want);
void queue_list_close(struct queue_list_stream *s);

/* Appends one message: human (with the widths given) or its JSON line. */
void queue_list_human(const struct envelope *e, int id_width, int size_width, struct buf *out);
void queue_list_json(const struct envelope *e, struct buf *out);

/*
 * The damaged files, never silently left out: "PREFIXN corrupt queue files
 * in DATA_DIR/corrupt" (moved aside, mail/quarantine.h) and the unreadable
 * ones a walk met still in the queue; nothing when there are none.
 */
void queue_list_damage(const char *data_dir, size_t unreadable, const char *prefix,
                       struct buf *b);
/*
 * The whole output of `queue list` into out (for tests and small queues).
 * The damage lines end the human listing; with json they go to note
 * ("postino: " lines, for standard error: standard output stays one object
 * a line), unless note is NULL. -1 with errno.
 */
int queue_list_format(const char *data_dir, int json, struct buf *out, struct buf *note);
/* "2026-12-05T08:06:00Z" for ms since the epoch. */
void queue_list_time(int64_t ms, char *out, size_t size);

/* A set of loaded messages (the unit tests of queue_summary build one by hand). */
struct queue_listing {
    struct envelope *msgs;
    size_t n, cap;
};
void queue_listing_free(struct queue_listing *l);

#endif
