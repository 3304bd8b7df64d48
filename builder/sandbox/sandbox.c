/* See sandbox.h. Like libvirt's qemu.conf user/group, with a per-build uid where no system
 * user exists, so two builds' QEMUs cannot signal or ptrace each other. */
#include "sandbox.h"

#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <sched.h>
#include <seccomp.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <unistd.h>

/* What no helper of kiln's needs, refused with EPERM; other architectures' calls kill. With
 * threads_only, a second filter, stacked on the first: no process and no program. */
static int compile_filter(struct kiln_sandbox *sb, bool threads_only, struct kiln_error **reterr)
{
        static const int denied[] = {
                SCMP_SYS(ptrace),
                SCMP_SYS(process_vm_readv),
                SCMP_SYS(process_vm_writev),
                SCMP_SYS(mount),
                SCMP_SYS(umount2),
                SCMP_SYS(pivot_root),
                SCMP_SYS(chroot),
                SCMP_SYS(swapon),
                SCMP_SYS(swapoff),
                SCMP_SYS(reboot),
                SCMP_SYS(kexec_load),
                SCMP_SYS(kexec_file_load),
                SCMP_SYS(init_module),
                SCMP_SYS(finit_module),
                SCMP_SYS(delete_module),
                SCMP_SYS(bpf),
                SCMP_SYS(perf_event_open),
                SCMP_SYS(keyctl),
                SCMP_SYS(add_key),
                SCMP_SYS(request_key),
                SCMP_SYS(setns),
                SCMP_SYS(unshare),
                SCMP_SYS(acct),
                SCMP_SYS(settimeofday),
                SCMP_SYS(clock_settime),
                SCMP_SYS(clock_adjtime),
                SCMP_SYS(adjtimex),
                SCMP_SYS(iopl),
                SCMP_SYS(ioperm),
                SCMP_SYS(open_by_handle_at),
                SCMP_SYS(name_to_handle_at),
                SCMP_SYS(quotactl),
                SCMP_SYS(syslog),
                SCMP_SYS(vhangup),
                SCMP_SYS(fanotify_init),
                SCMP_SYS(lookup_dcookie),
                SCMP_SYS(mknod),
                SCMP_SYS(mknodat),
                SCMP_SYS(personality),
                /* Leaving the process group kiln stops a helper's descendants by (the proxy's). */
                SCMP_SYS(setsid),
                SCMP_SYS(setpgid),
        };
        scmp_filter_ctx ctx = seccomp_init(SCMP_ACT_ALLOW);
        if (!ctx)
                return kiln_error_set(reterr, ENOMEM, "cannot make a seccomp filter");
        int r = 0;
        for (size_t i = 0; i < ELEMENTSOF(denied) && r == 0 && !threads_only; i++)
                r = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EPERM), denied[i], 0);
        if (threads_only) {
                /* No program and no process; a thread is clone with CLONE_THREAD. clone3's flags
                 * are in memory a filter cannot read: ENOSYS, and glibc makes its threads with
                 * clone instead. */
                static const int no_process[] = {SCMP_SYS(execve), SCMP_SYS(execveat), SCMP_SYS(fork), SCMP_SYS(vfork)};
                for (size_t i = 0; i < ELEMENTSOF(no_process) && r == 0; i++)
                        r = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EPERM), no_process[i], 0);
                if (r == 0)
                        r = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EPERM), SCMP_SYS(clone), 1,
                                             SCMP_A0(SCMP_CMP_MASKED_EQ, CLONE_THREAD, 0));
                if (r == 0)
                        r = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(ENOSYS), SCMP_SYS(clone3), 0);
        }
        /* The compiled program, read back from a memfd: the child only hands it to the kernel. */
        int mfd = r == 0 ? memfd_create("kiln-seccomp", MFD_CLOEXEC) : -1;
        if (mfd >= 0)
                r = seccomp_export_bpf(ctx, mfd);
        seccomp_release(ctx);
        struct stat st;
        if (r < 0 || mfd < 0 || fstat(mfd, &st) < 0 || st.st_size <= 0 || st.st_size % 8) {
                if (mfd >= 0)
                        close(mfd);
                return kiln_error_set(reterr, EIO, "cannot compile the helpers' seccomp filter");
        }
        void **bpf = threads_only ? &sb->bpf_threads : &sb->bpf;
        *bpf = xmalloc((size_t)st.st_size);
        *(threads_only ? &sb->bpf_threads_len : &sb->bpf_len) = (size_t)st.st_size / 8;
        ssize_t n = pread(mfd, *bpf, (size_t)st.st_size, 0);
        close(mfd);
        if (n != st.st_size)
                return kiln_error_set(reterr, EIO, "cannot read the helpers' seccomp filter back");
        return 0;
}

