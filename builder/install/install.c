/* The install stage. Order of events: decide the accelerator, inject the preseed into a private
 * copy of the initrd, create the disk under a temporary name, start the proxy, start the guest,
 * follow its logs until it powers off (success only after finish-install), fails, stalls or is
 * interrupted; then stop everything, in reverse, on every path. */
#include "install.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <sys/wait.h>
#include <sys/stat.h>

#include "hv.h"
#include "command.h"
#include "leftovers.h"
#include "proxy.h"

char *kiln_install_cmdline(const struct kiln_profile *p, const char *proxy_url, const char *disk_device,
                           const char *net_args)
{
        struct kiln_buf b = {0};
        /* auto + critical: only unanswered critical questions could stop it, and kiln watches for
         * those; DEBCONF_DEBUG=5 puts every command the installer's cdebconf runs (INPUT: a question
         * about to be shown, PROGRESS) into the syslog. 5 is cdebconf's level for "developer", but not
         * a word the target's perl debconf matches: "developer" made it log every command of every
         * maintainer script too, half of the syslog (23,000 lines, each through the serial port) on
         * the CPU the emulated install needs, for lines kiln does not read. */
        buf_printf(&b, "auto=true priority=critical DEBCONF_DEBUG=5 fb=false console=ttyS0,115200n8");
        buf_printf(&b, " mirror/http/proxy=%s", proxy_url);
        buf_printf(&b, " partman-auto/disk=%s", disk_device);
        if (net_args && *net_args)
                buf_printf(&b, " %s", net_args);
        for (size_t i = 0; p->installer.extra_args[i]; i++)
                buf_printf(&b, " %s", p->installer.extra_args[i]);
        return buf_steal(&b);
}

int kiln_build_dir_prepare(const char *path, struct kiln_error **reterr)
{
        if (mkdir(path, 0755) == 0)
                return 0;
        if (errno != EEXIST)
                return kiln_error_set(reterr, errno, "cannot create '%s': %s", path, strerror(errno));
        /* An existing folder is reused only when it is kiln's user's own and nobody else can add to it:
         * root once overwrote a root-owned file through a symlink another user planted in OUTPUT.d. */
        struct stat st;
        if (lstat(path, &st) < 0)
                return kiln_error_set(reterr, errno, "cannot use '%s': %s", path, strerror(errno));
        if (S_ISLNK(st.st_mode))
                return kiln_error_set(reterr, EPERM, "'%s' is a symlink; kiln uses a build folder it made itself",
                                      path);
        if (!S_ISDIR(st.st_mode))
                return kiln_error_set(reterr, ENOTDIR, "'%s' exists and is not a folder", path);
        if (st.st_uid != geteuid())
                return kiln_error_set(reterr, EPERM,
                                      "'%s' belongs to another user (uid %u); kiln writes only in a build folder of "
                                      "its own: remove it or give --build-dir",
                                      path, (unsigned)st.st_uid);
        if (st.st_mode & (S_IWGRP | S_IWOTH))
                return kiln_error_set(reterr, EPERM,
                                      "'%s' is writable by other users; kiln writes only in a build "
                                      "folder of its own",
                                      path);
        return 0;
}

static int create_disk(const char *path, const char *format, uint64_t size, const struct kiln_sandbox *sb,
                       const int *fd, struct kiln_error **reterr)
{
        _cleanup_free_ char *sz = xasprintf("%" PRIu64, size);
        char *argv[] = {"qemu-img", "create", "-q", "-f", (char *)format, (char *)path, sz, NULL};
        _cleanup_free_ char *errs = NULL;
        struct kiln_command_opts co = {.stdin_fd = -1,
                                       .stdout_fd = -1,
                                       .stderr_fd = -2,
                                       .timeout_sec = 60,
                                       .sandbox = sb,
                                       .pass_fds = fd,
                                       .n_pass_fds = fd ? 1 : 0};
        int r = kiln_command_run(argv, &co, NULL, &errs, reterr);
        if (r > 0)
                return kiln_error_set(reterr, EIO, "qemu-img create failed: %s", errs ? errs : "");
        return r;
}

/* Feed what a log file gained since *off to fn. */
/* The most kiln reads or keeps of a guest's console or syslog (KILN_GUEST_LOG_MAX, bytes). */
static uint64_t guest_log_max(void)
{
        const char *e = getenv("KILN_GUEST_LOG_MAX");
        uint64_t v = e && *e ? strtoull(e, NULL, 10) : 0;
        return v ? v : 256ULL << 20;
}

