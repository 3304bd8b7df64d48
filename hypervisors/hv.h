/* The hypervisor interface: each backend (qemu.c, xen.c) exports one const struct kiln_hv_ops and
 * owns what is its own: private data, the files it keeps in the run folder, its network plan and its
 * accelerator. The install stage and the boot test see only this header. */
#pragma once

#include <stdint.h>
#include <sys/types.h>

#include "error.h"

struct kiln_cache;
struct kiln_sandbox;

#define KILN_GUEST_PROXY_PORT 3128

struct kiln_guest_config {
        const char *name;
        const char *kernel, *initrd, *cmdline; /* NULL kernel: boot the disk */
        const char *disk, *disk_format;        /* "qcow2" or "raw" */
        /* Not NULL: the disk is this descriptor, open read-only, handed over with -add-fd (QEMU opens
         * no path for it, so the sandbox user needs no access to the image or its folders). disk
         * is then only its name, for messages. With snapshot: boot tests. */
        const int *disk_ro_fd;
        bool snapshot; /* discard writes (boot tests) */
        uint64_t memory;
        unsigned cpus;
        const char *accel;                  /* what the backend's accel() decided */
        const char *console_log;            /* the first serial port's output */
        const char *syslog_log;             /* the second serial port's output, or NULL for none */
        const char *run_dir;                /* private folder for sockets and generated config */
        const struct kiln_sandbox *sandbox; /* who the hypervisor runs as (NULL: as kiln) */
        char *const *envp;                  /* the hypervisor's environment (NULL: kiln's) */
        /* Open files the paths above may name as /dev/fd/N: the hypervisor gets them open, so it
         * needs no access to the folders they are in (the sandbox user has none). */
        const int *fds;
        size_t n_fds;
};

/* A backend's network plan for an install: where kiln's proxy listens, how the guest reaches it, and
 * what the installer's command line needs to get there. No plan (the boot test): no network. */
struct kiln_hv_net {
        char *proxy_listen; /* for kiln_proxy_start: an IPv4 address, "@name" or "fd:N" (a socket the backend keeps) */
        bool proxy_admit_sandbox;  /* the listener is a unix socket: admit the hypervisor's user alone */
        char *guest_proxy_host;    /* the proxy's address as the guest sees it */
        uint16_t guest_proxy_port; /* and its port; 0: the port the proxy bound */
        char *installer_args;      /* for the installer's kernel command line ("" for none) */
};
void kiln_hv_net_clear(struct kiln_hv_net *n);

struct kiln_guest {
        const struct kiln_hv_ops *ops;
        struct kiln_guest_config cfg;
        pid_t pid;         /* the hypervisor process (qemu, or xl's console) */
        char **argv;       /* what prepare built, if the backend runs one command line */
        char *stderr_path; /* where the hypervisor's stderr goes (in run_dir), if it keeps it */
        int exit_status;   /* the process's wait status, once it is gone */
        bool exited;
        void *data; /* the backend's own, ops->data_size bytes, zeroed */
};

struct kiln_hv_accel_req {
        const char *want;               /* auto, kvm or tcg, as the user gave it */
        const char *kernel;             /* a kernel a probe may boot */
        const struct kiln_cache *cache; /* keeps a probe's verdict (NULL: none) */
        void (*notice)(void *userdata, const char *msg);
        void *userdata;
};

struct kiln_hv_ops {
        const char *name;
        size_t data_size;        /* of the backend's private struct, at g->data */
        bool sandboxed;          /* runs as the sandbox user and takes its files open as /dev/fd/N */
        const char *disk_device; /* the guest's name for the disk ("/dev/vda") */
        /* What accelerates the guest; fails for one that was asked for and cannot work. */
        int (*accel)(const struct kiln_hv_accel_req *req, char **ret, struct kiln_error **reterr);
        /* The install's network; bridge is the host-only bridge the user named, or NULL. */
        int (*net_plan)(struct kiln_guest *g, const char *bridge, struct kiln_hv_net *ret, struct kiln_error **reterr);
        /* Build the command line / config; nothing runs yet. */
        int (*prepare)(struct kiln_guest *g, struct kiln_error **reterr);
        int (*start)(struct kiln_guest *g, struct kiln_error **reterr);
        /* Wait up to timeout_ms for the guest to go away; *ret_gone says whether it did. */
        int (*wait)(struct kiln_guest *g, unsigned timeout_ms, bool *ret_gone, struct kiln_error **reterr);
        /* Ask for a clean power-off, then force it after grace_sec. Always leaves nothing running. */
        void (*stop)(struct kiln_guest *g, unsigned grace_sec);
        /* Stop what still runs, remove the backend's run-folder files (not stderr_path) and free
         * what its private data holds. Safe to call at any point after kiln_guest_new, and twice. */
        void (*cleanup)(struct kiln_guest *g);
};

extern const struct kiln_hv_ops kiln_hv_qemu;
extern const struct kiln_hv_ops kiln_hv_xen;

const struct kiln_hv_ops *kiln_hv_find(const char *name);
struct kiln_guest *kiln_guest_new(const struct kiln_hv_ops *ops);
/* Frees what kiln_guest_new made; call ops->cleanup first. */
void kiln_guest_free(struct kiln_guest *g);
