/* See appliance.h. */
#include "appliance.h"

#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <sys/stat.h>
#include <unistd.h>

#include "image-format.h"
#include "leftovers.h"
#include "sandbox.h"
#include "util.h"

#include <inttypes.h>

int kiln_appliance_error(guestfs_h *g, struct kiln_error **reterr, const char *what)
{
        const char *e = guestfs_last_error(g);
        _cleanup_free_ char *msg = xstrdup(e ? e : "failed");
        /* guestfs_command's errors carry the command's whole output; keep the last lines. */
        size_t len = strlen(msg);
        if (len > 2000)
                memmove(msg, msg + len - 2000, 2001);
        return kiln_error_set(reterr, EIO, "%s: %s", what, msg);
}

/* What the appliance's QEMU needs from kiln when kiln is root: the sandbox user (for the wrapper
 * libguestfs starts), a run folder with the wrapper's link and a scratch folder of the sandbox
 * user's, and the image open. All of it only until the appliance is up. */
struct appliance_run {
        struct kiln_sandbox sb;
        char *dir;
        int lock;
};

static void appliance_run_end(struct appliance_run *ar)
{
        unsetenv("KILN_APPLIANCE_SANDBOX");
        unsetenv("KILN_APPLIANCE_IMAGE");
        unsetenv("KILN_APPLIANCE_TMPDIR");
        if (ar->dir) {
                _cleanup_free_ char *tmp = xasprintf("%s/tmp", ar->dir);
                _cleanup_free_ char *link = xasprintf("%s/%s", ar->dir, KILN_APPLIANCE_QEMU_NAME);
                rm_rf_flat(tmp);
                unlink(link);
                kiln_lock_release(ar->dir, ar->lock);
                rmdir(ar->dir);
                free(ar->dir);
        }
        kiln_sandbox_clear(&ar->sb);
        *ar = (struct appliance_run){.lock = -1};
}

/* *ret_drive: the image's name for libguestfs (its real path: libguestfs resolves links, and the
 * wrapper compares), or NULL when kiln is not root (then the appliance runs as kiln does). */
