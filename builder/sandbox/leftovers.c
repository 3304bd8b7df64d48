/* See leftovers.h. Every removal here goes through a folder fd and *at() calls with no symlink
 * followed, and only for entries owned by kiln's euid whose names kiln makes. */
#include "leftovers.h"
#include "sandbox.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>

static long read_pid(int fd)
{
        char buf[32] = {0};
        ssize_t n = pread(fd, buf, sizeof(buf) - 1, 0);
        if (n <= 0)
                return 0;
        char *end;
        long pid = strtol(buf, &end, 10);
        return pid > 0 && (*end == '\n' || *end == '\0') ? pid : 0;
}

static void write_pid(int fd)
{
        char buf[32];
        int n = snprintf(buf, sizeof(buf), "%ld\n", (long)getpid());
        if (ftruncate(fd, 0) == 0)
                (void)!pwrite(fd, buf, (size_t)n, 0);
}

int kiln_lock_fd(int fd)
{
        return flock(fd, LOCK_EX | LOCK_NB) < 0 ? -errno : 0;
}

/* Is the file fd has open still linked in dfd as name (not removed or replaced meanwhile)? */
static bool still_named(int dfd, const char *name, int fd)
{
        struct stat a, b;
        return fstat(fd, &a) == 0 && fstatat(dfd, name, &b, AT_SYMLINK_NOFOLLOW) == 0 && a.st_dev == b.st_dev &&
               a.st_ino == b.st_ino;
}

int kiln_lock_fresh(const char *path, int fd, struct kiln_error **reterr)
{
        struct stat a, b;
        if (kiln_lock_fd(fd) < 0 || fstat(fd, &a) < 0 || stat(path, &b) < 0 || a.st_dev != b.st_dev ||
            a.st_ino != b.st_ino)
                return kiln_error_set(reterr, EBUSY,
                                      "'%s' was taken or removed by another kiln as soon as it was "
                                      "made; is another run building the same output?",
                                      path);
        return 0;
}

static bool ours(const struct stat *st)
{
        /* kiln's own, or what kiln gave its sandbox user (the disk, the initrd, the proxy's staging
         * folder and what the proxy left in it: links are removed, never followed). */
        return st->st_uid == geteuid() || (geteuid() == 0 && kiln_sandbox_uid(st->st_uid));
}

int kiln_lock_take(const char *dir, int *ret_fd, long *ret_stale_pid, struct kiln_error **reterr)
{
        _cleanup_close_ int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (dfd < 0)
                return kiln_error_set(reterr, errno, "cannot open '%s': %s", dir, strerror(errno));
        /* A new lock file is made under another name, locked, then linked into place: nobody can
         * find it unlocked. An existing one is reused once locked, if it was not removed meanwhile. */
        for (int attempt = 0; attempt < 8; attempt++) {
                int fd = openat(dfd, KILN_LOCK_NAME, O_RDWR | O_NOFOLLOW | O_NOCTTY | O_CLOEXEC);
                if (fd >= 0) {
                        struct stat st;
                        if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || !ours(&st)) {
                                close(fd);
                                return kiln_error_set(reterr, EPERM, "'%s/%s' is not a lock file of kiln's user", dir,
                                                      KILN_LOCK_NAME);
                        }
                        if (kiln_lock_fd(fd) < 0) {
                                long pid = read_pid(fd);
                                close(fd);
                                return kiln_error_set(reterr, EBUSY, "'%s' is in use by kiln pid %ld", dir, pid);
                        }
                        if (!still_named(dfd, KILN_LOCK_NAME, fd)) {
                                close(fd);
                                continue;
                        }
                        long stale = read_pid(fd);
                        write_pid(fd);
                        *ret_stale_pid = stale ? stale : -1; /* -1: a dead owner, PID unreadable */
                        *ret_fd = fd;
                        return 0;
                }
                if (errno != ENOENT)
                        return kiln_error_set(reterr, errno, "cannot open '%s/%s': %s", dir, KILN_LOCK_NAME,
                                              strerror(errno));
                _cleanup_free_ char *tmp = xasprintf("%s.new-%ld", KILN_LOCK_NAME, (long)getpid());
                unlinkat(dfd, tmp, 0); /* a dead process with our PID had it */
                fd = openat(dfd, tmp, O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_NOCTTY | O_CLOEXEC, 0644);
                if (fd < 0)
                        return kiln_error_set(reterr, errno, "cannot create a lock file in '%s': %s", dir,
                                              strerror(errno));
                if (kiln_lock_fd(fd) < 0) {
                        int e = errno;
                        unlinkat(dfd, tmp, 0);
                        close(fd);
                        return kiln_error_set(reterr, e, "cannot lock a file in '%s': %s", dir, strerror(e));
                }
                write_pid(fd);
                int l = linkat(dfd, tmp, dfd, KILN_LOCK_NAME, 0), e = errno;
                unlinkat(dfd, tmp, 0);
                if (l == 0) {
                        *ret_stale_pid = 0;
                        *ret_fd = fd;
                        return 0;
                }
                close(fd);
                if (e != EEXIST)
                        return kiln_error_set(reterr, e, "cannot create '%s/%s': %s", dir, KILN_LOCK_NAME, strerror(e));
        }
        return kiln_error_set(reterr, EBUSY, "'%s': its lock file keeps changing; is another kiln starting there?",
                              dir);
}

