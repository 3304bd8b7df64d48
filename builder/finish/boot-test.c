/* Boot tests: the image under QEMU with snapshot=on (nothing is written back), no network device
 * at all, the first serial port to a log; success is a login prompt there. */
#include "boot-test.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>

#include "command.h"
#include "image-format.h"
#include "qemu.h"
#include "leftovers.h"
#include "sandbox.h"

extern char **environ;

/* kiln's environment with TMPDIR replaced (QEMU's snapshot=on writes its overlay there). */
static char **env_with_tmpdir(const char *dir)
{
        char **env = NULL;
        for (char **e = environ; e && *e; e++)
                if (!str_has_prefix(*e, "TMPDIR="))
                        env = strv_push(env, xstrdup(*e));
        return strv_push(env, xasprintf("TMPDIR=%s", dir));
}

static char *console_tail(const char *path)
{
        _cleanup_free_ char *data = NULL;
        size_t len;
        if (read_file_max(path, 64 << 20, &data, &len) < 0 || len == 0)
                return xstrdup("(the console printed nothing)");
        /* The last few lines, without escape sequences or other control bytes. */
        struct kiln_buf b = {0};
        size_t start = len > 1500 ? len - 1500 : 0;
        for (size_t i = start; i < len; i++) {
                unsigned char c = (unsigned char)data[i];
                if (c == 0x1b) {
                        while (i + 1 < len && !((data[i + 1] >= '@' && data[i + 1] <= '~') && data[i + 1] != '['))
                                i++;
                        i++;
                        continue;
                }
                if (c == '\n' || (c >= 0x20 && c != 0x7f))
                        buf_append(&b, (char *)&data[i], 1);
        }
        return buf_steal(&b);
}

