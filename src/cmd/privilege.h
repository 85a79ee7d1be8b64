/*
 * privilege: what `postino serve` does with root when started as root: it
 * looks up run_as, gives data_dir and everything in it to that user (modes:
 * files 0600, folders 0700, data_dir 0711, the maildrop 1733 with its drop
 * files left to their submitters), then drops to the user for good and
 * checks that root cannot be regained. The folders are fixed before the
 * drop; the files by a child that stays root until it is done (the
 * walker), so that a big queue does not hold the listeners up. Started as another user it does
 * nothing but say once that run_as is ignored.
 */
#ifndef POSTINO_CMD_PRIVILEGE_H
#define POSTINO_CMD_PRIVILEGE_H
#include <sys/types.h>
#include "mail/conf.h"

/*
 * Called once the listeners are bound and the TLS key is read, before the
 * queue is opened. 0 when running as run_as (or not started as root), or -1
 * (logged: a missing user, uid 0, a data_dir that cannot be fixed, a failed
 * drop, or root still reachable after it): serve then exits 2.
 */
int privilege_drop(const struct conf *c);
/* The walker started by privilege_drop, or -1 (none: not started as root). */
pid_t privilege_walker(void);
/* Waits for the walker to end (blocking: call it off the event loop). 0 if it gave
 * every file away, -1 if it failed (it logged why) or was killed. */
int privilege_walker_wait(pid_t pid);
/* At shutdown: a walker still running is killed. */
void privilege_walker_stop(void);

#endif
