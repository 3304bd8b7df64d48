/* What the QEMU backend offers beyond its ops table: the accelerator decision, the KVM probe and
 * QEMU's rule for paths. The boot test and the CLI's preflight use them. */
#pragma once

#include "hv.h"

/* "auto" probes KVM for real; returns "kvm" or "tcg", or fails for a forced kvm that cannot work.
 * With a cache, the verdict is kept per kernel file and QEMU binary, so one probe serves a batch. */
int kiln_qemu_accel(const char *want, const char *kernel, const struct kiln_cache *cache,
                    void (*notice)(void *, const char *), void *userdata, char **ret, struct kiln_error **reterr);

/* KVM, proved by booting kernel to a marker within timeout_sec; opening /dev/kvm proves nothing.
 * 0: usable; negative: not, with *ret_why saying why in one line. */
int kiln_qemu_probe_kvm(const char *kernel, unsigned timeout_sec, char **ret_why);

/* False for a path QEMU would split into options (it holds a comma). */
bool kiln_qemu_path_ok(const char *path);