static bool follow(const char *path, off_t *off, struct kiln_install_log *l,
                   void (*fn)(struct kiln_install_log *, const char *, size_t, kiln_install_event_fn, void *),
                   const struct kiln_install_opts *o)
{
        _cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC);
        if (fd < 0)
                return false;
        bool grew = false;
        uint64_t lines = l->lines;
        char chunk[1 << 16];
        ssize_t n;
        while ((n = pread(fd, chunk, sizeof(chunk), *off)) > 0) {
                fn(l, chunk, (size_t)n, o->event, o->userdata);
                *off += n;
                grew = true;
                if ((uint64_t)*off > guest_log_max())
                        break;
        }
        /* The syslog counts as activity only by whole lines: an endless line is no progress. */
        return fn == kiln_install_log_syslog ? l->lines != lines : grew;
}

/* Past its cap a guest's log file is cut, with a marker, and the guest stopped. */
static void cut_log(const char *path, uint64_t cap)
{
        _cleanup_close_ int fd = open(path, O_WRONLY | O_CLOEXEC | O_NOFOLLOW);
        static const char marker[] = "\n[kiln: cut here: the guest wrote more than kiln keeps]\n";
        if (fd >= 0 && ftruncate(fd, (off_t)cap) == 0)
                (void)!pwrite(fd, marker, sizeof(marker) - 1, (off_t)cap);
}

static void copy_tail(const char *from, const char *to)
{
        _cleanup_free_ char *data = NULL;
        size_t len;
        if (read_file_max(from, 1 << 20, &data, &len) < 0 || len == 0)
                return;
        _cleanup_close_ int fd = open(to, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0644);
        if (fd >= 0)
                (void)!write(fd, data, len);
}

void kiln_install_result_clear(struct kiln_install_result *r)
{
        free(r->accel);
        kiln_proxy_served_free(r->served, r->n_served);
        *r = (struct kiln_install_result){0};
}

