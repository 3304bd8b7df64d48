/* The hypervisor interface: each backend (qemu.c, xen.c) exports one const struct kiln_hv_ops. */
#pragma once

#include <stdint.h>
#include <sys/types.h>

#include "error.h"

/* Inside the guest the proxy is at this address. QEMU: user networking's host address, which
 * leads to the loopback of QEMU's own network namespace, where the proxy's socket is the only
 * one listening. Xen: the bridge's address. */
#define KILN_QEMU_PROXY_ADDR  "10.0.2.2"
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
        const char *accel;       /* "kvm" or "tcg": already decided */
        const char *console_log; /* the first serial port's output */
        const char *syslog_log;  /* the second serial port's output, or NULL for none */
        const char *run_dir;     /* private folder for sockets and generated config */
        uint16_t proxy_port;     /* the host proxy on 127.0.0.1 (Xen: on the bridge) */
        bool proxy_netns; /* QEMU: the proxy on 127.0.0.1 of QEMU's own network namespace (neither: no network) */
        const struct kiln_sandbox *sandbox; /* who the hypervisor runs as (NULL: as kiln) */
        char *const *envp;                  /* the hypervisor's environment (NULL: kiln's) */
        /* Open files the paths above may name as /dev/fd/N: the hypervisor gets them open, so it
         * needs no access to the folders they are in (the sandbox user has none). */
        const int *fds;
        size_t n_fds;
        /* Xen: the host-only bridge, the guest's static address, the proxy on the bridge. */
        const char *xen_bridge, *xen_guest_ip, *xen_proxy_ip;
};

struct kiln_guest {
        const struct kiln_hv_ops *ops;
        struct kiln_guest_config cfg;
        pid_t pid;       /* the hypervisor process (qemu, or xl's console) */
        char **argv;     /* what prepare built */
        char *config;    /* Xen: the generated xl config text */
        char *domain;    /* Xen: the domain name */
        int exit_status; /* the process's wait status, once it is gone */
        int qmp_fd;      /* QEMU: the QMP socket kiln listens on for it (-1: none) */
        int proxy_fd;    /* QEMU, after start: the socket listening in its namespace, for the proxy (-1: none) */
        bool exited;
};

struct kiln_hv_ops {
        const char *name;
        /* Build the command line / config; nothing runs yet. */
        int (*prepare)(struct kiln_guest *g, struct kiln_error **reterr);
        int (*start)(struct kiln_guest *g, struct kiln_error **reterr);
        /* Wait up to timeout_ms for the guest to go away; *ret_gone says whether it did. */
        int (*wait)(struct kiln_guest *g, unsigned timeout_ms, bool *ret_gone, struct kiln_error **reterr);
        /* Ask for a clean power-off, then force it after grace_sec. Always leaves nothing running. */
        void (*stop)(struct kiln_guest *g, unsigned grace_sec);
        void (*cleanup)(struct kiln_guest *g);
};

extern const struct kiln_hv_ops kiln_hv_qemu;
extern const struct kiln_hv_ops kiln_hv_xen;

const struct kiln_hv_ops *kiln_hv_find(const char *name);
void kiln_guest_free(struct kiln_guest *g);

/* KVM, proved by booting kernel to a marker within timeout_sec; opening /dev/kvm proves nothing.
 * 0: usable; negative: not, with *ret_why saying why in one line. */
int kiln_qemu_probe_kvm(const char *kernel, unsigned timeout_sec, char **ret_why);

/* Xen: the xl config text for a guest (also used by tests against libxlutil). */
char *kiln_xen_config(const struct kiln_guest_config *cfg);