void kiln_lock_release(const char *dir, int fd)
{
        if (fd < 0)
                return;
        _cleanup_close_ int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (dfd >= 0 && still_named(dfd, KILN_LOCK_NAME, fd))
                unlinkat(dfd, KILN_LOCK_NAME, 0);
        close(fd);
}

static const char *tmp_dir(const char *tmpdir)
{
        if (tmpdir)
                return tmpdir;
        const char *e = getenv("TMPDIR");
        return e && *e ? e : "/tmp";
}

/* The subfolders a run folder may hold, each flat: the proxy's staging folder and the sandbox
 * user's scratch folder (the boot test's and the appliance's). */
static bool known_subdir(const char *name)
{
        return STREQ(name, "proxy-stage") || STREQ(name, "tmp");
}

/* Remove every entry of the folder at fd (its lock file aside): plain entries of ours, and, when
 * subdirs, the known subfolders, emptied the same way. false when something is not ours. */
static bool empty_entries(int fd, bool subdirs)
{
        int lfd = dup(fd);
        DIR *d = lfd >= 0 ? fdopendir(lfd) : NULL;
        if (!d) {
                if (lfd >= 0)
                        close(lfd);
                return false;
        }
        bool clean = true;
        for (struct dirent *e; (e = readdir(d));) {
                struct stat st;
                if (STREQ(e->d_name, ".") || STREQ(e->d_name, "..") || STREQ(e->d_name, KILN_LOCK_NAME))
                        continue;
                if (fstatat(fd, e->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0 || !ours(&st)) {
                        clean = false;
                } else if (S_ISDIR(st.st_mode)) {
                        _cleanup_close_ int sfd =
                                subdirs && known_subdir(e->d_name)
                                        ? openat(fd, e->d_name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
                                        : -1;
                        if (sfd < 0 || !empty_entries(sfd, false) || unlinkat(fd, e->d_name, AT_REMOVEDIR) < 0)
                                clean = false;
                } else if (unlinkat(fd, e->d_name, 0) < 0) {
                        clean = false;
                }
        }
        closedir(d);
        return clean;
}

/* Empty and remove dfd/name, a folder of kiln's (flat but for its known subfolders), keeping the
 * lock file for last. false when something in it is not a plain entry of ours. */
static bool remove_flat(int dfd, const char *name, int rfd)
{
        if (!empty_entries(rfd, true))
                return false;
        unlinkat(rfd, KILN_LOCK_NAME, 0);
        return unlinkat(dfd, name, AT_REMOVEDIR) == 0;
}

/* name is prefix followed by exactly six characters (mkstemp's XXXXXX), nothing else. */
static bool temp_name(const char *name, const char *prefix)
{
        return str_has_prefix(name, prefix) && strlen(name) == strlen(prefix) + 6 &&
               !strchr(name + strlen(prefix), '/');
}

const char *kiln_appliance_run_base(void)
{
        const char *dir = tmp_dir(NULL);
        return strlen(dir) <= KILN_APPLIANCE_BASE_MAX ? dir : "/tmp";
}

static void sweep_one(const char *dir, kiln_notice_fn notice, void *userdata);

void kiln_sweep_run_dirs(const char *tmpdir, kiln_notice_fn notice, void *userdata)
{
        sweep_one(tmp_dir(tmpdir), notice, userdata);
        if (!tmpdir && !STREQ(kiln_appliance_run_base(), tmp_dir(NULL)))
                sweep_one(kiln_appliance_run_base(), notice, userdata);
}

static void sweep_one(const char *dir, kiln_notice_fn notice, void *userdata)
{
        int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        DIR *d = dfd >= 0 ? fdopendir(dfd) : NULL;
        if (!d) {
                if (dfd >= 0)
                        close(dfd);
                return;
        }
        struct dirent *e;
        while ((e = readdir(d))) {
                /* install's run folders and boot-test's (mkdtemp: six characters after the prefix) */
                if (!temp_name(e->d_name, "kiln-run-") && !temp_name(e->d_name, "kiln-boot-"))
                        continue;
                struct stat st;
                if (fstatat(dfd, e->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0 || !S_ISDIR(st.st_mode) || !ours(&st))
                        continue;
                _cleanup_close_ int rfd = openat(dfd, e->d_name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
                if (rfd < 0)
                        continue;
                /* No lock file: being made right now (mkdtemp comes first), or not provably kiln's. */
                _cleanup_close_ int lfd = openat(rfd, KILN_LOCK_NAME, O_RDWR | O_NOFOLLOW | O_NOCTTY | O_CLOEXEC);
                struct stat lst;
                if (lfd < 0 || fstat(lfd, &lst) < 0 || !S_ISREG(lst.st_mode) || !ours(&lst) || kiln_lock_fd(lfd) < 0 ||
                    !still_named(rfd, KILN_LOCK_NAME, lfd))
                        continue;
                long pid = read_pid(lfd);
                if (remove_flat(dfd, e->d_name, rfd))
                        kiln_notify(notice, userdata,
                                    "removed a run folder left by kiln pid %ld, which is gone ('%s/%s')", pid, dir,
                                    e->d_name);
                else
                        kiln_notify(notice, userdata,
                                    "'%s/%s' was left by kiln pid %ld, which is gone, but holds "
                                    "something kiln did not put there: left as it is",
                                    dir, e->d_name, pid);
        }
        closedir(d);
}

void kiln_sweep_partials(const char *output, kiln_notice_fn notice, void *userdata)
{
        _cleanup_free_ char *dir = xstrdup(output);
        char *slash = strrchr(dir, '/');
        const char *base = slash ? slash + 1 : output;
        if (slash)
                *slash = '\0';
        _cleanup_free_ char *prefix = xasprintf("%s.kiln-partial-", base);
        int dfd = open(slash ? (*dir ? dir : "/") : ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        DIR *d = dfd >= 0 ? fdopendir(dfd) : NULL;
        if (!d) {
                if (dfd >= 0)
                        close(dfd);
                return;
        }
        struct dirent *e;
        while ((e = readdir(d))) {
                if (!temp_name(e->d_name, prefix))
                        continue;
                struct stat st;
                if (fstatat(dfd, e->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0 || !S_ISREG(st.st_mode) || !ours(&st))
                        continue;
                _cleanup_close_ int fd =
                        openat(dfd, e->d_name, O_RDONLY | O_NOFOLLOW | O_NOCTTY | O_NONBLOCK | O_CLOEXEC);
                if (fd < 0 || kiln_lock_fd(fd) < 0 || !still_named(dfd, e->d_name, fd))
                        continue;
                if (unlinkat(dfd, e->d_name, 0) == 0)
                        kiln_notify(notice, userdata,
                                    "removed a partial disk left by a kiln run that is gone ('%s/%s')",
                                    slash ? dir : ".", e->d_name);
        }
        closedir(d);
}

int kiln_build_dir_claim(const char *bdir, kiln_notice_fn notice, void *userdata, int *ret_fd,
                         struct kiln_error **reterr)
{
        long stale = 0;
        int fd = -1;
        int r = kiln_lock_take(bdir, &fd, &stale, reterr);
        if (r < 0)
                return r;
        *ret_fd = fd;
        if (stale == 0)
                return 0;
        _cleanup_close_ int dfd = open(bdir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        int dup_fd = dfd >= 0 ? dup(dfd) : -1;
        DIR *d = dup_fd >= 0 ? fdopendir(dup_fd) : NULL;
        if (!d) {
                if (dup_fd >= 0)
                        close(dup_fd);
                return 0;
        }
        _cleanup_free_ char *pid = stale > 0 ? xasprintf("kiln pid %ld", stale) : xstrdup("a kiln");
        struct dirent *e;
        while ((e = readdir(d))) {
                bool work = STREQ(e->d_name, "work.qcow2") || STREQ(e->d_name, "work.raw");
                const char *t = strstr(e->d_name, ".kiln-tmp-");
                bool tmp = t && strlen(t) == strlen(".kiln-tmp-XXXXXX");
                struct stat st;
                if ((!work && !tmp) || fstatat(dfd, e->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0 || !S_ISREG(st.st_mode) ||
                    !ours(&st) || unlinkat(dfd, e->d_name, 0) < 0)
                        continue;
                kiln_notify(notice, userdata, "removed %s left by %s, which is gone ('%s/%s')",
                            work ? "a work disk" : "a temporary file", pid, bdir, e->d_name);
        }
        closedir(d);
        return 0;
}