int kiln_boot_test(const struct kiln_boot_test_opts *o, double *ret_seconds, struct kiln_error **reterr)
{
        _cleanup_free_ char *accel = NULL;
        const char *format = o->format;
        int r = kiln_image_check(o->image, format, reterr);
        if (r < 0)
                return r;
        if (o->kernel || STREQ(o->accel, "tcg") || STREQ(o->accel, "kvm")) {
                r = kiln_qemu_accel(o->accel, o->kernel ? o->kernel : "/nonexistent", o->cache, o->notice, o->userdata,
                                    &accel, reterr);
                if (r < 0)
                        return r;
        } else {
                accel = xstrdup("tcg");
        }
        bool tcg = STREQ(accel, "tcg");
        unsigned timeout = o->timeout_sec ? o->timeout_sec : tcg ? 600 : 180;

        const char *tmpdir = getenv("TMPDIR");
        _cleanup_free_ char *run = xasprintf("%s/kiln-boot-XXXXXX", tmpdir && *tmpdir ? tmpdir : "/tmp");
        kiln_sweep_run_dirs(NULL, o->notice, o->userdata);
        if (!mkdtemp(run))
                return kiln_error_set(reterr, errno, "cannot create a temporary folder: %s", strerror(errno));
        int run_lock = -1; /* held until the end: a later run sees this one is alive */
        long stale_pid = 0;
        r = kiln_lock_take(run, &run_lock, &stale_pid, reterr);
        if (r < 0) {
                rmdir(run);
                return r;
        }
        /* QEMU runs as the sandbox user, under kiln's seccomp filter and its own with everything
         * denied. It gets the image as a read-only descriptor (it can open no path of kiln's or the
         * user's), the console as a file of its own, and a folder of its own for the snapshot's
         * overlay, all through /dev/fd/N: it needs no way through the folders above them. */
        struct kiln_sandbox sandbox = {0};
        _cleanup_free_ char *scratch = xasprintf("%s/tmp", run);
        _cleanup_strv_free_ char **env = NULL;
        int image_fd = -1, fds[2] = {-1, -1}; /* the console, the scratch folder */
        char console_path[32] = "", scratch_path[32] = "";
        double start = kiln_now();
        bool login = false;
        struct kiln_guest *g = kiln_guest_new(&kiln_hv_qemu);
        unlink(o->console_log);
        r = kiln_sandbox_init(&sandbox, reterr);
        if (r == 0 && mkdir(scratch, 0700) < 0)
                r = kiln_error_set(reterr, errno, "cannot create '%s': %s", scratch, strerror(errno));
        if (r == 0)
                r = kiln_sandbox_give(&sandbox, scratch, reterr);
        if (r == 0 && (image_fd = open(o->image, O_RDONLY | O_NOFOLLOW | O_CLOEXEC)) < 0)
                r = kiln_error_set(reterr, errno, "cannot open '%s': %s", o->image, strerror(errno));
        if (r == 0 && (fds[0] = open(o->console_log, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644)) < 0)
                r = kiln_error_set(reterr, errno, "cannot create '%s': %s", o->console_log, strerror(errno));
        if (r == 0)
                r = kiln_sandbox_give(&sandbox, o->console_log, reterr);
        if (r == 0 && (fds[1] = open(scratch, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)) < 0)
                r = kiln_error_set(reterr, errno, "cannot open '%s': %s", scratch, strerror(errno));
        if (r < 0)
                goto out;
        snprintf(console_path, sizeof(console_path), "/dev/fd/%d", fds[0]);
        snprintf(scratch_path, sizeof(scratch_path), "/dev/fd/%d", fds[1]);
        env = env_with_tmpdir(scratch_path);
        /* One vCPU under TCG: with two, a trixie kernel patching its own code at boot (int3 over
         * a jump label) has met an Oops in sched_clock_cpu and a panic (seen once here, QEMU 7.2);
         * a boot to a login prompt gains little from a second emulated CPU anyway. */
        g->cfg = (struct kiln_guest_config){.name = "boot-test",
                                            .disk = o->image,
                                            .disk_format = format,
                                            .disk_ro_fd = &image_fd,
                                            .snapshot = true,
                                            .memory = o->memory ? o->memory : 1ULL << 30,
                                            .cpus = STREQ(accel, "kvm") ? 2 : 1,
                                            .accel = accel,
                                            .console_log = console_path,
                                            .run_dir = run,
                                            .sandbox = &sandbox,
                                            .envp = env,
                                            .fds = fds,
                                            .n_fds = ELEMENTSOF(fds)};
        start = kiln_now();
        r = g->ops->prepare(g, reterr);
        if (r == 0)
                r = g->ops->start(g, reterr);
        while (r == 0) {
                bool gone = false;
                r = g->ops->wait(g, 1000, &gone, reterr);
                if (r < 0)
                        break;
                _cleanup_free_ char *text = NULL;
                size_t len;
                if (read_file_max(o->console_log, 64 << 20, &text, &len) == 0 && strstr(text, "login:")) {
                        login = true;
                        break;
                }
                _cleanup_free_ char *tail = NULL;
                const char *panic = text ? strstr(text, "Kernel panic - not syncing") : NULL;
                if (panic) {
                        /* A panicked kernel never reaches a prompt: say so now, not at the timeout. */
                        tail = console_tail(o->console_log);
                        r = kiln_error_set(reterr, EIO, "the image's kernel panicked (%.*s); console:\n%s",
                                           (int)strcspn(panic, "\r\n"), panic, tail);
                } else if (gone) {
                        tail = console_tail(o->console_log);
                        r = kiln_error_set(reterr, EIO, "the image stopped before a login prompt; console:\n%s", tail);
                } else if (o->interrupted && *o->interrupted) {
                        r = kiln_error_set(reterr, EINTR, "interrupted");
                } else if (kiln_now() - start > timeout) {
                        tail = console_tail(o->console_log);
                        r = kiln_error_set(reterr, ETIMEDOUT,
                                           "no login prompt on the serial console within %u s; console:\n%s", timeout,
                                           tail);
                }
        }
out:
        g->ops->stop(g, 0);
        g->ops->cleanup(g);
        if (g->stderr_path)
                unlink(g->stderr_path);
        kiln_guest_free(g);
        if (image_fd >= 0)
                close(image_fd);
        for (size_t i = 0; i < ELEMENTSOF(fds); i++)
                if (fds[i] >= 0)
                        close(fds[i]);
        kiln_sandbox_clear(&sandbox);
        rm_rf_flat(scratch);
        kiln_lock_release(run, run_lock);
        rmdir(run);
        if (r < 0)
                return r;
        *ret_seconds = kiln_now() - start;
        return login ? 0 : -EIO;
}