int kiln_sandbox_init(struct kiln_sandbox *sb, struct kiln_error **reterr)
{
        *sb = (struct kiln_sandbox){0};
        if (geteuid() != 0)
                return compile_filter(sb, false, reterr);
        sb->drop = true;
        const struct passwd *pw = getpwnam("kiln");
        if (pw && pw->pw_uid != 0) {
                sb->uid = pw->pw_uid;
                sb->gid = pw->pw_gid;
                sb->user = xstrdup("kiln");
        } else {
                sb->uid = sb->gid = KILN_SANDBOX_UID_BASE + ((unsigned)getpid() & 0xffff);
                sb->user = xasprintf("uid %u", (unsigned)sb->uid);
        }
        const struct group *kvm = getgrnam("kvm");
        if (kvm && access("/dev/kvm", F_OK) == 0)
                sb->groups[sb->n_groups++] = kvm->gr_gid;
        return compile_filter(sb, false, reterr);
}

int kiln_sandbox_init_own(struct kiln_sandbox *sb, struct kiln_error **reterr)
{
        *sb = (struct kiln_sandbox){0};
        if (geteuid() == 0) {
                sb->drop = true;
                /* Half the range away from this build's own per-build uid (kiln_sandbox_init). */
                sb->uid = sb->gid = KILN_SANDBOX_UID_BASE + (((unsigned)getpid() + 0x8000u) & 0xffff);
                sb->user = xasprintf("uid %u", (unsigned)sb->uid);
        }
        return compile_filter(sb, false, reterr);
}

int kiln_sandbox_from(struct kiln_sandbox *sb, uid_t uid, gid_t gid, const gid_t *groups, size_t n_groups,
                      struct kiln_error **reterr)
{
        *sb = (struct kiln_sandbox){0};
        if (geteuid() == 0) {
                if (uid == 0 || gid == 0 || n_groups > ELEMENTSOF(sb->groups))
                        return kiln_error_set(reterr, EINVAL, "the sandbox user may not be root");
                sb->drop = true;
                sb->uid = uid;
                sb->gid = gid;
                for (size_t i = 0; i < n_groups; i++)
                        sb->groups[sb->n_groups++] = groups[i];
                sb->user = xasprintf("uid %u", (unsigned)uid);
        }
        return compile_filter(sb, false, reterr);
}

bool kiln_sandbox_uid(uid_t uid)
{
        if (uid >= KILN_SANDBOX_UID_BASE && uid <= KILN_SANDBOX_UID_BASE + 0xffffu)
                return true;
        const struct passwd *pw = getpwnam("kiln");
        return pw && pw->pw_uid != 0 && pw->pw_uid == uid;
}

int kiln_sandbox_threads_only(struct kiln_sandbox *sb, struct kiln_error **reterr)
{
        free(sb->bpf_threads);
        sb->bpf_threads = NULL;
        return compile_filter(sb, true, reterr);
}

void kiln_sandbox_clear(struct kiln_sandbox *sb)
{
        free(sb->user);
        free(sb->bpf);
        free(sb->bpf_threads);
        *sb = (struct kiln_sandbox){0};
}

int kiln_sandbox_give(const struct kiln_sandbox *sb, const char *path, struct kiln_error **reterr)
{
        if (!sb || !sb->drop)
                return 0;
        if (lchown(path, sb->uid, sb->gid) < 0)
                return kiln_error_set(reterr, errno, "cannot give '%s' to the sandbox user (%s): %s", path, sb->user,
                                      strerror(errno));
        return 0;
}

int kiln_sandbox_enter(const struct kiln_sandbox *sb)
{
        if (sb && sb->drop) {
                /* Groups first, then the gid, then the uid: after it, no way back. Leaving uid 0 for
                 * a uid that is not 0 clears every capability (no PR_SET_KEEPCAPS here). */
                if (setgroups(sb->n_groups, sb->groups) < 0 || setresgid(sb->gid, sb->gid, sb->gid) < 0 ||
                    setresuid(sb->uid, sb->uid, sb->uid) < 0)
                        return -errno;
                if (geteuid() == 0 || getegid() == 0)
                        return -EPERM;
        }
        if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
                return -errno;
        if (sb && sb->bpf) {
                struct sock_fprog prog = {.len = (unsigned short)sb->bpf_len, .filter = sb->bpf};
                if (prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog, 0, 0) < 0)
                        return -errno;
        }
        if (sb && sb->bpf_threads) {
                struct sock_fprog prog = {.len = (unsigned short)sb->bpf_threads_len, .filter = sb->bpf_threads};
                if (prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog, 0, 0) < 0)
                        return -errno;
        }
        return 0;
}
