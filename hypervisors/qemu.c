/* The QEMU backend: direct kernel boot, no default devices, the serial ports to files, a QMP
 * socket for power-off, and user networking in a network namespace of QEMU's own whose only
 * listening socket is kiln's proxy. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>

#include "cache.h"
#include "command.h"
#include "hash.h"
#include "qemu.h"
#include "sandbox.h"

/* Inside the guest the proxy is at this address: user networking's host address, which leads
 * to the loopback of QEMU's own network namespace, where only the proxy's socket listens. */
#define QEMU_PROXY_ADDR "10.0.2.2"

/* What the QEMU backend keeps per guest (g->data). */
struct qemu_data {
        int qmp_fd;           /* the QMP socket kiln listens on for QEMU */
        bool listening;       /* qmp_fd is open */
        bool net;             /* the net plan made ns: the guest gets a network device */
        struct kiln_netns ns; /* QEMU's own network namespace, and the proxy's socket in it */
};

static const char *qemu_binary(void)
{
        const char *e = getenv("KILN_QEMU");
        return e && *e ? e : "qemu-system-x86_64";
}

bool kiln_qemu_path_ok(const char *path)
{
        return !strchr(path, ',');
}

static void push(char ***argv, const char *fmt, ...) _printf_(2, 3);
static void push(char ***argv, const char *fmt, ...)
{
        va_list ap;
        va_start(ap, fmt);
        *argv = strv_push(*argv, xvasprintf(fmt, ap));
        va_end(ap);
}

