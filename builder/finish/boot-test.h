/* Boot-testing an image: boot it read-only (snapshot), no network, and wait for a login prompt on
 * the serial console. */
#pragma once

#include <signal.h>
#include <stdint.h>

#include "cache.h"
#include "error.h"

struct kiln_boot_test_opts {
        const char *image;
        const char *format;             /* raw, qcow2 (kiln_image_check), or kiln's own vmdk, vhdx */
        const char *console_log;        /* where the serial console goes (kept) */
        const char *accel;              /* auto, kvm or tcg */
        const char *kernel;             /* for the KVM probe under auto; NULL: no probe, TCG */
        const struct kiln_cache *cache; /* keeps the probe's verdict; may be NULL */
        uint64_t memory;
        unsigned timeout_sec; /* 0: 10 minutes under TCG, 3 under KVM */
        void (*notice)(void *userdata, const char *msg);
        void *userdata;
        volatile sig_atomic_t *interrupted;
};

/* 0 when the console showed "login:" in time; otherwise an error saying what happened, with the
 * console's last lines. */
int kiln_boot_test(const struct kiln_boot_test_opts *o, double *ret_seconds, struct kiln_error **reterr);
