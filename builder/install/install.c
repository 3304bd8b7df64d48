/* The install stage. Order of events: decide the accelerator, inject the preseed into a private
 * copy of the initrd, create the disk under a temporary name, start the proxy, start the guest,
 * follow its logs until it powers off (success only after finish-install), fails, stalls or is
 * interrupted; then stop everything, in reverse, on every path. */
#include "install.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ifaddrs.h>
#include <netinet/in.h>
#include <inttypes.h>
#include <sys/wait.h>
#include <sys/stat.h>

#include "hv.h"
#include "command.h"
#include "hash.h"
#include "leftovers.h"
#include "proxy.h"

int kiln_xen_net_plan(const char *bridge, struct kiln_xen_net *ret, struct kiln_error **reterr)
{
        struct ifaddrs *ifs = NULL;
        if (getifaddrs(&ifs) < 0)
                return kiln_error_set(reterr, errno, "getifaddrs: %s", strerror(errno));
        int r = -ENODEV;
        for (struct ifaddrs *i = ifs; i; i = i->ifa_next) {
                if (!i->ifa_addr || i->ifa_addr->sa_family != AF_INET || !STREQ(i->ifa_name, bridge))
                        continue;
                struct in_addr a = ((struct sockaddr_in *)i->ifa_addr)->sin_addr;
                struct in_addr m = ((struct sockaddr_in *)i->ifa_netmask)->sin_addr;
                struct in_addr g = {.s_addr = htonl(ntohl(a.s_addr) + 1)};
                if ((g.s_addr & m.s_addr) != (a.s_addr & m.s_addr) || (g.s_addr | m.s_addr) == 0xffffffffu)
                        break; /* no room for the guest after the bridge's address */
                inet_ntop(AF_INET, &a, ret->bridge_ip, sizeof(ret->bridge_ip));
                inet_ntop(AF_INET, &m, ret->netmask, sizeof(ret->netmask));
                inet_ntop(AF_INET, &g, ret->guest_ip, sizeof(ret->guest_ip));
                r = 0;
                break;
        }
        freeifaddrs(ifs);
        if (r < 0)
                return kiln_error_set(reterr, ENODEV,
                                      "Xen needs a host-only bridge '%s' with an IPv4 address and room for the guest "
                                      "after it (see the README: 'Running on a Xen dom0')",
                                      bridge);
        return 0;
}

char *kiln_install_cmdline(const struct kiln_profile *p, const char *proxy_url, const struct kiln_xen_net *xen)
{
        struct kiln_buf b = {0};
        /* auto + critical: only unanswered critical questions could stop it, and kiln watches for
         * those; DEBCONF_DEBUG=developer puts every question debconf shows into the syslog. */
        buf_printf(&b, "auto=true priority=critical DEBCONF_DEBUG=developer fb=false console=ttyS0,115200n8");
        buf_printf(&b, " mirror/http/proxy=%s", proxy_url);
        buf_printf(&b, " partman-auto/disk=%s", xen ? "/dev/xvda" : "/dev/vda");
        if (xen) /* a static address on the host-only bridge; no gateway, no name server */
                buf_printf(&b,
                           " netcfg/disable_autoconfig=true netcfg/get_ipaddress=%s netcfg/get_netmask=%s "
                           "netcfg/get_gateway=none netcfg/confirm_static=true",
                           xen->guest_ip, xen->netmask);
        for (size_t i = 0; p->installer.extra_args[i]; i++)
                buf_printf(&b, " %s", p->installer.extra_args[i]);
        return buf_steal(&b);
}

static char *probe_key(const char *kernel)
{
        struct stat k, q;
        const char *qemu = getenv("KILN_QEMU") ? getenv("KILN_QEMU") : "/usr/bin/qemu-system-x86_64";
        if (stat(kernel, &k) < 0 || stat(qemu, &q) < 0)
                return NULL;
        _cleanup_free_ char *id = xasprintf("%s %lld %lld %s %lld %lld", kernel, (long long)k.st_size,
                                            (long long)k.st_mtime, qemu, (long long)q.st_size, (long long)q.st_mtime);
        char hex[KILN_SHA256_HEX];
        kiln_sha256_buf(id, strlen(id), hex);
        return xasprintf("kvm-probe-%s", hex);
}

