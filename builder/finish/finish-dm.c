/* --finalize=dm: the seeds' way to put GRUB on an image from the host. The image is attached to a
 * loop device, a device-mapper linear target gives it a disk-like name (hda) that grub-install
 * accepts, kpartx maps its partitions, the root filesystem is mounted (nosuid, nodev, noexec), and
 * the HOST's grub-install writes the boot sector and /boot/grub with a device.map naming the
 * mapping. Nothing from the image runs. Every step is undone in reverse order, on success, on
 * failure and on Ctrl-C.
 *
 * The image's filesystem is mounted on the host's kernel, which is why this is a command-line
 * choice and never a profile key. Paths inside it are untrusted: kiln writes there only through
 * openat2(RESOLVE_IN_ROOT | RESOLVE_NO_SYMLINKS), and refuses a /boot or /boot/grub that is a
 * symbolic link before mounting on it or handing it to grub-install. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/dm-ioctl.h>
#include <linux/openat2.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>

#include "command.h"
#include "finish.h"

int kiln_dm_probe(struct kiln_error **reterr)
{
        int fd = open("/dev/mapper/control", O_RDWR | O_CLOEXEC);
        if (fd < 0)
                return kiln_error_set(
                        reterr, errno,
                        errno == EACCES || errno == EPERM
                                ? "--finalize=dm needs root (cannot open /dev/mapper/control: %s)"
                                : "--finalize=dm needs device-mapper: cannot open /dev/mapper/control: %s",
                        strerror(errno));
        struct dm_ioctl io = {.version = {DM_VERSION_MAJOR, 0, 0}, .data_size = sizeof(io)};
        int r = ioctl(fd, DM_VERSION, &io);
        int e = errno;
        close(fd);
        if (r < 0)
                return kiln_error_set(reterr, e,
                                      e == ENODEV || e == ENOTTY
                                              ? "--finalize=dm needs device-mapper, and this kernel has none "
                                                "(DM_VERSION on /dev/mapper/control: %s); use the default backend"
                                              : "--finalize=dm: DM_VERSION on /dev/mapper/control failed: %s",
                                      strerror(e));
        return 0;
}

static char **argv_of(const char *first, ...) __attribute__((sentinel));
static char **argv_of(const char *first, ...)
{
        va_list ap;
        va_start(ap, first);
        char **v = strv_push(NULL, xstrdup(first));
        for (const char *s; (s = va_arg(ap, const char *));)
                v = strv_push(v, xstrdup(s));
        va_end(ap);
        return v;
}

static void add_step(struct kiln_dm_plan *plan, char *what, char **argv, char **undo)
{
        plan->steps = xrealloc(plan->steps, (plan->n + 1) * sizeof(*plan->steps));
        plan->steps[plan->n++] = (struct kiln_dm_step){.argv = argv, .undo = undo, .what = what};
}

void kiln_dm_plan_build(const struct kiln_dm_layout *l, struct kiln_dm_plan *ret)
{
        struct kiln_dm_plan plan = {0};
        _cleanup_free_ char *table = xasprintf("0 %llu linear %s 0", (unsigned long long)l->sectors, l->loop);
        _cleanup_free_ char *dev = xasprintf("/dev/mapper/%s", l->name);
        _cleanup_free_ char *root = xasprintf("/dev/mapper/%s%u", l->name, l->root_part);
        _cleanup_free_ char *bootdir = xasprintf("%s/boot", l->mountdir);
        add_step(&plan, xasprintf("map the image as %s", dev),
                 argv_of("dmsetup", "create", l->name, "--table", table, (char *)NULL),
                 argv_of("dmsetup", "remove", "--retry", l->name, (char *)NULL));
        add_step(&plan, xasprintf("map %s's partitions", dev), argv_of("kpartx", "-a", "-s", dev, (char *)NULL),
                 argv_of("kpartx", "-d", "-s", dev, (char *)NULL));
        add_step(&plan, xasprintf("mount %s", root),
                 argv_of("mount", "-o", "nosuid,nodev,noexec", root, l->mountdir, (char *)NULL),
                 argv_of("umount", l->mountdir, (char *)NULL));
        if (l->boot_part) {
                _cleanup_free_ char *boot = xasprintf("/dev/mapper/%s%u", l->name, l->boot_part);
                add_step(&plan, xasprintf("mount %s on /boot", boot),
                         argv_of("mount", "-o", "nosuid,nodev,noexec", boot, bootdir, (char *)NULL),
                         argv_of("umount", bootdir, (char *)NULL));
        }
        _cleanup_free_ char *bootopt = xasprintf("--boot-directory=%s", bootdir);
        add_step(&plan, xasprintf("install GRUB on %s with the host's grub-install", dev),
                 argv_of("grub-install", "--target=i386-pc", bootopt, dev, (char *)NULL), NULL);
        *ret = plan;
}

void kiln_dm_plan_free(struct kiln_dm_plan *plan)
{
        for (size_t i = 0; i < plan->n; i++) {
                strv_free(plan->steps[i].argv);
                strv_free(plan->steps[i].undo);
                free(plan->steps[i].what);
        }
        free(plan->steps);
        *plan = (struct kiln_dm_plan){0};
}

int kiln_dm_unwind(const struct kiln_dm_plan *plan, size_t done, kiln_dm_run_fn run, void *userdata,
                   struct kiln_error **reterr)
{
        int r = 0;
        for (size_t i = done; i-- > 0;) {
                if (!plan->steps[i].undo)
                        continue;
                struct kiln_error *e = NULL;
                if (run(userdata, plan->steps[i].undo, &e) < 0 && r == 0) {
                        _cleanup_free_ char *msg = kiln_error_format(e);
                        r = kiln_error_set(reterr, EIO, "could not undo '%s': %s", plan->steps[i].what, msg);
                }
                kiln_error_free(e);
        }
        return r;
}

int kiln_dm_execute(const struct kiln_dm_plan *plan, kiln_dm_run_fn run,
                    int (*before_step)(void *, size_t, struct kiln_error **), void *userdata,
                    volatile sig_atomic_t *interrupted, size_t *ret_done, struct kiln_error **reterr)
{
        size_t done = 0;
        int r = 0;
        for (; done < plan->n; done++) {
                if (interrupted && *interrupted) {
                        r = kiln_error_set(reterr, EINTR, "interrupted");
                        break;
                }
                if (before_step && (r = before_step(userdata, done, reterr)) < 0)
                        break;
                struct kiln_error *e = NULL;
                if ((r = run(userdata, plan->steps[done].argv, &e)) < 0) {
                        _cleanup_free_ char *msg = kiln_error_format(e);
                        kiln_error_free(e);
                        r = kiln_error_set(reterr, EIO, "cannot %s: %s", plan->steps[done].what, msg);
                        break;
                }
        }
        if (r < 0) {
                kiln_dm_unwind(plan, done, run, userdata, reterr);
                done = 0;
        }
        *ret_done = done;
        return r;
}

/* The real runner: the command, its stderr in the error. */
static int run_real(void *userdata, char *const *argv, struct kiln_error **reterr)
{
        (void)userdata;
        _cleanup_free_ char *errs = NULL;
        struct kiln_command_opts o = {.stdin_fd = -1, .stdout_fd = -1, .stderr_fd = -2, .timeout_sec = 600};
        int r = kiln_command_run(argv, &o, NULL, &errs, reterr);
        if (r > 0) {
                if (errs)
                        errs[strcspn(errs, "\n")] = '\0';
                return kiln_error_set(reterr, EIO, "%s exited with %d: %s", argv[0], r,
                                      errs && *errs ? errs : "(no message)");
        }
        return r;
}

