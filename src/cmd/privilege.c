/*
 * privilege: the start as root of `postino serve` (privilege.h). The
 * data_dir walk uses descriptors (openat, O_NOFOLLOW, fstat, fchown,
 * fchmod) so a symbolic link planted in data_dir never makes root change
 * a file outside it.
 */
#include "cmd/privilege.h"
#include "lib/fsio.h"
#include "lib/log.h"
#include "lib/str.h"
#include "mail/maildrop.h"
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <signal.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#define PRIV_DEPTH_MAX 16
#define PRIV_FD_SCAN 4096   /* descriptors the walker looks at for inherited sockets */

static pid_t priv_walker = -1;   /* the child giving data_dir's files away, or -1 */
static _Atomic int priv_walker_reaped;
#define PRIV_USERADD "useradd --system --home-dir /var/lib/postino --shell /usr/sbin/nologin"

struct priv_owner {
    uid_t uid;
    gid_t gid;
    unsigned fixed;             /* entries whose owner or mode changed */
    int files;                  /* 0: folders only (before the drop), 1: files too (walker) */
};

enum priv_kind { PRIV_FILE, PRIV_DIR, PRIV_TOP, PRIV_DROPDIR };

static mode_t priv_mode(enum priv_kind k)
{
    switch (k) {
    case PRIV_FILE: return 0600;
    case PRIV_DIR: return 0700;
    case PRIV_TOP: return 0711;
    case PRIV_DROPDIR: return 01733;
    }
    return 0600;
}

/* Gives the open entry fd to the owner with the mode of its kind. */
static int priv_fix_fd(int fd, const struct stat *st, enum priv_kind k, struct priv_owner *o)
{
    mode_t want = priv_mode(k);
    int changed = 0;
    if (st->st_uid != o->uid || st->st_gid != o->gid) {
        if (fchown(fd, o->uid, o->gid) < 0)
            return -1;
        changed = 1;
    }
    /* after fchown: it clears the set-id bits */
    if ((st->st_mode & 07777) != want || changed) {
        if (fchmod(fd, want) < 0)
            return -1;
        changed |= (st->st_mode & 07777) != want;
    }
    o->fixed += (unsigned)changed;
    return 0;
}

static int priv_walk(int dirfd, const char *path, int depth, struct priv_owner *o);

/* Opens entry name of dirfd if it is a regular file or a folder, not a link;
 * -1 with errno 0 for what is left alone (sockets the server makes anew, links,
 * a file with other hard links outside that root must not give away). */
static int priv_open(int dirfd, const char *name, struct stat *st, const struct priv_owner *o)
{
    if (fstatat(dirfd, name, st, AT_SYMLINK_NOFOLLOW) < 0)
        return errno == ENOENT ? (errno = 0, -1) : -1;
    errno = 0;
    if (!S_ISREG(st->st_mode) && !S_ISDIR(st->st_mode))
        return -1;
    if (S_ISREG(st->st_mode) && st->st_uid == o->uid && st->st_gid == o->gid &&
        (st->st_mode & 07777) == priv_mode(PRIV_FILE))
        return -1; /* a file that is right already: nothing to open */
    int dir = S_ISDIR(st->st_mode);
    int fd = openat(dirfd, name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY | O_CLOEXEC |
                                     (dir ? O_DIRECTORY : 0));
    if (fd < 0)
        return errno == ENOENT ? (errno = 0, -1) : -1;
    if (fstat(fd, st) < 0) {
        int saved = errno;
        close(fd);
        errno = saved;
        return -1;
    }
    int linked = S_ISREG(st->st_mode) && st->st_nlink > 1 && st->st_uid != o->uid;
    if (linked)
        log_warn("data_dir: %s: %u hard links and not run_as's: left alone", name,
                 (unsigned)st->st_nlink);
    if (linked || S_ISDIR(st->st_mode) != dir) { /* replaced since fstatat: leave it */
        close(fd);
        errno = 0;
        return -1;
    }
    return fd;
}