int kiln_install_accel(const char *want, const char *kernel, const struct kiln_cache *cache,
                       void (*notice_fn)(void *, const char *), void *userdata, char **ret, struct kiln_error **reterr)
{
        if (STREQ(want, "tcg")) {
                *ret = xstrdup("tcg");
                return 0;
        }
        _cleanup_free_ char *why = NULL, *key = cache ? probe_key(kernel) : NULL;
        _cleanup_free_ char *seen = key ? kiln_cache_record_read(cache, key) : NULL;
        bool kvm;
        if (seen && str_has_prefix(seen, "kvm")) {
                kvm = true;
        } else if (seen && str_has_prefix(seen, "tcg ")) {
                kvm = false;
                why = xstrdup(seen + 4);
        } else {
                kvm = kiln_qemu_probe_kvm(kernel, 30, &why) == 0;
                if (key) {
                        _cleanup_free_ char *rec = kvm ? xstrdup("kvm") : xasprintf("tcg %s", why);
                        kiln_cache_record_write(cache, key, rec, NULL);
                }
        }
        if (kvm) {
                *ret = xstrdup("kvm");
                return 0;
        }
        if (STREQ(want, "kvm"))
                return kiln_error_set(reterr, ENODEV, "accel 'kvm' was asked for, but %s", why);
        if (notice_fn) {
                _cleanup_free_ char *m = xasprintf("%s: using TCG (software emulation, much slower)", why);
                notice_fn(userdata, m);
        }
        *ret = xstrdup("tcg");
        return 0;
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

bool kiln_qemu_path_ok(const char *path)
{
        return !strchr(path, ',');
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
        if (STREQ(o->hypervisor, "qemu")) {
                /* A forced kvm is always probed afresh: it must fail before the install, clearly. */
                r = kiln_install_accel(o->accel, o->media->kernel, STREQ(o->accel, "auto") ? o->cache : NULL, o->notice,
                                       o->userdata, &accel, reterr);
                if (r < 0)
                        return r;
        } else {
                accel = xstrdup("hvm");
        }
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

        /* What touches the guest's bytes runs as the sandbox user: QEMU and qemu-img on the disk.
         * It can reach no folder of kiln's: it gets its files open (/dev/fd/N) and owns only the
         * disk and the two logs QEMU writes. QEMU runs in a network namespace of its own whose only
         * listening socket is the proxy's. Xen's xl must run as root. */
        bool xen = STREQ(o->hypervisor, "xen");
        struct kiln_sandbox sandbox = {0};
        r = xen ? 0 : kiln_sandbox_init(&sandbox, reterr);
        if (r < 0) {
                kiln_lock_release(run, run_lock);
                rm_rf_flat(run);
                return r;
        }
        const struct kiln_sandbox *sb = xen ? NULL : &sandbox;
        int fds[5] = {-1, -1, -1, -1, -1}; /* kernel, initrd, disk, console, syslog */
        char fd_paths[5][32] = {{0}};
        _cleanup_free_ char *initrd = xasprintf("%s/initrd.gz", run);
        _cleanup_free_ char *console = xasprintf("%s/console.log", o->build_dir);
        _cleanup_free_ char *syslog = xasprintf("%s/syslog.log", o->build_dir);
        _cleanup_free_ char *proxy_log = xasprintf("%s/proxy.log", o->build_dir);
        _cleanup_free_ char *disk = xasprintf("%s.kiln-partial-XXXXXX", o->output);
        const char *format = str_has_suffix(o->output, ".raw") || str_has_suffix(o->output, ".img") ? "raw" : "qcow2";
        _cleanup_free_ char *proxy_url = NULL, *cmdline = NULL;
        struct kiln_proxy *proxy = NULL;
        struct kiln_proxy_policy pol = {0};
        struct kiln_snapshot snapshot = {0};
        struct kiln_guest *g = NULL;
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
        if (!xen) {
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
        if (r == 0)
                r = create_disk(xen ? disk : fd_paths[2], format, p->disk.size, sb, xen ? NULL : &fds[2], reterr);
        if (r < 0)
                goto out;

        struct kiln_xen_net xn = {0};
        const char *bridge = o->xen_bridge ? o->xen_bridge : "kilnbr0";
        if (xen && (r = kiln_xen_net_plan(bridge, &xn, reterr)) < 0)
                goto out;
        /* The archive as it is now, verified: the guest sees this view for the whole install. */
        r = kiln_snapshot_for(p, o->media->pin, o->cache, o->notice, o->userdata, &snapshot, reterr);
        if (r < 0)
                goto out;
        kiln_proxy_policy_for(p, &pol);
        /* Xen: the proxy listens on the bridge's address, reached directly. QEMU: on the socket
         * QEMU's start makes in its own network namespace, so it starts after the guest. */
        if (xen) {
                r = kiln_proxy_start(&pol, o->cache, &snapshot, proxy_log, xn.bridge_ip, 0, &proxy, reterr);
                if (r < 0)
                        goto out;
                proxy_url = xasprintf("http://%s:%u/", xn.bridge_ip, kiln_proxy_port(proxy));
        } else {
                proxy_url = xasprintf("http://%s:%u/", KILN_QEMU_PROXY_ADDR, KILN_GUEST_PROXY_PORT);
        }
        cmdline = kiln_install_cmdline(p, proxy_url, xen ? &xn : NULL);
        g = xcalloc(1, sizeof(*g));
        g->ops = ops;
        g->qmp_fd = -1;
        g->proxy_fd = -1;
        g->cfg = (struct kiln_guest_config){.name = p->name,
                                            .kernel = xen ? o->media->kernel : fd_paths[0],
                                            .initrd = xen ? initrd : fd_paths[1],
                                            .cmdline = cmdline,
                                            .disk = xen ? disk : fd_paths[2],
                                            .disk_format = format,
                                            .memory = p->vm.memory,
                                            .cpus = p->vm.cpus,
                                            .accel = accel,
                                            .console_log = xen ? console : fd_paths[3],
                                            .syslog_log = xen ? syslog : fd_paths[4],
                                            .run_dir = run,
                                            .proxy_port = xen ? kiln_proxy_port(proxy) : 0,
                                            .proxy_netns = !xen,
                                            .sandbox = sb,
                                            .fds = xen ? NULL : fds,
                                            .n_fds = xen ? 0 : ELEMENTSOF(fds),
                                            .xen_bridge = xen ? bridge : NULL,
                                            .xen_guest_ip = xen ? xn.guest_ip : NULL,
                                            .xen_proxy_ip = xen ? xn.bridge_ip : NULL};
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
        if (r == 0 && g->proxy_fd >= 0) {
                _cleanup_free_ char *on = xasprintf("fd:%d", g->proxy_fd);
                r = kiln_proxy_start(&pol, o->cache, &snapshot, proxy_log, on, 0, &proxy, reterr);
                g->proxy_fd = -1; /* the proxy's now, closed on every path */
        }
        if (r < 0)
                goto out;
        kiln_notify(o->notice, o->userdata, "installing '%s' (debian %s/%s) under %s%s; logs in %s", p->name,
                    p->release, p->arch, o->hypervisor, STREQ(o->hypervisor, "qemu") ? (tcg ? " TCG" : " KVM") : "",
                    o->build_dir);

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
                _cleanup_free_ char *qerr = xasprintf("%s/qemu.stderr", run);
                _cleanup_free_ char *qtext = NULL;
                size_t ql;
                read_file_max(qerr, 1 << 16, &qtext, &ql);
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
        ret->n_served = kiln_proxy_served(proxy, &ret->served);
        r = 0;
out:
        if (g) {
                ops->cleanup(g);
                /* The guest is gone: whatever it wrote past the cap in its last moments is cut too. */
                const char *logs[] = {console, syslog};
                for (size_t i = 0; i < ELEMENTSOF(logs); i++) {
                        struct stat lst;
                        if (stat(logs[i], &lst) == 0 && (uint64_t)lst.st_size > guest_log_max())
                                cut_log(logs[i], guest_log_max());
                }
                _cleanup_free_ char *qerr = xasprintf("%s/qemu.stderr", run);
                _cleanup_free_ char *qdst = xasprintf("%s/hypervisor.stderr", o->build_dir);
                copy_tail(qerr, qdst);
                kiln_guest_free(g);
        }
        if (proxy)
                kiln_proxy_stop(proxy);
        kiln_snapshot_clear(&snapshot);
        kiln_proxy_policy_clear(&pol);
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
