/* Least privilege for the helpers that touch what a guest writes (QEMU, qemu-img on the install
 * disk): they run as an unprivileged user, with no capabilities and NoNewPrivs, under a seccomp
 * filter (kiln's, and QEMU's own -sandbox). */
#pragma once

#include <stdbool.h>
#include <sys/types.h>

#include "error.h"

struct kiln_sandbox {
        bool drop; /* kiln runs as root: children become uid/gid */
        uid_t uid;
        gid_t gid;
        gid_t groups[1]; /* kvm, when /dev/kvm is there */
        size_t n_groups;
        char *user;        /* "kiln", or "uid 2147418390" for a per-build one */
        void *bpf;         /* the helpers' seccomp filter, compiled before any fork */
        size_t bpf_len;    /* in struct sock_filter units */
        void *bpf_threads; /* kiln_sandbox_threads_only's, stacked on it; or NULL */
        size_t bpf_threads_len;
};

/* As root: the system user 'kiln' when there is one (make install creates it), else a uid of its
 * own for this build, from a range no account uses (KILN_SANDBOX_UID_BASE + the pid). As another
 * user: no change of user, NoNewPrivs only. */
int kiln_sandbox_init(struct kiln_sandbox *sb, struct kiln_error **reterr);
/* As root: a uid of this build's alone, never the 'kiln' user's and not this build's other
 * helpers' either, for a helper that must not reach them (the install's proxy: a process of the
 * same uid could write into their memory through /proc/PID/mem). No supplementary group. */
int kiln_sandbox_init_own(struct kiln_sandbox *sb, struct kiln_error **reterr);
void kiln_sandbox_clear(struct kiln_sandbox *sb);
/* For a helper that is a fork of kiln and never executes anything (the install's proxy): its
 * filter also refuses new processes and programs, so code a guest got running in it can leave
 * nothing behind it once kiln kills it. Threads stay (clone with CLONE_THREAD). */
int kiln_sandbox_threads_only(struct kiln_sandbox *sb, struct kiln_error **reterr);
/* The same for ids another kiln process chose (the appliance's QEMU wrapper): never root. */
int kiln_sandbox_from(struct kiln_sandbox *sb, uid_t uid, gid_t gid, const gid_t *groups, size_t n_groups,
                      struct kiln_error **reterr);

/* Is uid one kiln's sandbox may have run as (the 'kiln' user, or a per-build uid)? Files kiln
 * gave such a user stay kiln's to sweep. */
bool kiln_sandbox_uid(uid_t uid);

/* Make a file or folder kiln created the sandbox user's (before a child opens it). */
int kiln_sandbox_give(const struct kiln_sandbox *sb, const char *path, struct kiln_error **reterr);

/* In a forked child, before exec: the user, its groups, NoNewPrivs, and a seccomp filter that
 * refuses what no helper needs (ptrace, mount, module loading, kexec, bpf, keyrings, namespaces,
 * the clock, ...). No allocation: it runs between fork and exec. Returns -errno. */
int kiln_sandbox_enter(const struct kiln_sandbox *sb);

#define KILN_SANDBOX_UID_BASE 2147418112u /* 0x7fff0000: above any account's uid */
