/*
 * privilege: what `postino serve` does with root when started as root: it
 * looks up run_as, gives data_dir and everything in it to that user (modes:
 * files 0600, folders 0700, data_dir 0711, the maildrop 1733 with its drop
 * files left to their submitters), then drops to the user for good and
 * checks that root cannot be regained. Started as another user it does
 * nothing but say once that run_as is ignored.
 */
#ifndef POSTINO_CMD_PRIVILEGE_H
#define POSTINO_CMD_PRIVILEGE_H
#include "mail/conf.h"

/*
 * Called once the listeners are bound and the TLS key is read, before the
 * queue is opened. 0 when running as run_as (or not started as root), or -1
 * (logged: a missing user, uid 0, a data_dir that cannot be fixed, a failed
 * drop, or root still reachable after it): serve then exits 2.
 */
int privilege_drop(const struct conf *c);

#endif