/* One entry of a folder: regular files and folders are fixed, the rest is
 * left alone. A failure is logged here, once. */
static int priv_entry(int dirfd, const char *path, const char *name, int top, int depth,
                      struct priv_owner *o)
{
    struct stat st = {0};
    int fd = priv_open(dirfd, name, &st, o);
    if (fd < 0 && errno == 0)
        return 0;
    int dir = S_ISDIR(st.st_mode);
    int drop = top && dir && strcmp(name, MAILDROP_DIR) == 0;
    if (fd < 0 || priv_fix_fd(fd, &st, drop ? PRIV_DROPDIR : dir ? PRIV_DIR : PRIV_FILE, o) < 0) {
        log_err("data_dir: %s/%s: %s", path, name, strerror(errno));
        if (fd >= 0)
            close(fd);
        return -1;
    }
    /* drop files keep their submitter as owner; looking for folders only, a folder
     * with no subfolder (a link count of 2: a queue subdirectory) is not listed */
    if (!dir || drop || (!o->files && st.st_nlink == 2)) {
        close(fd);
        return 0;
    }
    char sub[PATH_MAX];
    str_fmt(sub, sizeof sub, "%s/%s", path, name);
    return priv_walk(fd, sub, depth + 1, o); /* closes fd */
}

/* Fixes every entry of the open folder dirfd (closed here). */
static int priv_walk(int dirfd, const char *path, int depth, struct priv_owner *o)
{
    DIR *d = depth > PRIV_DEPTH_MAX ? NULL : fdopendir(dirfd);
    if (!d) {
        log_err("data_dir: %s: %s", path, depth > PRIV_DEPTH_MAX ? "folders nested too deep"
                                                                 : strerror(errno));
        close(dirfd);
        return -1;
    }
    int r = 0;
    struct dirent *de;
    while (r == 0 && (de = readdir(d)))
        if (strcmp(de->d_name, ".") != 0 && strcmp(de->d_name, "..") != 0 &&
            (o->files || de->d_type != DT_REG)) /* files are the walker's */
            r = priv_entry(dirfd, path, de->d_name, depth == 0, depth, o);
    closedir(d);
    return r;
}

/* Creates data_dir if missing and gives it, and all in it, to the owner. */
static int priv_fix_data_dir(const char *data_dir, struct priv_owner *o)
{
    struct stat st;
    if (fsio_mkdir_p(data_dir, 0711) < 0)
        goto fail;
    int fd = open(data_dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0)
        goto fail;
    if (fstat(fd, &st) < 0 || priv_fix_fd(fd, &st, PRIV_TOP, o) < 0) {
        close(fd);
        goto fail;
    }
    if (priv_walk(fd, data_dir, 0, o) < 0)
        return -1; /* the entry said which */
    if (o->fixed)
        log_info("data_dir %s: gave %u %s to uid %u (modes 0600/0700)", data_dir, o->fixed,
                 o->files ? "files" : "folders", (unsigned)o->uid);
    return 0;
fail:
    log_err("data_dir %s: %s", data_dir, strerror(errno));
    return -1;
}

/* initgroups, setgid, setuid, then the proof: root cannot be had back. */
static int priv_setuid(const char *user, uid_t uid, gid_t gid)
{
    if (initgroups(user, gid) < 0 || setgid(gid) < 0 || setuid(uid) < 0) {
        log_err("run_as %s: cannot drop privileges: %s", user, strerror(errno));
        return -1;
    }
    if (setuid(0) == 0 || seteuid(0) == 0 || setgid(0) == 0) {
        log_err("run_as %s: root could be regained after the drop (setuid(0) succeeded): "
                "refusing to run", user);
        return -1;
    }
    log_info("running as %s (uid %u, gid %u); setuid(0) fails: root cannot be regained",
             user, (unsigned)uid, (unsigned)gid);
    return 0;
}

/* After the drop: data_dir is the user's, but a folder above it (a home
 * folder 0700, say) may still be closed to it. */