static int openat2_in(int dirfd, const char *path, int flags, mode_t mode)
{
        struct open_how how = {.flags = (uint64_t)(flags | O_CLOEXEC),
                               .mode = mode,
                               .resolve = RESOLVE_IN_ROOT | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS};
        return (int)syscall(SYS_openat2, dirfd, path, &how, sizeof(how));
}

struct dm_ctx {
        const struct kiln_profile *p;
        const struct kiln_dm_layout *l;
        const struct kiln_dm_plan *plan;
};

static char *fs_uuid(const char *dev, struct kiln_error **reterr)
{
        char *argv[] = {"blkid", "-o", "value", "-s", "UUID", (char *)dev, NULL};
        char *out = NULL;
        struct kiln_command_opts o = {.stdin_fd = -1, .stdout_fd = -2, .stderr_fd = -1, .timeout_sec = 60};
        int r = kiln_command_run(argv, &o, &out, NULL, reterr);
        if (r != 0 || !out || !*out) {
                free(out);
                if (r >= 0)
                        kiln_error_set(reterr, EIO, "blkid found no filesystem UUID on %s", dev);
                return NULL;
        }
        out[strcspn(out, "\n")] = '\0';
        return out;
}

static int write_in(int rootfd, const char *path, const char *text, struct kiln_error **reterr)
{
        _cleanup_close_ int fd = openat2_in(rootfd, path, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW, 0644);
        if (fd < 0)
                return kiln_error_set(reterr, errno, "cannot write /%s in the image: %s", path, strerror(errno));
        size_t len = strlen(text);
        if (write(fd, text, len) != (ssize_t)len || fsync(fd) < 0)
                return kiln_error_set(reterr, errno, "cannot write /%s in the image: %s", path, strerror(errno));
        return 0;
}