static int qemu_prepare(struct kiln_guest *g, struct kiln_error **reterr)
{
        const struct kiln_guest_config *c = &g->cfg;
        struct qemu_data *q = g->data;
        char **a = NULL;
        push(&a, "%s", qemu_binary());
        push(&a, "-name");
        push(&a, "kiln-%s", c->name);
        push(&a, "-nodefaults");
        push(&a, "-no-user-config");
        push(&a, "-display");
        push(&a, "none");
        push(&a, "-no-reboot");
        /* QEMU's seccomp, everything denied: it needs to spawn nothing (no guestfwd helper: the
         * guest reaches the proxy through QEMU's own network namespace) and to raise nothing. */
        push(&a, "-sandbox");
        push(&a, "on,obsolete=deny,elevateprivileges=deny,spawn=deny,resourcecontrol=deny");
        push(&a, "-machine");
        push(&a, "q35,accel=%s", c->accel);
        push(&a, "-cpu");
        push(&a, "%s", STREQ(c->accel, "kvm") ? "host" : "max");
        push(&a, "-m");
        push(&a, "%" PRIu64 "M", c->memory >> 20);
        push(&a, "-smp");
        push(&a, "%u", c->cpus);
        if (c->kernel) {
                push(&a, "-kernel");
                push(&a, "%s", c->kernel);
                push(&a, "-initrd");
                push(&a, "%s", c->initrd);
                push(&a, "-append");
                push(&a, "%s", c->cmdline ? c->cmdline : "");
        }
        if (c->disk && c->disk_ro_fd) {
                /* QEMU's fd set: it dups the descriptor instead of opening a path. */
                push(&a, "-add-fd");
                push(&a, "fd=%d,set=1,opaque=disk", *c->disk_ro_fd);
                push(&a, "-drive");
                push(&a, "file=/dev/fdset/1,if=virtio,format=%s,cache=unsafe,read-only=on,snapshot=on", c->disk_format);
        } else if (c->disk) {
                push(&a, "-drive");
                push(&a, "file=%s,if=virtio,format=%s,cache=unsafe,discard=unmap%s", c->disk, c->disk_format,
                     c->snapshot ? ",snapshot=on" : "");
        }
        if (q->net) {
                /* QEMU runs in the namespace the net plan made: only loopback is up there and only
                 * the proxy's socket listens, so the guest's 10.0.2.2:3128 is the proxy and there is
                 * nothing else to reach. No DNS, no IPv6. */
                push(&a, "-netdev");
                push(&a, "user,id=n0,ipv6=off,net=10.0.2.0/24,host=%s", QEMU_PROXY_ADDR);
                push(&a, "-device");
                push(&a, "virtio-net-pci,netdev=n0");
        }
        push(&a, "-chardev");
        push(&a, "file,id=console,path=%s", c->console_log);
        push(&a, "-serial");
        push(&a, "chardev:console");
        if (c->syslog_log) {
                push(&a, "-chardev");
                push(&a, "file,id=syslog,path=%s", c->syslog_log);
                push(&a, "-serial");
                push(&a, "chardev:syslog");
        }
        /* The QMP socket is kiln's, bound in the run folder (which QEMU cannot reach) and handed to
         * QEMU listening. */
        _cleanup_free_ char *qmp_path = xasprintf("%s/qmp.sock", c->run_dir);
        struct sockaddr_un sa = {.sun_family = AF_UNIX};
        if (strlen(qmp_path) >= sizeof(sa.sun_path)) {
                strv_free(a);
                return kiln_error_set(reterr, ENAMETOOLONG, "'%s' is too long for a socket", qmp_path);
        }
        strcpy(sa.sun_path, qmp_path);
        q->qmp_fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        q->listening = q->qmp_fd >= 0;
        if (q->qmp_fd < 0 || bind(q->qmp_fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 || listen(q->qmp_fd, 4) < 0) {
                int e = errno;
                strv_free(a);
                return kiln_error_set(reterr, e, "cannot listen on '%s': %s", qmp_path, strerror(e));
        }
        push(&a, "-chardev");
        push(&a, "socket,id=qmp,fd=%d,server=on,wait=off", q->qmp_fd);
        push(&a, "-mon");
        push(&a, "chardev=qmp,mode=control");
        push(&a, "-device");
        push(&a, "virtio-rng-pci");
        /* QEMU splits -drive, -chardev and -qmp values at commas: a comma in a path would add options
         * (an output name once made QEMU open another file read-write as the disk). Never pass one. */
        const char *paths[] = {c->disk_ro_fd ? NULL : c->disk, c->console_log, c->syslog_log, c->run_dir};
        for (size_t i = 0; i < ELEMENTSOF(paths); i++)
                if (paths[i] && strchr(paths[i], ',')) {
                        strv_free(a);
                        return kiln_error_set(reterr, EINVAL,
                                              "'%s' contains a comma, which QEMU would read as more options; "
                                              "choose a path without one",
                                              paths[i]);
                }
        g->argv = a;
        free(g->stderr_path);
        g->stderr_path = xasprintf("%s/qemu.stderr", c->run_dir);
        return 0;
}

static int qemu_start(struct kiln_guest *g, struct kiln_error **reterr)
{
        struct qemu_data *q = g->data;
        _cleanup_close_ int err_fd = open(g->stderr_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
        int fds[16];
        size_t n = 0;
        for (size_t i = 0; i < g->cfg.n_fds && n < ELEMENTSOF(fds) - 2; i++)
                fds[n++] = g->cfg.fds[i];
        if (q->listening)
                fds[n++] = q->qmp_fd;
        if (g->cfg.disk_ro_fd)
                fds[n++] = *g->cfg.disk_ro_fd;
        struct kiln_command_opts o = {.stdin_fd = -1,
                                      .stdout_fd = -1,
                                      .stderr_fd = err_fd,
                                      .sandbox = g->cfg.sandbox,
                                      .envp = g->cfg.envp,
                                      .pass_fds = fds,
                                      .n_pass_fds = n,
                                      .netns = q->net ? &q->ns : NULL};
        return kiln_command_spawn(g->argv, &o, &g->pid, reterr);
}

static int qemu_wait(struct kiln_guest *g, unsigned timeout_ms, bool *ret_gone, struct kiln_error **reterr)
{
        for (unsigned waited = 0;; waited += 50) {
                int status;
                pid_t r = waitpid(g->pid, &status, WNOHANG);
                if (r == g->pid) {
                        g->exited = true;
                        g->exit_status = status;
                        g->pid = 0;
                        *ret_gone = true;
                        return 0;
                }
                if (r < 0 && errno != EINTR)
                        return kiln_error_set(reterr, errno, "waitpid: %s", strerror(errno));
                if (waited >= timeout_ms) {
                        *ret_gone = false;
                        return 0;
                }
                struct timespec ts = {0, 50 * 1000 * 1000};
                nanosleep(&ts, NULL);
        }
}

/* One QMP command on a fresh connection: the greeting, qmp_capabilities, then cmd. */
static int qmp(const char *run_dir, const char *cmd)
{
        _cleanup_free_ char *path = xasprintf("%s/qmp.sock", run_dir);
        struct sockaddr_un sa = {.sun_family = AF_UNIX};
        if (strlen(path) >= sizeof(sa.sun_path))
                return -ENAMETOOLONG;
        strcpy(sa.sun_path, path);
        _cleanup_close_ int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0)
                return -errno;
        _cleanup_free_ char *msg = xasprintf("{\"execute\":\"qmp_capabilities\"}\n{\"execute\":\"%s\"}\n", cmd);
        if (write(fd, msg, strlen(msg)) < 0)
                return -errno;
        char buf[4096];
        struct pollfd pfd = {.fd = fd, .events = POLLIN};
        while (poll(&pfd, 1, 2000) > 0 && read(fd, buf, sizeof(buf)) > 0)
                ;
        return 0;
}

static void qemu_stop(struct kiln_guest *g, unsigned grace_sec)
{
        if (!g->pid)
                return;
        /* The guest's ACPI power button first, then QEMU's own quit, then signals. */
        qmp(g->cfg.run_dir, "system_powerdown");
        bool gone = false;
        qemu_wait(g, grace_sec * 1000, &gone, NULL);
        if (!gone) {
                qmp(g->cfg.run_dir, "quit");
                qemu_wait(g, 3000, &gone, NULL);
        }
        if (!gone) {
                g->exit_status = kiln_command_stop(g->pid, 5);
                g->exited = true;
                g->pid = 0;
        }
}

static void qemu_cleanup(struct kiln_guest *g)
{
        struct qemu_data *q = g->data;
        if (g->pid)
                qemu_stop(g, 0);
        if (q->listening)
                close(q->qmp_fd);
        q->listening = false;
        if (g->cfg.run_dir) {
                _cleanup_free_ char *qmp_path = xasprintf("%s/qmp.sock", g->cfg.run_dir);
                unlink(qmp_path);
        }
        if (q->net)
                kiln_netns_clear(&q->ns);
        q->net = false;
}

/* The install's network: a network namespace for QEMU with loopback alone, and the proxy's
 * socket listening in it (the proxy serves it from kiln's namespace; no relay, no socket that
 * other local users could reach). */
static int qemu_net_plan(struct kiln_guest *g, const char *bridge, struct kiln_hv_net *ret, struct kiln_error **reterr)
{
        struct qemu_data *q = g->data;
        if (q->net)
                kiln_netns_clear(&q->ns);
        int r = kiln_netns_new(KILN_GUEST_PROXY_PORT, &q->ns, reterr);
        if (r < 0)
                return r;
        q->net = true;
        *ret = (struct kiln_hv_net){.proxy_listen = xasprintf("fd:%d", q->ns.listen_fd),
                                    .guest_proxy_host = xstrdup(QEMU_PROXY_ADDR),
                                    .guest_proxy_port = KILN_GUEST_PROXY_PORT,
                                    .installer_args = xstrdup("")};
        return 0;
}

static int qemu_accel_op(const struct kiln_hv_accel_req *req, char **ret, struct kiln_error **reterr)
{
        /* A forced kvm is always probed afresh: it must fail before the install, clearly. */
        return kiln_qemu_accel(req->want, req->kernel, STREQ(req->want, "auto") ? req->cache : NULL, req->notice,
                               req->userdata, ret, reterr);
}

const struct kiln_hv_ops kiln_hv_qemu = {
        .name = "qemu",
        .data_size = sizeof(struct qemu_data),
        .sandboxed = true,
        .disk_device = "/dev/vda",
        .accel = qemu_accel_op,
        .net_plan = qemu_net_plan,
        .prepare = qemu_prepare,
        .start = qemu_start,
        .wait = qemu_wait,
        .stop = qemu_stop,
        .cleanup = qemu_cleanup,
};

int kiln_qemu_probe_kvm(const char *kernel, unsigned timeout_sec, char **ret_why)
{
        if (access("/dev/kvm", R_OK | W_OK) < 0) {
                *ret_why = xasprintf("/dev/kvm is not usable: %s", strerror(errno));
                return -ENODEV;
        }
        /* The kernel may come from a mirror a profile named: the QEMU that boots it runs as the
         * sandbox user (in the kvm group), under its seccomp filter and QEMU's own, and is handed
         * the kernel as a descriptor (it opens no path of kiln's) and its console on a pipe. */
        struct kiln_sandbox sb = {0};
        struct kiln_error *err = NULL;
        if (kiln_sandbox_init(&sb, &err) < 0) {
                *ret_why = xasprintf("no sandbox for the probe: %s", err->msg);
                kiln_error_free(err);
                kiln_sandbox_clear(&sb);
                return -EPERM;
        }
        _cleanup_close_ int kfd = open(kernel, O_RDONLY | O_CLOEXEC);
        if (kfd < 0) {
                int e = errno;
                *ret_why = xasprintf("cannot open the kernel: %s", strerror(e));
                kiln_sandbox_clear(&sb);
                return -e;
        }
        /* Boot the kernel itself with no initrd: it prints its banner and, at the end of its own
         * boot, "Freeing unused kernel image"; then it panics for want of a root, and -no-reboot
         * with panic=-1 makes QEMU exit. Either marker within the timeout proves KVM runs it. */
        _cleanup_free_ char *kpath = xasprintf("/dev/fd/%d", kfd);
        char *argv[] = {(char *)qemu_binary(),
                        "-nodefaults",
                        "-no-user-config",
                        "-display",
                        "none",
                        "-no-reboot",
                        "-machine",
                        "q35,accel=kvm",
                        "-cpu",
                        "host",
                        "-m",
                        "256M",
                        "-kernel",
                        kpath,
                        "-append",
                        "console=ttyS0 panic=-1 loglevel=6",
                        "-serial",
                        "stdio",
                        "-sandbox",
                        "on,obsolete=deny,elevateprivileges=deny,spawn=deny,resourcecontrol=deny",
                        NULL};
        struct kiln_command_opts o = {.stdin_fd = -1,
                                      .stdout_fd = -2,
                                      .stderr_fd = -2,
                                      .timeout_sec = timeout_sec,
                                      .sandbox = &sb,
                                      .pass_fds = &kfd,
                                      .n_pass_fds = 1};
        _cleanup_free_ char *console = NULL, *errs = NULL;
        int r = kiln_command_run(argv, &o, &console, &errs, &err);
        kiln_sandbox_clear(&sb);
        bool marker = console && (strstr(console, "Freeing unused kernel") || strstr(console, "Kernel panic"));
        const char *base = strrchr(kernel, '/') ? strrchr(kernel, '/') + 1 : kernel;
        if (marker) {
                kiln_error_free(err);
                return 0;
        }
        if (r < 0) {
                if (err->errnum == ETIMEDOUT)
                        *ret_why = xasprintf("KVM did not boot a stock kernel (%s) within %u s", base, timeout_sec);
                else
                        *ret_why = xasprintf("KVM did not boot a stock kernel (%s): %s", base, err->msg);
                kiln_error_free(err);
                return -EIO;
        }
        if (errs && *errs) {
                errs[strcspn(errs, "\n")] = '\0';
                *ret_why = xasprintf("KVM cannot run this kernel: qemu exited %d (%.200s)", r, errs);
        } else {
                *ret_why =
                        xasprintf("KVM cannot run this kernel: qemu exited %d before the kernel finished booting", r);
        }
        return -EIO;
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

int kiln_qemu_accel(const char *want, const char *kernel, const struct kiln_cache *cache,
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