static int priv_reachable(const struct conf *c)
{
    if (access(c->data_dir, R_OK | W_OK | X_OK) == 0)
        return 0;
    log_err("data_dir %s: user %s cannot reach it (%s): a folder above it is closed to "
            "that user; put data_dir where %s can reach it (e.g. /var/lib/postino) or start "
            "the server as an ordinary user", c->data_dir, c->run_as, strerror(errno), c->run_as);
    return -1;
}

/* In the walker: every socket inherited from the server is closed (syslog reconnects). */
static void priv_close_sockets(void)
{
    struct stat st;
    for (int fd = 3; fd < PRIV_FD_SCAN; fd++)
        if (fstat(fd, &st) == 0 && S_ISSOCK(st.st_mode))
            close(fd);
}

/*
 * The files of data_dir are given away by a child that stays root (a million
 * queue files take seconds), so the server drops and takes mail at once; it
 * reads its queue once the child is done (privilege_walker_wait). The child
 * resets the signals the server catches, walks, and exits. -1 if it could not
 * be started (the files are then walked here, before the drop).
 */
static pid_t priv_walker_start(const char *data_dir, struct priv_owner *o)
{
    struct priv_owner files = {.uid = o->uid, .gid = o->gid, .files = 1};
    pid_t parent = getpid();
    pid_t pid = fork();
    if (pid == 0) {
        signal(SIGTERM, SIG_DFL);
        signal(SIGINT, SIG_DFL);
        signal(SIGHUP, SIG_DFL);
        /* it dies with the server; its real uid is run_as's so that the server, once
         * dropped, may still stop it (the effective uid stays 0 for fchown) */
        if (prctl(PR_SET_PDEATHSIG, SIGKILL) < 0 || getppid() != parent ||
            setresuid(o->uid, 0, 0) < 0)
            _exit(1);
        priv_close_sockets(); /* the listeners are the server's alone */
        _exit(priv_fix_data_dir(data_dir, &files) < 0 ? 1 : 0);
    }
    if (pid < 0) {
        log_warn("data_dir %s: cannot start the walker (%s): walking it now", data_dir,
                 strerror(errno));
        priv_fix_data_dir(data_dir, &files);
    }
    return pid;
}

int privilege_drop(const struct conf *c)
{
    if (geteuid() != 0) {
        log_info("not started as root: run_as %s ignored, running as uid %u", c->run_as,
                 (unsigned)geteuid());
        return 0;
    }
    errno = 0;
    struct passwd *pw = getpwnam(c->run_as);
    if (!pw) {
        log_err("run_as %s: no such user%s%s; create it (" PRIV_USERADD " %s) or set run_as "
                "to an existing unprivileged user", c->run_as, errno ? ": " : "",
                errno ? strerror(errno) : "", c->run_as);
        return -1;
    }
    if (pw->pw_uid == 0) {
        log_err("run_as %s: refused, it is uid 0 (root)", c->run_as);
        return -1;
    }
    struct priv_owner o = {.uid = pw->pw_uid, .gid = pw->pw_gid};
    if (priv_fix_data_dir(c->data_dir, &o) < 0)
        return -1;
    priv_walker = priv_walker_start(c->data_dir, &o);
    if (priv_setuid(c->run_as, o.uid, o.gid) < 0)
        return -1;
    return priv_reachable(c);
}

pid_t privilege_walker(void)
{
    return priv_walker;
}

int privilege_walker_wait(pid_t pid)
{
    int st, r;
    while ((r = (int)waitpid(pid, &st, 0)) < 0 && errno == EINTR)
        ;
    priv_walker_reaped = 1;
    return r > 0 && WIFEXITED(st) && WEXITSTATUS(st) == 0 ? 0 : -1;
}

void privilege_walker_stop(void)
{
    if (priv_walker > 0 && !priv_walker_reaped && kill(priv_walker, SIGKILL) == 0)
        waitpid(priv_walker, NULL, 0); /* idempotent work: the next start finishes it;
                                        * reaped here unless the loader's wait has it */
}