/* grub-install, as root, writes into /boot/grub: a symbolic link anywhere below it (planted by a
 * package inside the guest) would send those writes into the host. Refuse any. */
static int no_symlinks_below(int dirfd, const char *shown, unsigned depth, struct kiln_error **reterr)
{
        if (depth > 16)
                return kiln_error_set(reterr, ELOOP, "the image's %s is nested too deeply", shown);
        int fd = dup(dirfd);
        DIR *d = fd >= 0 ? fdopendir(fd) : NULL;
        if (!d)
                return kiln_error_set(reterr, errno, "cannot read the image's %s: %s", shown, strerror(errno));
        int r = 0;
        struct dirent *de;
        while (r == 0 && (de = readdir(d))) {
                if (STREQ(de->d_name, ".") || STREQ(de->d_name, ".."))
                        continue;
                struct stat st;
                if (fstatat(dirfd, de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0) {
                        r = kiln_error_set(reterr, errno, "cannot stat the image's %s/%s", shown, de->d_name);
                } else if (S_ISLNK(st.st_mode)) {
                        r = kiln_error_set(reterr, EPERM,
                                           "the image's %s/%s is a symbolic link; the host's grub-install "
                                           "would follow it, so kiln refuses (use the default --finalize)",
                                           shown, de->d_name);
                } else if (S_ISDIR(st.st_mode)) {
                        _cleanup_close_ int sub =
                                openat(dirfd, de->d_name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
                        _cleanup_free_ char *name = xasprintf("%s/%s", shown, de->d_name);
                        r = sub < 0 ? kiln_error_set(reterr, errno, "cannot open the image's %s", name)
                                    : no_symlinks_below(sub, name, depth + 1, reterr);
                }
        }
        closedir(d);
        return r;
}

int kiln_dm_check_tree(const char *mountdir, bool grub, int *ret_rootfd, int *ret_bootfd, struct kiln_error **reterr)
{
        _cleanup_close_ int rootfd = open(mountdir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (rootfd < 0)
                return kiln_error_set(reterr, errno, "cannot open '%s': %s", mountdir, strerror(errno));
        _cleanup_close_ int bootfd = openat2_in(rootfd, "boot", O_RDONLY | O_DIRECTORY, 0);
        if (bootfd < 0)
                return kiln_error_set(reterr, errno,
                                      "the image's /boot is not a plain folder (%s); kiln will not "
                                      "mount on it or hand it to grub-install",
                                      strerror(errno));
        if (grub) {
                if (mkdirat(bootfd, "grub", 0755) < 0 && errno != EEXIST)
                        return kiln_error_set(reterr, errno, "cannot create /boot/grub in the image: %s",
                                              strerror(errno));
                _cleanup_close_ int grubfd = openat2_in(rootfd, "boot/grub", O_RDONLY | O_DIRECTORY, 0);
                if (grubfd < 0)
                        return kiln_error_set(reterr, errno, "the image's /boot/grub is not a plain folder (%s)",
                                              strerror(errno));
                int r = no_symlinks_below(grubfd, "/boot/grub", 0, reterr);
                if (r < 0)
                        return r;
        }
        if (ret_rootfd)
                *ret_rootfd = TAKE_FD(rootfd);
        if (ret_bootfd)
                *ret_bootfd = TAKE_FD(bootfd);
        return 0;
}

/* Before a /boot mount and before grub-install: /boot (and /boot/grub) must be real folders, and
 * kiln's own files (device.map, grub.cfg, the GRUB defaults) are written confined to the mount. */
static int dm_before(void *userdata, size_t k, struct kiln_error **reterr)
{
        struct dm_ctx *c = userdata;
        const struct kiln_dm_step *s = &c->plan->steps[k];
        if (!STREQ(s->argv[0], "grub-install") && !(STREQ(s->argv[0], "mount") && c->l->boot_part &&
                                                    str_has_suffix(s->argv[strv_length(s->argv) - 1], "/boot")))
                return 0;
        bool for_mount = STREQ(s->argv[0], "mount");
        _cleanup_close_ int rootfd = -1, bootfd = -1;
        int r = kiln_dm_check_tree(c->l->mountdir, !for_mount, &rootfd, &bootfd, reterr);
        if (r < 0 || for_mount)
                return r;
        _cleanup_free_ char *version = kiln_newest_kernel(bootfd);
        if (!version)
                return kiln_error_set(reterr, ENOENT, "no /boot/vmlinuz-* in the image: nothing for GRUB to boot");
        _cleanup_free_ char *rootdev = xasprintf("/dev/mapper/%s%u", c->l->name, c->l->root_part);
        _cleanup_free_ char *bootdev =
                c->l->boot_part ? xasprintf("/dev/mapper/%s%u", c->l->name, c->l->boot_part) : xstrdup(rootdev);
        _cleanup_free_ char *root_uuid = fs_uuid(rootdev, reterr);
        _cleanup_free_ char *boot_uuid = root_uuid ? fs_uuid(bootdev, reterr) : NULL;
        if (!boot_uuid)
                return -EIO;
        _cleanup_free_ char *args = strv_join(c->p->kernel_args, " ");
        const char *prefix = c->l->boot_part ? "" : "/boot";
        /* The image's own update-grub replaces this file at its first kernel upgrade. */
        _cleanup_free_ char *cfg = xasprintf("# Written by kiln --finalize=dm; the image's update-grub replaces it.\n"
                                             "serial --unit=0 --speed=115200\n"
                                             "terminal_input console serial\n"
                                             "terminal_output console serial\n"
                                             "set timeout=1\n"
                                             "insmod part_msdos\ninsmod part_gpt\ninsmod ext2\n"
                                             "search --no-floppy --fs-uuid --set=root %s\n"
                                             "menuentry 'Debian GNU/Linux, %s' {\n"
                                             "\tlinux %s/vmlinuz-%s root=UUID=%s ro %s\n"
                                             "\tinitrd %s/initrd.img-%s\n"
                                             "}\n",
                                             boot_uuid, version, prefix, version, root_uuid, args, prefix, version);
        _cleanup_free_ char *map = xasprintf("(hd0) /dev/mapper/%s\n", c->l->name);
        _cleanup_free_ char *defaults = kiln_grub_defaults(c->p);
        r = write_in(rootfd, "boot/grub/device.map", map, reterr);
        if (r == 0)
                r = write_in(rootfd, "boot/grub/grub.cfg", cfg, reterr);
        _cleanup_close_ int etcfd = r == 0 ? openat2_in(rootfd, "etc/default", O_RDONLY | O_DIRECTORY, 0) : -1;
        if (etcfd >= 0 && (mkdirat(etcfd, "grub.d", 0755) == 0 || errno == EEXIST))
                r = write_in(rootfd, "etc/default/grub.d/kiln.cfg", defaults, reterr);
        return r;
}

static char *free_dm_name(void)
{
        for (char c = 'a'; c <= 'z'; c++) {
                char path[32];
                snprintf(path, sizeof(path), "/dev/mapper/hd%c", c);
                if (access(path, F_OK) < 0)
                        return xasprintf("hd%c", c);
        }
        return NULL;
}

int kiln_grub_dm(const char *raw_image, const struct kiln_profile *p, unsigned root_part, unsigned boot_part,
                 volatile sig_atomic_t *interrupted, void (*notice)(void *, const char *), void *userdata,
                 struct kiln_error **reterr)
{
        int r = kiln_dm_probe(reterr);
        if (r < 0)
                return r;
        static const char *const tools[] = {"losetup", "dmsetup", "kpartx", "grub-install", "blkid", "mount"};
        for (size_t i = 0; i < ELEMENTSOF(tools); i++)
                if (!kiln_command_exists(tools[i]))
                        return kiln_error_set(reterr, ENOENT,
                                              "--finalize=dm needs the host's %s (make deps installs it)", tools[i]);
        if (access("/usr/lib/grub/i386-pc/modinfo.sh", R_OK) < 0)
                return kiln_error_set(reterr, ENOENT, "--finalize=dm needs the host's BIOS GRUB (package grub-pc-bin)");
        struct stat st;
        if (stat(raw_image, &st) < 0)
                return kiln_error_set(reterr, errno, "cannot stat '%s': %s", raw_image, strerror(errno));

        char *losetup[] = {"losetup", "--find", "--show", (char *)raw_image, NULL};
        _cleanup_free_ char *loop = NULL, *errs = NULL;
        struct kiln_command_opts o = {.stdin_fd = -1, .stdout_fd = -2, .stderr_fd = -2, .timeout_sec = 60};
        r = kiln_command_run(losetup, &o, &loop, &errs, reterr);
        if (r != 0)
                return r < 0 ? r : kiln_error_set(reterr, EIO, "losetup failed: %s", errs ? errs : "");
        loop[strcspn(loop, "\n")] = '\0';
        char *undo_loop[] = {"losetup", "-d", loop, NULL};

        _cleanup_free_ char *name = free_dm_name();
        char mnt[] = "/tmp/kiln-dm-XXXXXX";
        if (!name || !mkdtemp(mnt)) {
                r = kiln_error_set(reterr, EBUSY, name ? "cannot make a mount folder" : "hda to hdz are all in use");
                run_real(NULL, undo_loop, NULL);
                return r;
        }
        struct kiln_dm_layout l = {.loop = loop,
                                   .sectors = (uint64_t)st.st_size / 512,
                                   .name = name,
                                   .root_part = root_part,
                                   .boot_part = boot_part,
                                   .mountdir = mnt};
        struct kiln_dm_plan plan;
        kiln_dm_plan_build(&l, &plan);
        struct dm_ctx c = {.p = p, .l = &l, .plan = &plan};
        kiln_notify(notice, userdata, "--finalize=dm: %s as /dev/mapper/%s, the host's grub-install", loop, name);
        size_t done = 0;
        r = kiln_dm_execute(&plan, run_real, dm_before, &c, interrupted, &done, reterr);
        if (r == 0) {
                /* device.map names a host device; the finished image must not keep it. */
                _cleanup_close_ int rootfd = open(mnt, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
                if (rootfd >= 0) {
                        _cleanup_close_ int grubfd = openat2_in(rootfd, "boot/grub", O_RDONLY | O_DIRECTORY, 0);
                        if (grubfd >= 0)
                                unlinkat(grubfd, "device.map", 0);
                        syncfs(rootfd);
                }
                r = kiln_dm_unwind(&plan, done, run_real, NULL, reterr);
        }
        if (run_real(NULL, undo_loop, r < 0 ? NULL : reterr) < 0 && r == 0)
                r = -EIO;
        rmdir(mnt);
        kiln_dm_plan_free(&plan);
        return r;
}