static int appliance_run_begin(guestfs_h *g, const char *image, struct appliance_run *ar, char **ret_drive,
                               struct kiln_error **reterr)
{
        *ar = (struct appliance_run){.lock = -1};
        *ret_drive = NULL;
        if (geteuid() != 0)
                return 0;
        int r = kiln_sandbox_init(&ar->sb, reterr);
        if (r < 0)
                return r;
        ar->dir = xasprintf("%s/kiln-run-XXXXXX", kiln_appliance_run_base());
        if (!mkdtemp(ar->dir)) {
                r = kiln_error_set(reterr, errno, "cannot create a temporary folder: %s", strerror(errno));
                free(ar->dir);
                ar->dir = NULL;
                return r;
        }
        long stale = 0;
        r = kiln_lock_take(ar->dir, &ar->lock, &stale, reterr);
        if (r < 0)
                return r;
        /* The link names this process's own binary through /proc, not by its path: a kiln upgraded
         * (or rebuilt) while a build runs left "/usr/bin/kiln (deleted)" as the path, and the build
         * failed at its first appliance, an hour into it. The running binary stays reachable as
         * /proc/PID/exe for as long as kiln waits for libguestfs. */
        _cleanup_free_ char *exe = xasprintf("/proc/%ld/exe", (long)getpid());
        if (access(exe, X_OK) < 0)
                return kiln_error_set(reterr, errno, "cannot find kiln's own binary: %s", strerror(errno));
        _cleanup_free_ char *link = xasprintf("%s/%s", ar->dir, KILN_APPLIANCE_QEMU_NAME);
        _cleanup_free_ char *tmp = xasprintf("%s/tmp", ar->dir);
        if (symlink(exe, link) < 0 || mkdir(tmp, 0700) < 0)
                return kiln_error_set(reterr, errno, "cannot prepare '%s': %s", ar->dir, strerror(errno));
        r = kiln_sandbox_give(&ar->sb, tmp, reterr);
        if (r < 0)
                return r;
        /* libguestfs closes every descriptor before it starts its QEMU: the wrapper opens the image
         * itself, as root, and checks it is the file kiln checked (device and inode). */
        char real[PATH_MAX];
        struct stat st;
        _cleanup_close_ int fd = open(image, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
        if (fd < 0 || fstat(fd, &st) < 0 || !realpath(image, real))
                return kiln_error_set(reterr, errno, "cannot open '%s': %s", image, strerror(errno));
        /* QEMU's option syntax would need the comma doubled, and the wrapper refuses that. */
        if (strchr(real, ','))
                return kiln_error_set(reterr, EINVAL,
                                      "'%s' has a comma in its real path ('%s'): QEMU cannot be given it", image, real);
        _cleanup_free_ char *ids = ar->sb.n_groups ? xasprintf("%u:%u:%u", (unsigned)ar->sb.uid, (unsigned)ar->sb.gid,
                                                               (unsigned)ar->sb.groups[0])
                                                   : xasprintf("%u:%u", (unsigned)ar->sb.uid, (unsigned)ar->sb.gid);
        _cleanup_free_ char *im =
                xasprintf("%llu:%llu:%s", (unsigned long long)st.st_dev, (unsigned long long)st.st_ino, real);
        if (setenv("KILN_APPLIANCE_SANDBOX", ids, 1) < 0 || setenv("KILN_APPLIANCE_IMAGE", im, 1) < 0 ||
            setenv("KILN_APPLIANCE_TMPDIR", tmp, 1) < 0)
                return kiln_error_set(reterr, errno, "cannot set the appliance's environment");
        if (guestfs_set_hv(g, link) < 0)
                return kiln_appliance_error(g, reterr, "libguestfs: set the appliance's QEMU");
        *ret_drive = xstrdup(real);
        return 0;
}

int kiln_appliance_open(const char *image, const char *format, bool readonly, bool force_tcg, guestfs_h **ret_g,
                        char **ret_root, struct kiln_error **reterr)
{
        /* Here as well as in the CLI: every image libguestfs opens is checked, whoever names it. */
        int r = kiln_image_check(image, format, reterr);
        if (r < 0)
                return r;
        guestfs_h *g = guestfs_create();
        if (!g)
                return kiln_error_set(reterr, ENOMEM, "cannot create a libguestfs handle");
        guestfs_set_error_handler(g, NULL, NULL);
        if (force_tcg) {
                char *settings[] = {"force_tcg", NULL};
                guestfs_set_backend_settings(g, settings);
        }
        /* The appliance's QEMU opens the untrusted image: it gets QEMU's own seccomp sandbox, and
         * like the install's, nothing may spawn or raise privileges. As root, it also runs as the
         * sandbox user (appliance-qemu.c). */
        if (guestfs_config(g, "-sandbox", "on,obsolete=deny,elevateprivileges=deny,spawn=deny,resourcecontrol=deny") <
            0) {
                r = kiln_appliance_error(g, reterr, "libguestfs: sandbox the appliance");
                guestfs_close(g);
                return r;
        }
        struct appliance_run ar;
        _cleanup_free_ char *drive = NULL;
        r = appliance_run_begin(g, image, &ar, &drive, reterr);
        if (r < 0) {
                appliance_run_end(&ar);
                guestfs_close(g);
                return r;
        }
        char **roots = NULL;
        if (guestfs_add_drive_opts(g, drive ? drive : image, GUESTFS_ADD_DRIVE_OPTS_READONLY, readonly ? 1 : 0,
                                   GUESTFS_ADD_DRIVE_OPTS_FORMAT, format, -1) < 0)
                r = kiln_appliance_error(g, reterr, "libguestfs: add the image");
        else if (guestfs_launch(g) < 0)
                r = kiln_appliance_error(g, reterr, "libguestfs: launch the appliance");
        /* The appliance's QEMU holds what it needs now: the run folder and kiln's copies go. */
        appliance_run_end(&ar);
        if (r < 0)
                ;
        else if (!(roots = guestfs_inspect_os(g)) || !roots[0])
                r = kiln_error_set(reterr, ENOENT, "no operating system found in '%s'", image);
        else
                r = 0;
        if (r < 0 || !roots || !roots[0]) {
                strv_free(roots);
                guestfs_close(g);
                return r < 0 ? r : -ENOENT;
        }
        *ret_root = xstrdup(roots[0]);
        strv_free(roots);
        *ret_g = g;
        return 0;
}

int kiln_appliance_new(const char *image, const char *format, bool readonly, bool force_tcg,
                       struct kiln_appliance **ret, struct kiln_error **reterr)
{
        guestfs_h *g = NULL;
        char *root = NULL;
        int r = kiln_appliance_open(image, format, readonly, force_tcg, &g, &root, reterr);
        if (r < 0)
                return r;
        *ret = xcalloc(1, sizeof(**ret));
        (*ret)->g = g;
        (*ret)->root = root;
        return 0;
}

int kiln_appliance_free(struct kiln_appliance *a, bool shutdown, struct kiln_error **reterr)
{
        int r = 0;
        if (!a)
                return 0;
        if (shutdown && (guestfs_umount_all(a->g) < 0 || guestfs_shutdown(a->g) < 0))
                r = kiln_appliance_error(a->g, reterr, "libguestfs: write the image back and shut the appliance down");
        guestfs_close(a->g);
        free(a->root);
        free(a);
        return r;
}

static int cmp_len(const void *a, const void *b)
{
        size_t x = strlen(*(char *const *)a), y = strlen(*(char *const *)b);
        return x < y ? -1 : x > y;
}

int kiln_appliance_mount_all(guestfs_h *g, const char *root, bool readonly, struct kiln_error **reterr)
{
        char **mps = guestfs_inspect_get_mountpoints(g, root); /* pairs: mountpoint, device */
        if (!mps)
                return kiln_appliance_error(g, reterr, "libguestfs: read the image's mount points");
        size_t n = strv_length(mps) / 2;
        char **order = xcalloc(n + 1, sizeof(char *));
        for (size_t i = 0; i < n; i++)
                order[i] = mps[2 * i];
        qsort(order, n, sizeof(char *), cmp_len);
        int r = 0;
        for (size_t i = 0; i < n && r == 0; i++)
                for (size_t k = 0; k < n; k++) {
                        if (mps[2 * k] != order[i])
                                continue;
                        int m = readonly ? guestfs_mount_ro(g, mps[2 * k + 1], mps[2 * k])
                                         : guestfs_mount(g, mps[2 * k + 1], mps[2 * k]);
                        if (m < 0 && STREQ(mps[2 * k], "/"))
                                r = kiln_appliance_error(g, reterr, "libguestfs: mount the root filesystem");
                }
        free(order);
        strv_free(mps);
        return r;
}

/* A tar member's name as a path below dest, or NULL when it is not a plain relative path. */
static char *member_path(const char *dest, const char *name)
{
        while (str_has_prefix(name, "./"))
                name += 2;
        if (!*name || STREQ(name, ".") || *name == '/')
                return NULL;
        for (const char *c = name; *c; c++)
                if ((unsigned char)*c < 0x20 || *c == 0x7f)
                        return NULL;
        _cleanup_free_ char *copy = xstrdup(name);
        for (char *save = NULL, *part = strtok_r(copy, "/", &save); part; part = strtok_r(NULL, "/", &save))
                if (STREQ(part, ".."))
                        return NULL;
        return xasprintf("%s/%s", dest, name);
}

/* A tar exclude pattern (tar -X, wildcards on) naming exactly the member ".NAME" (NAME as
 * guestfs_find gives it: "/sub/file"). */
static char *exclude_pattern(const char *name)
{
        struct kiln_buf b = {0};
        buf_puts(&b, ".");
        for (const char *c = name; *c; c++) {
                /* tar strips a line's trailing white space: any white space matches as '?'
                 * (leaving out more is safe, fewer is not). */
                if (strchr(" \t\r\v\f", *c)) {
                        buf_append(&b, "?", 1);
                        continue;
                }
                if (strchr("*?[]\\", *c))
                        buf_append(&b, "\\", 1);
                buf_append(&b, c, 1);
        }
        return b.data;
}

/* What tar would carry, by each file's own size (du counts blocks: a sparse file of a terabyte
 * holds none, and tar writes every byte of it). Regular files past the budget, alone or in all,
 * go on the exclude list, so they never leave the appliance; *ret_skipped counts them. */
static int copy_out_budget(guestfs_h *g, const char *src, const struct kiln_copy_out_limits *lim, char ***ret_excludes,
                           size_t *ret_skipped, size_t *ret_entries, struct kiln_error **reterr)
{
        char **names = guestfs_find(g, src);
        if (!names)
                return kiln_appliance_error(g, reterr, "libguestfs: list the image's installer logs");
        size_t n = strv_length(names);
        char **excludes = xcalloc(1, sizeof(char *));
        size_t skipped = 0;
        uint64_t bytes = 0;
        int r = 0;
        if (n > 2 * lim->max_files)
                r = kiln_error_set(reterr, EFBIG, "the image's '%s' holds %zu entries, more than kiln copies out (%zu)",
                                   src, n, lim->max_files);
        for (size_t i = 0; r == 0 && i < n; i++) {
                _cleanup_free_ char *path = xasprintf("%s%s", src, names[i]); /* names start with '/' */
                struct guestfs_statns *st = guestfs_lstatns(g, path);
                if (!st) {
                        r = kiln_appliance_error(g, reterr, "libguestfs: measure the image's installer logs");
                        break;
                }
                bool reg = S_ISREG((mode_t)st->st_mode) && st->st_size >= 0;
                uint64_t size = reg ? (uint64_t)st->st_size : 0;
                guestfs_free_statns(st);
                if (!reg)
                        continue;
                if (size <= lim->max_bytes && bytes + size <= lim->max_bytes) {
                        bytes += size;
                        continue;
                }
                /* tar's exclude file is one pattern a line: a name with a newline cannot be left
                 * out, so nothing is copied. */
                if (strchr(names[i], '\n'))
                        r = kiln_error_set(reterr, EFBIG,
                                           "the image's '%s' holds a file past kiln's copy-out budget whose name "
                                           "has a newline",
                                           src);
                else {
                        excludes = strv_push(excludes, exclude_pattern(names[i]));
                        skipped++;
                }
        }
        for (size_t i = 0; i < n; i++)
                free(names[i]);
        free(names);
        if (r < 0) {
                strv_free(excludes);
                return r;
        }
        *ret_excludes = excludes;
        *ret_skipped = skipped;
        *ret_entries = n;
        return 0;
}

/* The tar from the appliance, into the temporary file through a pipe, counted: past cap (what
 * the budget lets through, with tar's headers) the transfer is cancelled. The budget holds for an
 * honest appliance; this holds for one the image took over. */
struct copy_pump {
        guestfs_h *g;
        int in, out;
        uint64_t cap, got;
        bool over;
        int err;
};

static void *pump_main(void *arg)
{
        struct copy_pump *p = arg;
        char buf[65536];
        for (;;) {
                ssize_t n = read(p->in, buf, sizeof(buf));
                if (n < 0 && errno == EINTR)
                        continue;
                if (n <= 0) {
                        if (n < 0)
                                p->err = errno;
                        break;
                }
                if (p->over)
                        continue; /* drained until libguestfs closes its end */
                if (p->got + (uint64_t)n > p->cap) {
                        p->over = true;
                        guestfs_user_cancel(p->g); /* documented as safe from another thread */
                        continue;
                }
                for (ssize_t off = 0; off < n && !p->err;) {
                        ssize_t w = write(p->out, buf + off, (size_t)(n - off));
                        if (w < 0 && errno != EINTR)
                                p->err = errno;
                        off += w > 0 ? w : 0;
                }
                p->got += (uint64_t)n;
        }
        return NULL;
}

int kiln_appliance_copy_out(guestfs_h *g, const char *src, const char *dest, const struct kiln_copy_out_limits *lim,
                            size_t *ret_skipped, struct kiln_error **reterr)
{
        /* Budget first, by the files' sizes: what would not fit never leaves the appliance. The
         * image is open read-only: nothing changes it in between. */
        char **excludes = NULL;
        size_t left_out = 0, entries = 0;
        int br = copy_out_budget(g, src, lim, &excludes, &left_out, &entries, reterr);
        if (br < 0 || !excludes)
                return br < 0 ? br : kiln_error_set(reterr, EINVAL, "no copy-out budget");
        const char *tmpdir = getenv("TMPDIR");
        _cleanup_free_ char *tar = xasprintf("%s/kiln-copy-out-XXXXXX", tmpdir && *tmpdir ? tmpdir : "/tmp");
        int tfd = mkostemp(tar, O_CLOEXEC);
        if (tfd < 0)
                return kiln_error_set(reterr, errno, "cannot create a temporary file: %s", strerror(errno));
        int r = 0, pfd[2];
        if (pipe2(pfd, O_CLOEXEC) < 0) {
                strv_free(excludes);
                r = kiln_error_set(reterr, errno, "cannot make a pipe: %s", strerror(errno));
                goto out;
        }
        /* Per entry at most a header, a long-name header and the padding; then tar's end blocks. */
        struct copy_pump pump = {.g = g, .in = pfd[0], .out = tfd, .cap = lim->max_bytes + entries * 2048 + (1 << 20)};
        pthread_t th;
        if (pthread_create(&th, NULL, pump_main, &pump) != 0) {
                close(pfd[0]);
                close(pfd[1]);
                strv_free(excludes);
                r = kiln_error_set(reterr, EAGAIN, "cannot start a thread");
                goto out;
        }
        char tar_fd[32];
        snprintf(tar_fd, sizeof(tar_fd), "/dev/fd/%d", pfd[1]);
        int t = excludes[0] ? guestfs_tar_out_opts(g, src, tar_fd, GUESTFS_TAR_OUT_OPTS_NUMERICOWNER, 1,
                                                   GUESTFS_TAR_OUT_OPTS_EXCLUDES, excludes, -1)
                            : guestfs_tar_out_opts(g, src, tar_fd, GUESTFS_TAR_OUT_OPTS_NUMERICOWNER, 1, -1);
        strv_free(excludes);
        close(pfd[1]);
        pthread_join(th, NULL);
        close(pfd[0]);
        if (pump.over) {
                r = kiln_error_set(reterr, EFBIG,
                                   "the appliance sent more of '%s' than the image's files hold (over %" PRIu64
                                   " bytes): stopped",
                                   src, pump.cap);
                goto out;
        }
        if (t < 0 || pump.err) {
                r = t < 0 ? kiln_appliance_error(g, reterr, "libguestfs: stream the image's installer logs out")
                          : kiln_error_set(reterr, pump.err, "cannot write the installer logs' tar: %s",
                                           strerror(pump.err));
                goto out;
        }
        if (mkdir(dest, 0755) < 0) {
                r = kiln_error_set(reterr, errno, "cannot create '%s': %s", dest, strerror(errno));
                goto out;
        }
        struct archive *a = archive_read_new(), *w = archive_write_disk_new();
        archive_read_support_format_tar(a);
        /* No owners, no modes, ACLs, xattrs or flags from the image; never through a link. */
        archive_write_disk_set_options(w, ARCHIVE_EXTRACT_SECURE_SYMLINKS | ARCHIVE_EXTRACT_SECURE_NODOTDOT |
                                                  ARCHIVE_EXTRACT_NO_OVERWRITE | ARCHIVE_EXTRACT_TIME);
        size_t skipped = left_out, files = 0;
        uint64_t bytes = 0;
        struct archive_entry *e;
        if (lseek(tfd, 0, SEEK_SET) < 0 || archive_read_open_fd(a, tfd, 1 << 16) != ARCHIVE_OK) {
                r = kiln_error_set(reterr, EIO, "cannot read the installer logs' tar: %s", archive_error_string(a));
                goto done;
        }
        for (;;) {
                int h = archive_read_next_header(a, &e);
                if (h == ARCHIVE_EOF)
                        break;
                if (h < ARCHIVE_WARN) {
                        r = kiln_error_set(reterr, EIO, "cannot read the installer logs' tar: %s",
                                           archive_error_string(a));
                        goto done;
                }
                mode_t type = archive_entry_filetype(e);
                int64_t size = archive_entry_size(e);
                _cleanup_free_ char *path = member_path(dest, archive_entry_pathname(e));
                bool keep = path && !archive_entry_hardlink(e) && !archive_entry_symlink(e) &&
                            (type == AE_IFDIR || (type == AE_IFREG && size >= 0)) && files < lim->max_files &&
                            (type == AE_IFDIR || bytes + (uint64_t)size <= lim->max_bytes);
                if (!path || STREQ(path, dest))
                        keep = false;
                if (!keep) {
                        if (path && !STREQ(path, dest))
                                skipped++;
                        continue;
                }
                files++;
                if (type == AE_IFREG)
                        bytes += (uint64_t)size;
                struct archive_entry *out = archive_entry_new();
                archive_entry_set_pathname(out, path);
                archive_entry_set_filetype(out, type);
                archive_entry_set_perm(out, type == AE_IFDIR ? 0755 : 0644);
                archive_entry_set_mtime(out, archive_entry_mtime(e), 0);
                if (type == AE_IFREG)
                        archive_entry_set_size(out, size);
                int wh = archive_write_header(w, out);
                archive_entry_free(out);
                if (wh < ARCHIVE_WARN) {
                        r = kiln_error_set(reterr, EIO, "cannot write '%s': %s", path, archive_error_string(w));
                        goto done;
                }
                if (type != AE_IFREG)
                        continue;
                const void *buf;
                size_t len;
                la_int64_t off;
                int dh;
                while ((dh = archive_read_data_block(a, &buf, &len, &off)) == ARCHIVE_OK)
                        if (archive_write_data_block(w, buf, len, off) < ARCHIVE_WARN) {
                                dh = ARCHIVE_FATAL;
                                break;
                        }
                if (dh != ARCHIVE_EOF) {
                        r = kiln_error_set(reterr, EIO, "cannot copy '%s': %s", path, archive_error_string(a));
                        goto done;
                }
                archive_write_finish_entry(w);
        }
        *ret_skipped = skipped;
done:
        archive_read_free(a);
        archive_write_free(w);
out:
        close(tfd);
        unlink(tar);
        return r;
}
