/* The install stage: the real debian-installer in an isolated guest, followed live, with nothing
 * left behind but the disk (on success) and the build folder's logs. */
#pragma once

#include <signal.h>

#include "install-log.h"
#include "media.h"
#include "profile.h"
#include "proxy.h"

struct kiln_install_opts {
        const struct kiln_profile *profile;
        const char *preseed;
        const struct kiln_media *media;
        struct kiln_cache *cache;
        const char *output;     /* the installed disk: .qcow2, or .raw/.img */
        const char *build_dir;  /* logs; created; kept after success and failure */
        const char *accel;      /* auto, kvm or tcg */
        const char *hypervisor; /* qemu or xen */
        unsigned timeout_sec;   /* 0: 3 h under TCG, 1 h under KVM */
        unsigned watchdog_sec;  /* 0: 10 min under TCG, 5 under KVM */
        const char *self;       /* kiln's own path, for QEMU's guestfwd helper */
        const char *xen_bridge; /* Xen: the host-only bridge (default kilnbr0) */
        kiln_install_event_fn event;
        void *userdata;
        void (*notice)(void *userdata, const char *msg);
        volatile sig_atomic_t *interrupted; /* set by a signal handler: stop now */
};

struct kiln_install_result {
        double seconds;
        char *accel;                      /* what ran: kvm or tcg */
        struct kiln_proxy_served *served; /* what the proxy served, for the manifest */
        size_t n_served;
};
void kiln_install_result_clear(struct kiln_install_result *r);

int kiln_install_run(const struct kiln_install_opts *o, struct kiln_install_result *ret, struct kiln_error **reterr);

/* Xen's network plan: the bridge's own IPv4 address (where the proxy listens), its netmask, and
 * the guest's static address (the bridge's plus one). */
struct kiln_xen_net {
        char bridge_ip[16], netmask[16], guest_ip[16];
};
int kiln_xen_net_plan(const char *bridge, struct kiln_xen_net *ret, struct kiln_error **reterr);

/* The installer's kernel command line for this run: what depends on the run, never the preseed.
 * xen is NULL for QEMU. */
char *kiln_install_cmdline(const struct kiln_profile *p, const char *proxy_url, const struct kiln_xen_net *xen);

/* "auto" probes KVM for real; returns "kvm" or "tcg", or fails for a forced kvm that cannot work.
 * With a cache, the verdict is kept per kernel file and QEMU binary, so one probe serves a batch. */
int kiln_install_accel(const char *want, const char *kernel, const struct kiln_cache *cache,
                       void (*notice)(void *, const char *), void *userdata, char **ret, struct kiln_error **reterr);

/* Make the build folder, or reuse it only when it is a real folder of kiln's own user that no
 * other user can write to (never a symlink). */
int kiln_build_dir_prepare(const char *path, struct kiln_error **reterr);

/* False for a path QEMU would split into options (it holds a comma). */
bool kiln_qemu_path_ok(const char *path);