int kiln_install_run(const struct kiln_install_opts *o, struct kiln_install_result *ret, struct kiln_error **reterr)
{
        const struct kiln_profile *p = o->profile;
        const struct kiln_hv_ops *ops = kiln_hv_find(o->hypervisor);
        if (!ops)
                return kiln_error_set(reterr, EINVAL, "unknown hypervisor '%s'", o->hypervisor);
        int r = kiln_build_dir_prepare(o->build_dir, reterr);
        if (r < 0)
                return r;
        /* A kiln killed with SIGKILL left its run folder (the initrd holds the preseed, password
         * hashes and keys) and its partial disk: what no live run holds goes now. */
        kiln_sweep_run_dirs(NULL, o->notice, o->userdata);
        kiln_sweep_partials(o->output, o->notice, o->userdata);

        _cleanup_free_ char *accel = NULL;
        struct kiln_hv_accel_req areq = {.want = o->accel,
                                         .kernel = o->media->kernel,
                                         .cache = o->cache,
                                         .notice = o->notice,
                                         .userdata = o->userdata};
        r = ops->accel(&areq, &accel, reterr);
        if (r < 0)
                return r;
        _cleanup_free_ char *accel_name = xstrdup(accel); /* for people: KVM, TCG, HVM */
        for (char *c = accel_name; *c; c++)
                *c = (char)toupper((unsigned char)*c);
        bool tcg = accel && STREQ(accel, "tcg");
        unsigned timeout = o->timeout_sec ? o->timeout_sec : tcg ? 3 * 3600 : 3600;
        unsigned watchdog = o->watchdog_sec ? o->watchdog_sec : tcg ? 600 : 300;

        const char *tmpdir = getenv("TMPDIR");
        _cleanup_free_ char *run = xasprintf("%s/kiln-run-XXXXXX", tmpdir && *tmpdir ? tmpdir : "/tmp");
        if (!mkdtemp(run))
                return kiln_error_set(reterr, errno, "cannot create a temporary folder: %s", strerror(errno));
        int run_lock = -1, disk_fd = -1; /* held until the end: they tell a later run we are alive */
        long stale_pid = 0;
        r = kiln_lock_take(run, &run_lock, &stale_pid, reterr);
        if (r < 0) {
                rmdir(run);
                return r;
        }

        /* Under a sandboxed backend, what touches the guest's bytes runs as the sandbox user: the
         * hypervisor and qemu-img on the disk. It can reach no folder of kiln's: it gets its files
         * open (/dev/fd/N), owns only the disk and the two logs it writes, and reaches the proxy
         * where the backend's net plan says (QEMU: its own network namespace, where only the
         * proxy's socket listens). A backend whose tools must run as root gets paths. */
        bool fd_paths_for_hv = ops->sandboxed;
        struct kiln_sandbox sandbox = {0};
        r = fd_paths_for_hv ? kiln_sandbox_init(&sandbox, reterr) : 0;
        if (r < 0) {
                kiln_lock_release(run, run_lock);
                rm_rf_flat(run);
                return r;
        }
        const struct kiln_sandbox *sb = fd_paths_for_hv ? &sandbox : NULL;
        int fds[5] = {-1, -1, -1, -1, -1}; /* kernel, initrd, disk, console, syslog */
        char fd_paths[5][32] = {{0}};
        _cleanup_free_ char *initrd = xasprintf("%s/initrd.gz", run);
        _cleanup_free_ char *console = xasprintf("%s/console.log", o->build_dir);
        _cleanup_free_ char *syslog = xasprintf("%s/syslog.log", o->build_dir);
        _cleanup_free_ char *proxy_log = xasprintf("%s/proxy.log", o->build_dir);
        _cleanup_free_ char *disk = xasprintf("%s.kiln-partial-XXXXXX", o->output);
        const char *format = str_has_suffix(o->output, ".raw") || str_has_suffix(o->output, ".img") ? "raw" : "qcow2";
        _cleanup_free_ char *proxy_url = NULL, *cmdline = NULL;
        struct kiln_proxy_process *proxy = NULL;
        struct kiln_sandbox proxy_sb = {0};
        _cleanup_free_ char *stage = xasprintf("%s/proxy-stage", run);
        struct kiln_snapshot snapshot = {0};
        struct kiln_guest *g = kiln_guest_new(ops);
        struct kiln_hv_net net = {0};
        struct kiln_install_log log = {0};
        bool disk_made = false;
        double start = kiln_now();
        unlink(console);
        unlink(syslog);

        r = kiln_media_inject(p, o->media, o->preseed, initrd, reterr);
        if (r == 0)
                r = kiln_sandbox_give(sb, initrd, reterr); /* it holds the password hash: 0600, its alone */
        if (r < 0)
                goto out;
        disk_fd = mkostemp(disk, O_CLOEXEC);
        if (disk_fd < 0) {
                r = kiln_error_set(reterr, errno, "cannot create '%s': %s", disk, strerror(errno));
                goto out;
        }
        disk_made = true;
        r = kiln_lock_fresh(disk, disk_fd, reterr);
        if (r < 0)
                goto out;
        r = kiln_sandbox_give(sb, disk, reterr);
        if (r < 0)
                goto out;
        if (fd_paths_for_hv) {
                const char *files[] = {o->media->kernel, initrd, disk, console, syslog};
                for (size_t i = 0; r == 0 && i < ELEMENTSOF(files); i++) {
                        int flags = i < 2 ? O_RDONLY : i == 2 ? O_RDWR : O_WRONLY | O_CREAT | O_EXCL;
                        fds[i] = open(files[i], flags | O_NOFOLLOW | O_CLOEXEC, 0644);
                        if (fds[i] < 0)
                                r = kiln_error_set(reterr, errno, "cannot open '%s': %s", files[i], strerror(errno));
                        else if (i >= 3)
                                r = kiln_sandbox_give(sb, files[i], reterr);
                        snprintf(fd_paths[i], sizeof(fd_paths[i]), "/dev/fd/%d", fds[i]);
                }
        }
        /* What the hypervisor is given: its files open, or their paths. */
        const char *hv_kernel = fd_paths_for_hv ? fd_paths[0] : o->media->kernel;
        const char *hv_initrd = fd_paths_for_hv ? fd_paths[1] : initrd;
        const char *hv_disk = fd_paths_for_hv ? fd_paths[2] : disk;
        const char *hv_console = fd_paths_for_hv ? fd_paths[3] : console;
        const char *hv_syslog = fd_paths_for_hv ? fd_paths[4] : syslog;
        if (r == 0)
                r = create_disk(hv_disk, format, p->disk.size, sb, fd_paths_for_hv ? &fds[2] : NULL, reterr);
        if (r < 0)
                goto out;

        g->cfg.run_dir = run;
        r = ops->net_plan(g, o->bridge, &net, reterr);
        if (r < 0)
                goto out;
        /* The archive as it is now, verified: the guest sees this view for the whole install. */
        r = kiln_snapshot_for(p, o->media->pin, o->cache, o->notice, o->userdata, &snapshot, reterr);
        if (r < 0)
                goto out;
        struct kiln_proxy_policy pol;
        kiln_proxy_policy_for(p, &pol);
        /* Where the backend's plan puts it: a socket in the hypervisor's own network namespace, or
         * an address the guest reaches directly. */
        /* The proxy runs in a process of its own as the sandbox user, whatever the backend: it
         * parses what the guest sends, so it holds no privilege and none of kiln's descriptors,
         * and it may make no process: nothing of it outlives kiln's kill of its group. Its uid is
         * its own: not QEMU's, nor any other build's helpers'. */
        r = kiln_sandbox_init_own(&proxy_sb, reterr);
        if (r == 0)
                r = kiln_sandbox_threads_only(&proxy_sb, reterr);
        if (r == 0)
                r = kiln_proxy_process_start(&pol, o->cache, &snapshot, proxy_log, net.proxy_listen, &proxy_sb, stage,
                                             &proxy, reterr);
        kiln_proxy_policy_clear(&pol);
        if (r < 0)
                goto out;

        proxy_url = xasprintf("http://%s:%u/", net.guest_proxy_host,
                              net.guest_proxy_port ? net.guest_proxy_port : kiln_proxy_process_port(proxy));
        cmdline = kiln_install_cmdline(p, proxy_url, ops->disk_device, net.installer_args);
        g->cfg = (struct kiln_guest_config){.name = p->name,
                                            .kernel = hv_kernel,
                                            .initrd = hv_initrd,
                                            .cmdline = cmdline,
                                            .disk = hv_disk,
                                            .disk_format = format,
                                            .memory = p->vm.memory,
                                            .cpus = p->vm.cpus,
                                            .accel = accel,
                                            .console_log = hv_console,
                                            .syslog_log = hv_syslog,
                                            .run_dir = run,
                                            .sandbox = sb,
                                            .fds = fd_paths_for_hv ? fds : NULL,
                                            .n_fds = fd_paths_for_hv ? ELEMENTSOF(fds) : 0};
        r = ops->prepare(g, reterr);
        if (r < 0)
                goto out;
        if (g->argv) {
                _cleanup_free_ char *argv_path = xasprintf("%s/guest.argv", o->build_dir);
                _cleanup_free_ char *joined = strv_join(g->argv, "\n");
                _cleanup_close_ int afd = open(argv_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0644);
                if (afd >= 0)
                        (void)!write(afd, joined, strlen(joined));
        }
        r = ops->start(g, reterr);
        if (r < 0)
                goto out;
        kiln_notify(o->notice, o->userdata, "installing '%s' (debian %s/%s) under %s %s; logs in %s", p->name,
                    p->release, p->arch, ops->name, accel_name, o->build_dir);

        off_t con_off = 0, sys_off = 0;
        double last_activity = kiln_now();
        blkcnt_t last_blocks = 0;
        for (;;) {
                bool gone = false;
                r = ops->wait(g, 1000, &gone, reterr);
                if (r < 0)
                        goto out;
                bool grew = follow(syslog, &sys_off, &log, kiln_install_log_syslog, o);
                grew |= follow(console, &con_off, &log, kiln_install_log_console, o);
                struct stat st;
                if (stat(disk, &st) == 0 && st.st_blocks != last_blocks) {
                        last_blocks = st.st_blocks;
                        grew = true;
                }
                if (grew)
                        last_activity = kiln_now();
                if ((uint64_t)con_off > guest_log_max() || (uint64_t)sys_off > guest_log_max()) {
                        bool con = (uint64_t)con_off > guest_log_max();
                        ops->stop(g, 5);
                        cut_log(con ? console : syslog, guest_log_max());
                        r = kiln_error_set(reterr, EFBIG,
                                           "the guest flooded its %s (over %" PRIu64 " bytes) at step '%s': stopped "
                                           "the guest",
                                           con ? "console" : "syslog", guest_log_max(), log.step ? log.step : "start");
                        goto out;
                }
                if (gone)
                        break;
                if (log.failure) {
                        ops->stop(g, 5);
                        r = kiln_error_set(reterr, EIO, "%s", log.failure);
                        goto out;
                }
                if (o->interrupted && *o->interrupted) {
                        ops->stop(g, 5);
                        r = kiln_error_set(reterr, EINTR, "interrupted at step '%s'", log.step ? log.step : "start");
                        goto out;
                }
                if (kiln_now() - last_activity > watchdog) {
                        ops->stop(g, 5);
                        r = kiln_error_set(reterr, ETIMEDOUT,
                                           "no console, syslog or disk activity for %u s at step '%s': stopped "
                                           "the guest",
                                           watchdog, log.step ? log.step : "start");
                        goto out;
                }
                if (kiln_now() - start > timeout) {
                        ops->stop(g, 5);
                        r = kiln_error_set(reterr, ETIMEDOUT, "the install took longer than %u minutes (at step '%s')",
                                           timeout / 60, log.step ? log.step : "start");
                        goto out;
                }
        }
        if (log.failure) {
                r = kiln_error_set(reterr, EIO, "%s", log.failure);
                goto out;
        }
        bool clean_exit = WIFEXITED(g->exit_status) && WEXITSTATUS(g->exit_status) == 0;
        if (!log.finish_seen || !clean_exit) {
                _cleanup_free_ char *qtext = NULL;
                size_t ql;
                if (g->stderr_path)
                        read_file_max(g->stderr_path, 1 << 16, &qtext, &ql);
                if (qtext)
                        qtext[strcspn(qtext, "\n")] = '\0';
                if (!clean_exit)
                        r = kiln_error_set(reterr, EIO, "the hypervisor exited with status %d at step '%s'%s%s",
                                           WIFEXITED(g->exit_status) ? WEXITSTATUS(g->exit_status) : -1,
                                           log.step ? log.step : "start", qtext && *qtext ? ": " : "",
                                           qtext ? qtext : "");
                else
                        r = kiln_error_set(reterr, EIO,
                                           "the guest powered off before the installer finished (last step '%s')",
                                           log.step ? log.step : "none");
                goto out;
        }
        /* The guest and its helpers are gone: the disk becomes kiln's user's again. */
        if (sb && sb->drop && lchown(disk, getuid(), getgid()) < 0) {
                r = kiln_error_set(reterr, errno, "cannot take back '%s': %s", disk, strerror(errno));
                goto out;
        }
        if (rename(disk, o->output) < 0) {
                r = kiln_error_set(reterr, errno, "cannot move the disk to '%s': %s", o->output, strerror(errno));
                goto out;
        }
        disk_made = false;
        if (o->event)
                o->event(o->userdata, "done", 100, "the installer finished and powered off");
        ret->seconds = kiln_now() - start;
        ret->accel = xstrdup(accel);
        r = 0;
out:
        kiln_hv_net_clear(&net);
        if (g) {
                ops->cleanup(g);
                /* The guest is gone: whatever it wrote past the cap in its last moments is cut too. */
                const char *logs[] = {console, syslog};
                for (size_t i = 0; i < ELEMENTSOF(logs); i++) {
                        struct stat lst;
                        if (stat(logs[i], &lst) == 0 && (uint64_t)lst.st_size > guest_log_max())
                                cut_log(logs[i], guest_log_max());
                }
                _cleanup_free_ char *qdst = xasprintf("%s/hypervisor.stderr", o->build_dir);
                if (g->stderr_path)
                        copy_tail(g->stderr_path, qdst);
                kiln_guest_free(g);
        }
        /* After the guest: what the proxy fetched comes into the cache once it is gone. */
        if (proxy)
                kiln_proxy_process_stop(proxy, o->cache, r == 0 ? &ret->served : NULL, &ret->n_served);
        kiln_sandbox_clear(&proxy_sb);
        kiln_snapshot_clear(&snapshot);
        kiln_sandbox_clear(&sandbox);
        for (size_t i = 0; i < ELEMENTSOF(fds); i++)
                if (fds[i] >= 0)
                        close(fds[i]);
        if (disk_made)
                unlink(disk);
        if (r < 0 && log.console_tail) {
                _cleanup_free_ char *tail = xasprintf("%s/console.tail", o->build_dir);
                _cleanup_close_ int tfd = open(tail, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0644);
                if (tfd >= 0)
                        (void)!write(tfd, log.console_tail, strlen(log.console_tail));
        }
        kiln_install_log_clear(&log);
        if (disk_fd >= 0)
                close(disk_fd);
        kiln_lock_release(run, run_lock);
        rm_rf_flat(run);
        return r;
}
