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
        const char *hypervisor; /* a backend's name (hv.h) */
        unsigned timeout_sec;   /* 0: 3 h under TCG, 1 h under KVM */
        unsigned watchdog_sec;  /* 0: 10 min under TCG, 5 under KVM */
        const char *self;       /* kiln's own path */
        const char *bridge;     /* the host-only bridge, for a backend that uses one (NULL: its default) */
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

/* The installer's kernel command line for this run: what depends on the run, never the preseed.
 * disk_device and net_args come from the backend (ops, net plan). */
char *kiln_install_cmdline(const struct kiln_profile *p, const char *proxy_url, const char *disk_device,
                           const char *net_args);

/* Make the build folder, or reuse it only when it is a real folder of kiln's own user that no
 * other user can write to (never a symlink). */
int kiln_build_dir_prepare(const char *path, struct kiln_error **reterr);
